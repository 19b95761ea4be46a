// ganforge lab: the playground page. Talks to the API in docs/lab.md:
// GET /api/options, POST/DELETE /api/sessions, WebSocket /api/sessions/{id}/ws.
// State is exposed as window.labState (read by the browser tests).
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const {LineChart, formatNumber} = window.ganforgeCharts;

  const COLORS = {
    real: "#2f855a",
    fake: "#6b46c1",
    manifold: "rgba(107, 70, 193, 0.45)",
    arrow: "rgba(26, 32, 44, 0.55)",
    drawn: "#dd6b20",
    axis: "#e2e8f0",
  };
  const MAX_HISTORY = 4000;
  const SERVER_LAYERS = ["heatmap", "manifold", "arrows"];

  const state = {
    options: null,
    sessionId: null,
    config: null, // the session's config as the server returned it
    ws: null,
    pending: [], // messages queued until the socket opens
    lastFrame: null,
    frames: 0, // frames received by the current session
    history: [], // {step, d, g, modes, modesPct, hq, kl, js}
    playing: false,
    drawMode: false,
    drawPoints: [], // [[x, y], ...] world coordinates of the drawn points
    dirty: false, // the form or the drawn points differ from the running session
    view: {x: [-2, 2], y: [-2, 2]},
    error: null,
    fps: 0,
  };
  window.labState = state;

  // ---------------------------------------------------------------- errors and status
  const {show: showError, clear: clearError} = window.ganforgeCharts.errorBanner(state);
  function setStatus(text) {
    $("status").textContent = text;
  }
  async function readJson(res) {
    try {
      return await res.json();
    } catch (e) {
      return null;
    }
  }
  function apiError(res, body) {
    if (body && typeof body.error === "string") return body.error;
    return `the server answered ${res.status} ${res.statusText || ""}`.trim();
  }

  // ---------------------------------------------------------------- the settings form
  const NUMBER_FIELDS = [
    // [element id, config path, integer?, limits key]
    ["gradient-penalty", ["gradient_penalty"], false, null],
    ["pack", ["pack"], true, "pack"],
    ["unroll-steps", ["unroll_steps"], true, "unroll_steps"],
    ["instance-noise", ["instance_noise"], false, null],
    ["label-smoothing", ["label_smoothing"], false, null],
    ["g-layers", ["g", "layers"], true, "hidden_layers"],
    ["g-width", ["g", "width"], true, "hidden_width"],
    ["g-lr", ["g", "lr"], false, "lr"],
    ["d-layers", ["d", "layers"], true, "hidden_layers"],
    ["d-width", ["d", "width"], true, "hidden_width"],
    ["d-lr", ["d", "lr"], false, "lr"],
    ["g-steps", ["g_steps"], true, "steps_per_iter"],
    ["d-steps", ["d_steps"], true, "steps_per_iter"],
    ["batch-size", ["batch_size"], true, "batch_size"],
    ["latent-dim", ["latent_dim"], true, "latent_dim"],
    ["seed", ["seed"], true, null],
  ];
  const LABELS = {
    "gradient-penalty": "gradient penalty", pack: "packing", "unroll-steps": "unroll steps",
    "instance-noise": "instance noise", "label-smoothing": "label smoothing",
    "g-layers": "generator layers", "g-width": "generator width", "g-lr": "generator learning rate",
    "d-layers": "critic layers", "d-width": "critic width", "d-lr": "critic learning rate",
    "g-steps": "G steps", "d-steps": "D steps", "batch-size": "batch size",
    "latent-dim": "noise dims", seed: "seed",
  };

  function getPath(obj, path) {
    return path.reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), obj);
  }
  function setPath(obj, path, value) {
    let o = obj;
    for (const k of path.slice(0, -1)) {
      if (!o[k] || typeof o[k] !== "object") o[k] = {};
      o = o[k];
    }
    o[path[path.length - 1]] = value;
  }

  function fillSelect(sel, items) {
    sel.textContent = "";
    for (const it of items) {
      const opt = document.createElement("option");
      opt.value = it.value;
      opt.textContent = it.label;
      if (it.title) opt.title = it.title;
      sel.appendChild(opt);
    }
  }

  function populate(options) {
    const lim = options.limits || {};
    fillSelect(
      $("data"),
      (options.datasets || []).map((d) => ({value: d, label: d === "custom" ? "draw your own" : d}))
    );
    fillSelect(
      $("objective"),
      (options.objectives || []).map((o) => ({
        value: o.name,
        label: o.name,
        title: [o.summary, o.paper].filter(Boolean).join(" — "),
      }))
    );
    const opts = (options.optimizers || []).map((o) => ({value: o, label: o}));
    fillSelect($("g-optimizer"), opts);
    fillSelect($("d-optimizer"), opts);
    const gp = (options.penalties || []).find((p) => p.name === "gradient-penalty");
    if (gp && gp.summary) $("gradient-penalty").title = `${gp.summary} (weight; 0 = off)`;
    for (const [id, , , key] of NUMBER_FIELDS) {
      if (key && Array.isArray(lim[key])) {
        $(id).min = lim[key][0];
        $(id).max = lim[key][1];
      }
    }
    if (Array.isArray(lim.speed)) {
      $("speed").min = lim.speed[0];
      $("speed").max = lim.speed[1];
    }
    setForm(options.defaults || {});
  }

  function setForm(cfg) {
    if (cfg.data !== undefined) $("data").value = cfg.data;
    if (cfg.objective !== undefined) $("objective").value = cfg.objective;
    const go = getPath(cfg, ["g", "optimizer"]);
    const dop = getPath(cfg, ["d", "optimizer"]);
    if (go !== undefined) $("g-optimizer").value = go;
    if (dop !== undefined) $("d-optimizer").value = dop;
    for (const [id, path] of NUMBER_FIELDS) {
      const v = getPath(cfg, path);
      if (v !== undefined && v !== null) $(id).value = v;
    }
    if (Array.isArray(cfg.points) && cfg.points.length) state.drawPoints = cfg.points.slice();
    updateObjectiveInfo();
    updateDrawUi();
  }

  function updateObjectiveInfo() {
    const name = $("objective").value;
    const o = ((state.options && state.options.objectives) || []).find((x) => x.name === name);
    const info = $("objective-info");
    info.textContent = "";
    if (!o) return;
    if (o.summary) info.appendChild(document.createTextNode(o.summary));
    if (o.paper) {
      const cite = document.createElement("cite");
      cite.textContent = o.paper;
      info.appendChild(document.createElement("br"));
      info.appendChild(cite);
    }
    $("objective").title = [o.summary, o.paper].filter(Boolean).join(" — ");
  }

  // The config for POST /api/sessions: the defaults overridden by the form. Returns null
  // (and shows why) when a field is not a number.
  function readConfig() {
    const cfg = JSON.parse(JSON.stringify((state.options && state.options.defaults) || {}));
    cfg.data = $("data").value;
    cfg.objective = $("objective").value;
    setPath(cfg, ["g", "optimizer"], $("g-optimizer").value);
    setPath(cfg, ["d", "optimizer"], $("d-optimizer").value);
    for (const [id, path, integer] of NUMBER_FIELDS) {
      const el = $(id);
      const raw = el.value.trim();
      if (raw === "") continue; // keep the default
      const v = Number(raw);
      if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) {
        showError(`${LABELS[id]} must be ${integer ? "a whole number" : "a number"}, got "${raw}".`);
        el.focus();
        return null;
      }
      setPath(cfg, path, v);
    }
    if (cfg.data === "custom") {
      if (!state.drawPoints.length) {
        showError("Draw your own data first: press Draw and click or drag on the plane, then Apply.");
        return null;
      }
      cfg.points = state.drawPoints.map((p) => [round4(p[0]), round4(p[1])]);
    } else {
      delete cfg.points;
    }
    return cfg;
  }
  function round4(v) {
    return Math.round(v * 1e4) / 1e4;
  }

  // ---------------------------------------------------------------- sessions and socket
  let applySeq = 0;

  async function closeSession() {
    const id = state.sessionId;
    const ws = state.ws;
    state.sessionId = null;
    state.ws = null;
    state.pending = [];
    state.playing = false;
    // Delete first, then close: the server also frees a session when its socket closes,
    // so a DELETE sent after the close could find it gone (a 404 in the console).
    if (id) {
      try {
        await fetch(`/api/sessions/${encodeURIComponent(id)}`, {method: "DELETE"});
      } catch (e) {
        /* the socket close frees it anyway */
      }
    }
    if (ws) ws.close(1000, "settings changed");
  }

  // Start a new session with the form's settings (the old one is closed first).
  async function applySettings(opts) {
    const play = opts && opts.play !== undefined ? opts.play : state.playing;
    const seq = ++applySeq;
    const cfg = readConfig();
    if (!cfg) return false;
    await closeSession();
    if (seq !== applySeq) return false;
    setStatus("starting a session…");
    let res;
    let body;
    try {
      res = await fetch("/api/sessions", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(cfg),
      });
      body = await readJson(res);
    } catch (e) {
      showError(`Could not reach the lab server (${e.message}). Is \`ganforge lab\` still running?`);
      setStatus("no session");
      return false;
    }
    if (seq !== applySeq) {
      if (res.ok && body && body.id) fetch(`/api/sessions/${body.id}`, {method: "DELETE"});
      return false;
    }
    if (!res.ok || !body || !body.id) {
      showError(apiError(res, body));
      setStatus("no session: fix the settings and press Apply");
      updateButtons();
      return false;
    }
    clearError();
    state.dirty = false;
    state.sessionId = body.id;
    state.config = body.config || cfg;
    state.lastFrame = null;
    state.frames = 0;
    state.history = [];
    if (state.drawMode && state.config.data === "custom") setDrawMode(false);
    updateCharts(true);
    connect(body.id, play);
    return true;
  }

  function connect(id, play) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/sessions/${encodeURIComponent(id)}/ws`);
    state.ws = ws;
    state.pending = [
      {action: "speed", value: Number($("speed").value)},
      {action: "layers", value: serverLayers()},
    ];
    if (play) state.pending.push({action: "play"});
    ws.onopen = () => {
      if (ws !== state.ws) return;
      for (const m of state.pending) ws.send(JSON.stringify(m));
      state.pending = [];
      setStatus("connected: press Play or step");
    };
    ws.onmessage = (ev) => {
      if (ws !== state.ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (msg.type === "frame") onFrame(msg);
      else if (msg.type === "error") showError(msg.error || "the session reported an error");
    };
    ws.onclose = (ev) => {
      if (ws !== state.ws) return;
      state.ws = null;
      state.sessionId = null;
      state.playing = false;
      updateButtons();
      const why = ev.reason ? `: ${ev.reason}` : "";
      setStatus(`session ended${why}. Press Apply (or Play) to start a new one.`);
      if (ev.code !== 1000 && ev.code !== 1001 && ev.reason) showError(ev.reason);
    };
    updateButtons();
  }

  function send(msg) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(msg));
    } else if (state.ws && state.ws.readyState === WebSocket.CONNECTING) {
      state.pending.push(msg);
    } else {
      return false;
    }
    return true;
  }

  // Send a command, starting a session first when there is none.
  // Unapplied changes (auto-apply off, or points drawn since) are applied first.
  async function command(msg) {
    if (!state.dirty && send(msg)) return;
    clearTimeout(applyTimer); // this apply replaces a pending automatic one
    const ok = await applySettings({play: msg.action === "play"});
    if (ok && msg.action !== "play") send(msg);
  }

  function serverLayers() {
    const out = {};
    for (const k of SERVER_LAYERS) out[k] = $(`layer-${k}`).checked;
    return out;
  }

  // ---------------------------------------------------------------- frames
  let frameTimes = [];
  let renderQueued = false;
  let lastChartDraw = 0;
  let chartTimer = null;
  // Charts redraw at most 4 times a second, and always after the last frame (a paused
  // session sends one frame per command: it must show up too).
  function scheduleCharts() {
    const wait = 250 - (performance.now() - lastChartDraw);
    if (wait <= 0) {
      clearTimeout(chartTimer);
      chartTimer = null;
      updateCharts();
    } else if (chartTimer === null) {
      chartTimer = setTimeout(() => {
        chartTimer = null;
        updateCharts();
      }, wait);
    }
  }

  function onFrame(f) {
    state.lastFrame = f;
    state.frames += 1;
    state.playing = !!f.playing;
    const now = performance.now();
    frameTimes.push(now);
    frameTimes = frameTimes.filter((t) => now - t < 2000);
    state.fps = frameTimes.length > 1 ? (frameTimes.length - 1) / ((now - frameTimes[0]) / 1000) : 0;
    if (f.bounds && !state.drawMode) state.view = squareView(f.bounds);
    record(f);
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(() => {
        renderQueued = false;
        render();
      });
    }
  }

  function record(f) {
    const h = state.history;
    if (h.length && f.step < h[h.length - 1].step) h.length = 0; // reset
    const m = f.metrics || {};
    const l = f.losses || {};
    const total = m.modes_total || 0;
    const entry = {
      step: f.step,
      d: num(l.d),
      g: num(l.g),
      modes: num(m.modes),
      modesPct: total ? (100 * num(m.modes)) / total : NaN,
      hq: pct(m.hq),
      kl: num(m.kl),
      js: num(m.js),
    };
    if (h.length && h[h.length - 1].step === f.step) h[h.length - 1] = entry;
    else h.push(entry);
    if (h.length > MAX_HISTORY) state.history = h.filter((_, i) => i % 2 === 0 || i === h.length - 1);
  }
  function num(v) {
    return typeof v === "number" ? v : NaN;
  }
  function pct(v) {
    v = num(v);
    return v <= 1 ? 100 * v : v; // a fraction in [0, 1] (or already a percentage)
  }

  function render() {
    drawPlane();
    updateReadout();
    updateButtons();
    scheduleCharts();
  }

  function updateReadout() {
    const f = state.lastFrame;
    if (!f) return;
    const c = state.config || {};
    const what = c.objective ? `${c.objective} on ${c.data === "custom" ? "drawn points" : c.data} · ` : "";
    const rate = f.playing
      ? `${typeof f.steps_per_s === "number" ? f.steps_per_s.toFixed(0) : "–"} steps/s · ` +
        `${state.fps.toFixed(0)} frames/s · playing`
      : "paused";
    setStatus(
      `${what}step ${f.step} · ${rate}` + (state.dirty ? " · changes not applied: press Apply or Play" : "")
    );
    const m = f.metrics || {};
    const modes = num(m.modes);
    $("metric-modes").textContent = Number.isFinite(modes)
      ? `${Number.isInteger(modes) ? modes : modes.toFixed(1)} / ${m.modes_total}`
      : "–";
    const hq = pct(m.hq);
    $("metric-hq").textContent = Number.isFinite(hq) ? `${hq.toFixed(1)} %` : "–";
    $("metric-kl").textContent = formatNumber(num(m.kl));
    $("metric-js").textContent = formatNumber(num(m.js));
    const l = f.losses || {};
    $("metric-dloss").textContent = formatNumber(num(l.d));
    $("metric-gloss").textContent = formatNumber(num(l.g));
  }

  // ---------------------------------------------------------------- charts
  const charts = {};
  function makeCharts() {
    charts.loss = new LineChart($("loss-chart"), {yLabel: "loss", xLabel: "iteration"});
    charts.metric = new LineChart($("metric-chart"), {
      yLabel: "%",
      xLabel: "iteration",
      yMin: 0,
      yMax: 100,
    });
    charts.div = new LineChart($("div-chart"), {yLabel: "nats", xLabel: "iteration", yMin: 0});
  }
  function series(key) {
    return state.history.map((e) => [e.step, e[key]]);
  }
  function updateCharts() {
    lastChartDraw = performance.now();
    charts.loss.setSeries([
      {label: "D loss", color: "#2b6cb0", points: series("d")},
      {label: "G loss", color: "#c05621", points: series("g")},
    ]);
    charts.metric.setSeries([
      {label: "modes covered", color: "#2f855a", points: series("modesPct")},
      {label: "high quality", color: "#805ad5", points: series("hq")},
    ]);
    charts.div.setSeries([
      {label: "KL(real‖fake)", color: "#c53030", points: series("kl")},
      {label: "JS", color: "#0987a0", points: series("js")},
    ]);
  }

  // ---------------------------------------------------------------- the plane
  const plane = $("plane");
  const heatCanvas = document.createElement("canvas");

  function squareView(b) {
    let [x0, x1] = b.x;
    let [y0, y1] = b.y;
    const w = x1 - x0;
    const h = y1 - y0;
    if (w > h) {
      const c = (y0 + y1) / 2;
      y0 = c - w / 2;
      y1 = c + w / 2;
    } else if (h > w) {
      const c = (x0 + x1) / 2;
      x0 = c - h / 2;
      x1 = c + h / 2;
    }
    return {x: [x0, x1], y: [y0, y1]};
  }

  function planeSize() {
    const dpr = window.devicePixelRatio || 1;
    const s = Math.max(100, Math.round(plane.clientWidth || plane.width));
    if (plane.width !== Math.round(s * dpr) || plane.height !== Math.round(s * dpr)) {
      plane.width = Math.round(s * dpr);
      plane.height = Math.round(s * dpr);
    }
    const ctx = plane.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return {ctx, s};
  }

  function toScreen(s) {
    const v = state.view;
    const sx = s / (v.x[1] - v.x[0]);
    const sy = s / (v.y[1] - v.y[0]);
    return {
      X: (x) => (x - v.x[0]) * sx,
      Y: (y) => s - (y - v.y[0]) * sy,
      sx,
      sy,
    };
  }

  function toWorld(px, py) {
    const s = plane.clientWidth;
    const v = state.view;
    return [
      v.x[0] + (px / s) * (v.x[1] - v.x[0]),
      v.y[0] + ((s - py) / s) * (v.y[1] - v.y[0]),
    ];
  }

  // Diverging colour for t in [-1, 1]: purple (fake side) - white - green (real side).
  function diverging(t) {
    const a = Math.min(1, Math.abs(t));
    const end = t >= 0 ? [56, 161, 105] : [128, 90, 213];
    const k = 0.75 * Math.pow(a, 0.8);
    return [
      Math.round(255 + (end[0] - 255) * k),
      Math.round(255 + (end[1] - 255) * k),
      Math.round(255 + (end[2] - 255) * k),
    ];
  }

  function drawHeatmap(ctx, hm, T) {
    const {nx, ny, values} = hm;
    if (!nx || !ny || !values || values.length < nx * ny) return;
    let lo = typeof hm.min === "number" ? hm.min : Math.min(...values);
    let hi = typeof hm.max === "number" ? hm.max : Math.max(...values);
    // Centre at 0 when the scores straddle it (logits: 0 = undecided); else at the middle.
    let centre = lo < 0 && hi > 0 ? 0 : (lo + hi) / 2;
    let half = Math.max(Math.abs(hi - centre), Math.abs(centre - lo)) || 1;
    heatCanvas.width = nx;
    heatCanvas.height = ny;
    const hctx = heatCanvas.getContext("2d");
    const img = hctx.createImageData(nx, ny);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = values[j * nx + i];
        const c = Number.isFinite(v) ? diverging((v - centre) / half) : [200, 200, 200];
        const o = ((ny - 1 - j) * nx + i) * 4; // row 0 is y0 (the bottom)
        img.data[o] = c[0];
        img.data[o + 1] = c[1];
        img.data[o + 2] = c[2];
        img.data[o + 3] = 255;
      }
    }
    hctx.putImageData(img, 0, 0);
    const [x0, x1] = hm.x;
    const [y0, y1] = hm.y;
    const dx = nx > 1 ? (x1 - x0) / (nx - 1) : x1 - x0;
    const dy = ny > 1 ? (y1 - y0) / (ny - 1) : y1 - y0;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(
      heatCanvas,
      T.X(x0 - dx / 2),
      T.Y(y1 + dy / 2),
      T.X(x1 + dx / 2) - T.X(x0 - dx / 2),
      T.Y(y0 - dy / 2) - T.Y(y1 + dy / 2)
    );
  }

  function drawAxes(ctx, s, T) {
    const v = state.view;
    ctx.strokeStyle = COLORS.axis;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let x = Math.ceil(v.x[0]); x <= v.x[1]; x++) {
      ctx.moveTo(Math.round(T.X(x)) + 0.5, 0);
      ctx.lineTo(Math.round(T.X(x)) + 0.5, s);
    }
    for (let y = Math.ceil(v.y[0]); y <= v.y[1]; y++) {
      ctx.moveTo(0, Math.round(T.Y(y)) + 0.5);
      ctx.lineTo(s, Math.round(T.Y(y)) + 0.5);
    }
    ctx.stroke();
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillStyle = "#4a5568";
    ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
    ctx.lineWidth = 3;
    ctx.lineJoin = "round";
    const label = (text, x, y) => {
      ctx.strokeText(text, x, y);
      ctx.fillText(text, x, y);
    };
    for (let x = Math.ceil(v.x[0]); x <= v.x[1]; x++) label(String(x), T.X(x) + 3, s - 4);
    for (let y = Math.ceil(v.y[0]); y <= v.y[1]; y++) {
      if (Math.round(T.Y(y)) < s - 16) label(String(y), 3, T.Y(y) - 3); // not on the x labels
    }
  }

  function drawManifold(ctx, mf, T) {
    const {nx, ny, points} = mf;
    if (!nx || !ny || !points || points.length < nx * ny) return;
    ctx.strokeStyle = COLORS.manifold;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const p = points[j * nx + i];
        if (i === 0) ctx.moveTo(T.X(p[0]), T.Y(p[1]));
        else ctx.lineTo(T.X(p[0]), T.Y(p[1]));
      }
    }
    for (let i = 0; i < nx; i++) {
      for (let j = 0; j < ny; j++) {
        const p = points[j * nx + i];
        if (j === 0) ctx.moveTo(T.X(p[0]), T.Y(p[1]));
        else ctx.lineTo(T.X(p[0]), T.Y(p[1]));
      }
    }
    ctx.stroke();
  }

  function drawPoints(ctx, pts, color, r) {
    ctx.fillStyle = color;
    ctx.beginPath();
    for (const p of pts) {
      ctx.moveTo(p[0] + r, p[1]);
      ctx.arc(p[0], p[1], r, 0, 2 * Math.PI);
    }
    ctx.fill();
  }

  function drawArrows(ctx, fake, arrows, T) {
    ctx.strokeStyle = COLORS.arrow;
    ctx.lineWidth = 1;
    ctx.beginPath();
    const n = Math.min(fake.length, arrows.length);
    for (let k = 0; k < n; k++) {
      const x = T.X(fake[k][0]);
      const y = T.Y(fake[k][1]);
      const ex = T.X(fake[k][0] + arrows[k][0]);
      const ey = T.Y(fake[k][1] + arrows[k][1]);
      const len = Math.hypot(ex - x, ey - y);
      if (!(len > 0.5)) continue;
      ctx.moveTo(x, y);
      ctx.lineTo(ex, ey);
      const head = Math.min(4, len * 0.4);
      const ang = Math.atan2(ey - y, ex - x);
      ctx.moveTo(ex, ey);
      ctx.lineTo(ex - head * Math.cos(ang - 0.5), ey - head * Math.sin(ang - 0.5));
      ctx.moveTo(ex, ey);
      ctx.lineTo(ex - head * Math.cos(ang + 0.5), ey - head * Math.sin(ang + 0.5));
    }
    ctx.stroke();
  }

  function drawPlane() {
    const {ctx, s} = planeSize();
    const T = toScreen(s);
    // While drawing a new data set, the running session's picture would only confuse.
    const f = state.drawMode && !sessionIsCustom() ? null : state.lastFrame;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, s, s);
    if (f && f.heatmap && $("layer-heatmap").checked) drawHeatmap(ctx, f.heatmap, T);
    drawAxes(ctx, s, T);
    if (f && f.manifold && $("layer-manifold").checked) drawManifold(ctx, f.manifold, T);
    if (f && f.real && $("layer-real").checked) {
      drawPoints(ctx, f.real.map((p) => [T.X(p[0]), T.Y(p[1])]), COLORS.real, 2);
    }
    if (f && f.fake && $("layer-fake").checked) {
      drawPoints(ctx, f.fake.map((p) => [T.X(p[0]), T.Y(p[1])]), COLORS.fake, 2);
    }
    if (f && f.fake && f.arrows && $("layer-arrows").checked) drawArrows(ctx, f.fake, f.arrows, T);
    if (state.drawMode || $("data").value === "custom") {
      ctx.strokeStyle = COLORS.drawn;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (const p of state.drawPoints) {
        const x = T.X(p[0]);
        const y = T.Y(p[1]);
        ctx.moveTo(x + 4, y);
        ctx.arc(x, y, 4, 0, 2 * Math.PI);
      }
      ctx.stroke();
    }
    if (!f && !state.drawMode) {
      ctx.fillStyle = "#718096";
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(state.sessionId ? "waiting for the first frame…" : "no session", s / 2, s / 2);
      ctx.textAlign = "left";
    }
    if (state.drawMode) {
      ctx.fillStyle = "rgba(221, 107, 32, 0.9)";
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("draw mode: click or drag to add real points", 8, 16);
    }
  }

  // ---------------------------------------------------------------- drawing your own data
  let drawing = false;
  function sessionIsCustom() {
    return !!(state.config && state.config.data === "custom");
  }
  function setDrawMode(on) {
    if (on === state.drawMode) return;
    state.drawMode = on;
    if (on) {
      if ($("data").value !== "custom") {
        $("data").value = "custom";
        state.dirty = true;
      }
      // Hold the picture still while drawing; a custom session keeps its view (its
      // points stay where they are), otherwise the whole square points may lie in.
      send({action: "pause"});
      const b = getPath(state.options, ["bounds", "custom"]);
      if (!sessionIsCustom() && b) state.view = squareView(b);
    } else if (state.lastFrame && state.lastFrame.bounds) {
      state.view = squareView(state.lastFrame.bounds);
    }
    updateDrawUi();
    drawPlane();
  }
  function updateDrawUi() {
    const btn = $("draw-mode");
    btn.setAttribute("aria-pressed", state.drawMode ? "true" : "false");
    btn.classList.toggle("active", state.drawMode);
    plane.classList.toggle("drawing", state.drawMode);
    $("draw-hint").hidden = !state.drawMode;
    const n = state.drawPoints.length;
    $("draw-count").textContent = `${n} point${n === 1 ? "" : "s"}`;
  }
  function addPoint(ev, spaced) {
    const r = plane.getBoundingClientRect();
    let [x, y] = toWorld(ev.clientX - r.left - plane.clientLeft, ev.clientY - r.top - plane.clientTop);
    x = Math.max(-4, Math.min(4, x));
    y = Math.max(-4, Math.min(4, y));
    const max = getPath(state.options, ["limits", "custom_points", 1]) || 2000;
    if (state.drawPoints.length >= max) {
      showError(`At most ${max} points can be drawn; press Clear to start again.`);
      return;
    }
    if (spaced && state.drawPoints.length) {
      const last = state.drawPoints[state.drawPoints.length - 1];
      const minGap = (state.view.x[1] - state.view.x[0]) / 60;
      if (Math.hypot(x - last[0], y - last[1]) < minGap) return;
    }
    state.drawPoints.push([x, y]);
    state.dirty = true;
    updateDrawUi();
    drawPlane();
  }
  plane.addEventListener("pointerdown", (ev) => {
    if (!state.drawMode) return;
    ev.preventDefault();
    drawing = true;
    plane.setPointerCapture(ev.pointerId);
    addPoint(ev, false);
  });
  plane.addEventListener("pointermove", (ev) => {
    if (drawing) addPoint(ev, true);
  });
  const stopDrawing = () => {
    drawing = false;
  };
  plane.addEventListener("pointerup", stopDrawing);
  plane.addEventListener("pointercancel", stopDrawing);

  // ---------------------------------------------------------------- controls
  function updateButtons() {
    const live = !!state.ws;
    $("play").disabled = live && state.playing;
    $("pause").disabled = !live || !state.playing;
    for (const id of ["step-d", "step-g", "step-both"]) $(id).disabled = live && state.playing;
    $("reset").disabled = !live;
  }

  let applyTimer = null;
  function settingsChanged(ev) {
    if (ev && ev.target && ev.target.id === "auto-apply") return;
    state.dirty = true;
    if (ev && ev.target && ev.target.id === "data") {
      if ($("data").value === "custom" && !state.drawPoints.length) {
        setDrawMode(true);
        return; // nothing to train on yet
      }
      if ($("data").value !== "custom" && state.drawMode) setDrawMode(false);
    }
    if (ev && ev.target && ev.target.id === "objective") updateObjectiveInfo();
    if (!$("auto-apply").checked) {
      updateReadout();
      return;
    }
    clearTimeout(applyTimer);
    applyTimer = setTimeout(() => applySettings(), 300);
  }

  function wire() {
    $("play").addEventListener("click", () => command({action: "play"}));
    $("pause").addEventListener("click", () => send({action: "pause"}));
    $("step-d").addEventListener("click", () => command({action: "step", what: "d"}));
    $("step-g").addEventListener("click", () => command({action: "step", what: "g"}));
    $("step-both").addEventListener("click", () => command({action: "step", what: "both"}));
    $("reset").addEventListener("click", () => {
      state.history = [];
      updateCharts();
      send({action: "reset"});
    });
    const speed = $("speed");
    speed.addEventListener("input", () => {
      $("speed-value").textContent = speed.value;
      send({action: "speed", value: Number(speed.value)});
    });
    for (const k of ["real", "fake"]) $(`layer-${k}`).addEventListener("change", drawPlane);
    for (const k of SERVER_LAYERS) {
      $(`layer-${k}`).addEventListener("change", () => {
        send({action: "layers", value: serverLayers()});
        drawPlane();
      });
    }
    $("settings").addEventListener("change", settingsChanged);
    $("settings").addEventListener("submit", (ev) => {
      ev.preventDefault();
      clearTimeout(applyTimer);
      applySettings();
    });
    $("draw-mode").addEventListener("click", () => setDrawMode(!state.drawMode));
    $("clear-points").addEventListener("click", () => {
      state.drawPoints = [];
      if ($("data").value === "custom") state.dirty = true;
      updateDrawUi();
      drawPlane();
    });
    $("error-close").addEventListener("click", clearError);
    // The page going away closes the socket, which stops and frees the session.
    // (A page may only close with 1000 or 3000-4999; the server frees the session when its
    // socket closes, so the DELETE is for a session whose socket is not open yet.)
    window.addEventListener("pagehide", () => {
      if (state.ws && state.ws.readyState === WebSocket.OPEN) {
        state.ws.close(1000, "page closed");
      } else if (state.sessionId) {
        fetch(`/api/sessions/${encodeURIComponent(state.sessionId)}`, {
          method: "DELETE",
          keepalive: true,
        }).catch(() => {});
      }
    });
    if (window.ResizeObserver) new ResizeObserver(() => drawPlane()).observe(plane);
  }

  async function init() {
    makeCharts();
    wire();
    updateButtons();
    updateDrawUi();
    drawPlane();
    updateCharts();
    let res;
    let body;
    try {
      res = await fetch("/api/options");
      body = await readJson(res);
    } catch (e) {
      showError(`Could not reach the lab server (${e.message}). Is \`ganforge lab\` running?`);
      setStatus("offline");
      return;
    }
    if (!res.ok || !body) {
      showError(`Could not load the playground options: ${apiError(res, body)}`);
      setStatus("offline");
      return;
    }
    state.options = body;
    populate(body);
    await applySettings({play: false});
  }

  init();
})();
