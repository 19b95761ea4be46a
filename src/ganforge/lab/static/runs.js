// ganforge lab: the runs page (read-only). Talks to GET /api/runs, /api/runs/{name},
// /api/compare?runs=a,b and /runs/{name}/files/{path}; see docs/lab.md.
// State is exposed as window.runsState (read by the browser tests).
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const {LineChart, PALETTE, formatNumber} = window.ganforgeCharts;

  const state = {
    root: null,
    runs: [],
    current: null, // name of the open run
    detail: null, // its GET /api/runs/{name} answer
    selected: [], // names ticked for comparison (in click order)
    details: {}, // name -> detail (cache for overlaid curves)
    compare: null, // the last /api/compare answer
    error: null,
  };
  window.runsState = state;

  // ---------------------------------------------------------------- helpers
  const {show: showError, clear: clearError} = window.ganforgeCharts.errorBanner(state);
  // Run names may hold one "/" (runs two levels deep): encode each segment.
  function encPath(p) {
    return String(p).split("/").map(encodeURIComponent).join("/");
  }
  async function getJson(url) {
    let res;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(`could not reach the lab server (${e.message}); is \`ganforge lab\` running?`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      /* not JSON */
    }
    if (!res.ok) {
      const err = new Error(
        body && body.error ? body.error : `the server answered ${res.status} for ${url}`
      );
      err.status = res.status;
      throw err;
    }
    return body;
  }
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children || []) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    return e;
  }
  function fmtValue(v) {
    if (typeof v === "number") return formatNumber(v);
    if (v === null || v === undefined) return "–";
    return String(v);
  }
  function fmtDate(s) {
    if (!s) return "–";
    const d = new Date(typeof s === "number" ? s * 1000 : s);
    if (Number.isNaN(d.getTime())) return String(s);
    return d.toLocaleString(undefined, {dateStyle: "short", timeStyle: "short"});
  }

  // A readable YAML-like rendering of a JSON value.
  function toYaml(v, indent) {
    indent = indent || "";
    const scalar = (x) => {
      if (x === null || x === undefined) return "null";
      if (typeof x === "string") return /^[\w.\-/+]*$/.test(x) && x !== "" ? x : JSON.stringify(x);
      return String(x);
    };
    const isScalar = (x) => x === null || typeof x !== "object";
    if (isScalar(v)) return scalar(v);
    if (Array.isArray(v)) {
      if (!v.length) return "[]";
      if (v.every(isScalar)) return `[${v.map(scalar).join(", ")}]`;
      return v.map((x) => `\n${indent}- ${toYaml(x, indent + "  ").replace(/^\n\s*/, "")}`).join("");
    }
    const keys = Object.keys(v);
    if (!keys.length) return "{}";
    return keys
      .map((k) => {
        const x = v[k];
        const inner = toYaml(x, indent + "  ");
        const nested = !isScalar(x) && inner.startsWith("\n");
        return `\n${indent}${k}:${nested ? "" : " "}${inner}`;
      })
      .join("");
  }

  // ---------------------------------------------------------------- the list
  async function loadRuns() {
    let body;
    try {
      body = await getJson("/api/runs");
    } catch (e) {
      showError(`Could not list the runs: ${e.message}`);
      return;
    }
    state.root = body.root;
    state.runs = body.runs || [];
    $("runs-root").textContent = body.root ? `runs root: ${body.root}` : "";
    const names = new Set(state.runs.map((r) => r.name));
    state.selected = state.selected.filter((n) => names.has(n));
    renderList();
    updateCompare();
  }

  function renderList() {
    const tbody = $("runs-table").querySelector("tbody");
    tbody.textContent = "";
    const q = $("runs-filter").value.trim().toLowerCase();
    const rows = state.runs.filter(
      (r) => !q || r.name.toLowerCase().includes(q) || String(r.recipe || "").toLowerCase().includes(q)
    );
    for (const r of rows) {
      const box = el("input", {type: "checkbox", "aria-label": `select ${r.name} for comparison`});
      box.checked = state.selected.includes(r.name);
      box.addEventListener("click", (ev) => ev.stopPropagation());
      box.addEventListener("change", () => toggleSelected(r.name, box.checked));
      const last = Object.entries(r.last || {})
        .map(([k, v]) => `${k} = ${fmtValue(v)}`)
        .join("\n");
      const tr = el("tr", {"data-run": r.name, tabindex: "0", title: last || r.name}, [
        el("td", {}, [box]),
        el("td", {class: "name", text: r.name}),
        el("td", {text: r.recipe || "–"}),
        el("td", {class: "num", text: r.steps === null || r.steps === undefined ? "–" : String(r.steps)}),
        el("td", {class: "num", text: String(r.n_cards || 0)}),
        el("td", {class: "created", text: fmtDate(r.created)}),
      ]);
      if (r.name === state.current) tr.classList.add("current");
      tr.addEventListener("click", () => openRun(r.name));
      tr.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") openRun(r.name);
        if (ev.key === " ") {
          ev.preventDefault();
          box.checked = !box.checked;
          toggleSelected(r.name, box.checked);
        }
      });
      tbody.appendChild(tr);
    }
    const empty = $("runs-empty");
    empty.hidden = rows.length > 0;
    empty.textContent = state.runs.length
      ? "No run matches the filter."
      : `No runs found under ${state.root || "the runs folder"}: train one with \`ganforge train\`, or start the lab with --runs DIR.`;
  }

  // ---------------------------------------------------------------- one run
  async function fetchDetail(name) {
    if (!state.details[name]) state.details[name] = await getJson(`/api/runs/${encPath(name)}`);
    return state.details[name];
  }

  async function openRun(name) {
    state.current = name;
    for (const tr of $("runs-table").querySelectorAll("tbody tr")) {
      tr.classList.toggle("current", tr.getAttribute("data-run") === name);
    }
    if (location.hash.slice(1) !== encodeURIComponent(name)) {
      history.replaceState(null, "", `#${encodeURIComponent(name)}`);
    }
    $("run-title").textContent = name;
    let d;
    try {
      delete state.details[name]; // re-read: the run may still be training
      d = await fetchDetail(name);
    } catch (e) {
      showError(`Could not open ${name}: ${e.message}`);
      return;
    }
    if (state.current !== name) return;
    clearError();
    state.detail = d;
    $("run-placeholder").hidden = true;
    $("run-body").hidden = false;
    $("run-config").textContent = toYaml(d.config || {}).replace(/^\n/, "");
    renderCurveKeys(d);
    renderCurves();
    renderSamples(d);
    renderCards(d.cards || []);
  }

  function metricKeys(metrics) {
    const keys = new Set();
    for (const r of metrics || []) {
      for (const [k, v] of Object.entries(r)) if (k !== "step" && typeof v === "number") keys.add(k);
    }
    return [...keys].sort((a, b) => rankKey(a) - rankKey(b) || a.localeCompare(b));
  }
  function rankKey(k) {
    return k.startsWith("loss/") ? 0 : k.startsWith("eval/") ? 1 : k.startsWith("lr/") || k.startsWith("perf/") ? 3 : 2;
  }
  function curve(metrics, key) {
    return (metrics || [])
      .filter((r) => typeof r.step === "number" && key in r)
      .map((r) => [r.step, typeof r[key] === "number" ? r[key] : NaN]);
  }

  let chosenKeys = null; // keys ticked by the user (kept across runs)
  function renderCurveKeys(d) {
    const keys = metricKeys(d.metrics);
    const box = $("curve-keys");
    box.textContent = "";
    let chosen = chosenKeys ? keys.filter((k) => chosenKeys.includes(k)) : [];
    if (!chosen.length) chosen = keys.filter((k) => k.startsWith("loss/"));
    if (!chosen.length) chosen = keys.slice(0, 2);
    for (const k of keys) {
      const cb = el("input", {type: "checkbox", value: k});
      cb.checked = chosen.includes(k);
      cb.addEventListener("change", () => {
        chosenKeys = [...box.querySelectorAll("input:checked")].map((x) => x.value);
        renderCurves();
      });
      box.appendChild(el("label", {class: "check"}, [cb, ` ${k}`]));
    }
    if (!keys.length) box.appendChild(el("span", {class: "hint", text: "metrics.jsonl is empty."}));
  }

  const curvesChart = new LineChart($("curves"), {xLabel: "step", empty: "no metrics logged"});
  function renderCurves() {
    const d = state.detail;
    if (!d) return;
    const keys = [...$("curve-keys").querySelectorAll("input:checked")].map((x) => x.value);
    curvesChart.setSeries(
      keys.map((k, i) => ({label: k, color: PALETTE[i % PALETTE.length], points: curve(d.metrics, k)}))
    );
  }

  function sampleStep(path) {
    const m = /(\d+)\.\w+$/.exec(path);
    return m ? Number(m[1]) : Infinity; // final.png and other names last
  }
  function renderSamples(d) {
    const samples = (d.samples || []).slice().sort((a, b) => sampleStep(a) - sampleStep(b) || a.localeCompare(b));
    state.samples = samples;
    const slider = $("sample-slider");
    const img = $("sample-image");
    $("samples-empty").hidden = samples.length > 0;
    slider.hidden = img.hidden = samples.length === 0;
    slider.max = Math.max(0, samples.length - 1);
    slider.value = Math.max(0, samples.length - 1);
    showSample();
  }
  function showSample() {
    const samples = state.samples || [];
    const i = Number($("sample-slider").value);
    const path = samples[i];
    const label = $("sample-label");
    if (!path) {
      label.textContent = "–";
      $("sample-image").removeAttribute("src");
      return;
    }
    const step = sampleStep(path);
    label.textContent = Number.isFinite(step) ? `${step}` : path.split("/").pop().replace(/\.\w+$/, "");
    $("sample-slider").setAttribute("aria-valuetext", label.textContent);
    $("sample-image").src = `/runs/${encPath(state.current)}/files/${encPath(path)}`;
    $("sample-image").alt = `samples of ${state.current}: ${path}`;
  }

  function renderCards(cards) {
    const tbody = $("cards-table").querySelector("tbody");
    tbody.textContent = "";
    $("cards-empty").hidden = cards.length > 0;
    $("cards-table").hidden = cards.length === 0;
    for (const c of cards) {
      const values = c.values || {};
      const primary = c.primary && c.primary in values ? values[c.primary] : undefined;
      const others = Object.entries(values)
        .filter(([k]) => k !== c.primary)
        .map(([k, v]) => `${k} ${fmtValue(v)}`)
        .join(", ");
      const ref = c.reference ? Object.values(c.reference).filter((x) => typeof x !== "object").join(" ") : "–";
      tbody.appendChild(
        el("tr", {}, [
          el("td", {text: c.metric || "?"}),
          el("td", {class: "num", text: fmtValue(primary)}),
          el("td", {class: "small", text: others || "–"}),
          el("td", {text: c.extractor || "–"}),
          el("td", {class: "num", text: fmtValue(c.n_fake)}),
          el("td", {class: "num", text: fmtValue(c.n_real)}),
          el("td", {class: "small", text: ref || "–"}),
          el("td", {text: fmtDate(c.created)}),
        ])
      );
    }
  }

  // ---------------------------------------------------------------- several runs
  function toggleSelected(name, on) {
    state.selected = state.selected.filter((n) => n !== name);
    if (on) state.selected.push(name);
    updateCompare();
  }

  const compareChart = new LineChart($("compare-curves"), {xLabel: "step", empty: "no metrics logged"});
  let compareSeq = 0;

  async function updateCompare() {
    const sel = state.selected.slice();
    const view = $("compare-view");
    view.hidden = sel.length < 2;
    $("compare-count").textContent = String(sel.length);
    if (sel.length < 2) return;
    const seq = ++compareSeq;
    let details;
    try {
      details = await Promise.all(sel.map(fetchDetail));
    } catch (e) {
      showError(`Could not read a selected run: ${e.message}`);
      return;
    }
    if (seq !== compareSeq) return;
    // Overlaid curves of one metric.
    const keys = [...new Set(details.flatMap((d) => metricKeys(d.metrics)))];
    keys.sort((a, b) => rankKey(a) - rankKey(b) || a.localeCompare(b));
    const select = $("compare-metric");
    const prev = select.value;
    select.textContent = "";
    for (const k of keys) select.appendChild(el("option", {value: k, text: k}));
    select.value = keys.includes(prev) ? prev : keys.find((k) => k === "loss/g") || keys[0] || "";
    renderCompareCurves(sel, details);
    // The score table: refused (with the reason) when cards were measured differently.
    const msg = $("compare-message");
    const table = $("compare-table");
    // Runs without cards: say so here rather than ask the server for a sure refusal.
    const bare = sel.filter((n) => state.runs.some((r) => r.name === n && !r.n_cards));
    if (bare.length) {
      state.compare = null;
      table.hidden = true;
      msg.textContent =
        `No score table: ${bare.join(", ")} ${bare.length === 1 ? "has" : "have"} no ` +
        "evaluation cards yet (`ganforge eval RUN --metrics …` writes them).";
      return;
    }
    msg.textContent = "loading…";
    try {
      state.compare = await getJson(`/api/compare?runs=${sel.map(encodeURIComponent).join(",")}`);
      if (seq !== compareSeq) return;
      renderCompareTable(state.compare);
      msg.textContent = "";
      table.hidden = false;
    } catch (e) {
      if (seq !== compareSeq) return;
      state.compare = null;
      table.hidden = true;
      msg.textContent = `No score table: ${e.message}`;
    }
  }

  function renderCompareCurves(sel, details) {
    sel = sel || state.selected;
    details = details || sel.map((n) => state.details[n]).filter(Boolean);
    const key = $("compare-metric").value;
    compareChart.opts.yLabel = key;
    compareChart.setSeries(
      details.map((d, i) => ({
        label: d.name || sel[i],
        color: PALETTE[i % PALETTE.length],
        points: curve(d.metrics, key),
      }))
    );
  }

  // /api/compare: {columns, rows, lower_is_better}; a row is {group, n, values: {col:
  // [mean, std]}} (or the dataclass tuple [group, n, {col: [mean, std]}]).
  function renderCompareTable(cmp) {
    const table = $("compare-table");
    const thead = table.querySelector("thead");
    const tbody = table.querySelector("tbody");
    thead.textContent = "";
    tbody.textContent = "";
    const cols = cmp.columns || [];
    const lower = cmp.lower_is_better || {};
    const rows = (cmp.rows || []).map((r) =>
      Array.isArray(r)
        ? {group: r[0], n: r[1], values: r[2] || {}}
        : {group: r.group || r.label || r.name, n: r.n || r.runs, values: r.values || r.stats || {}}
    );
    thead.appendChild(
      el("tr", {}, [
        el("th", {scope: "col", text: "Group"}),
        el("th", {scope: "col", class: "num", text: "Runs"}),
        ...cols.map((c) =>
          el("th", {scope: "col", class: "num", text: `${c} ${lower[c] === false ? "↑" : "↓"}`, title: lower[c] === false ? "higher is better" : "lower is better"})
        ),
      ])
    );
    const best = {};
    for (const c of cols) {
      const ms = rows.map((r) => meanStd(r.values[c])[0]).filter(Number.isFinite);
      if (ms.length > 1) best[c] = lower[c] === false ? Math.max(...ms) : Math.min(...ms);
    }
    for (const r of rows) {
      tbody.appendChild(
        el("tr", {}, [
          el("th", {scope: "row", text: String(r.group)}),
          el("td", {class: "num", text: String(r.n)}),
          ...cols.map((c) => {
            const [m, s] = meanStd(r.values[c]);
            const td = el("td", {class: "num", text: r.n > 1 ? `${formatNumber(m)} ± ${formatNumber(s)}` : formatNumber(m)});
            if (best[c] === m) td.classList.add("best");
            return td;
          }),
        ])
      );
    }
  }
  function meanStd(v) {
    if (Array.isArray(v)) return [Number(v[0]), Number(v[1])];
    if (v && typeof v === "object") return [Number(v.mean), Number(v.std)];
    return [Number(v), NaN];
  }

  // ---------------------------------------------------------------- wiring
  $("sample-slider").addEventListener("input", showSample);
  $("compare-metric").addEventListener("change", () => renderCompareCurves());
  $("runs-filter").addEventListener("input", renderList);
  $("refresh").addEventListener("click", async () => {
    state.details = {};
    await loadRuns();
    if (state.current) openRun(state.current);
  });
  $("error-close").addEventListener("click", clearError);
  $("sample-image").addEventListener("error", () => {
    if ($("sample-image").getAttribute("src")) showError(`Could not load ${$("sample-image").getAttribute("src")}`);
  });

  (async function init() {
    await loadRuns();
    const want = decodeURIComponent(location.hash.slice(1));
    if (want && state.runs.some((r) => r.name === want)) openRun(want);
    else if (state.runs.length === 1) openRun(state.runs[0].name);
  })();
})();
