// ganforge lab: a small canvas line chart and the error banner, shared by the
// playground and the runs page.
// No dependencies. Usage:
//   const chart = new LineChart(canvas, {yLabel: "loss", xLabel: "step"});
//   chart.setSeries([{label: "D", color: "#2b6cb0", points: [[x, y], ...]}, ...]);
// Non-finite y values break the line. The chart redraws on resize and shows the values
// under the mouse.
(function (global) {
  "use strict";

  const PALETTE = [
    "#2b6cb0", "#c05621", "#2f855a", "#805ad5", "#c53030",
    "#0987a0", "#b7791f", "#d53f8c", "#4a5568", "#38a169",
  ];

  function formatNumber(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return v.toPrecision(2);
  }

  // About n "nice" ticks covering [lo, hi].
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / Math.max(1, n);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return ticks;
  }

  // Tick labels with as many decimals as the tick spacing needs ("0.5 1 1.5", "10 12 14").
  function tickFormat(ticks) {
    const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 0;
    const big = ticks.some((t) => Math.abs(t) >= 1e5);
    const dec = step > 0 ? Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) : 2;
    return (t) => (big || dec > 4 ? formatNumber(t) : t.toFixed(dec));
  }

  class LineChart {
    constructor(canvas, opts) {
      this.canvas = canvas;
      this.opts = Object.assign(
        {xLabel: "step", yLabel: "", yMin: null, yMax: null, empty: "no data yet"},
        opts || {}
      );
      this.series = [];
      this.hoverX = null;
      this._frame = null;
      canvas.addEventListener("mousemove", (ev) => {
        const r = canvas.getBoundingClientRect();
        this.hoverX = ev.clientX - r.left;
        this.requestDraw();
      });
      canvas.addEventListener("mouseleave", () => {
        this.hoverX = null;
        this.requestDraw();
      });
      if (global.ResizeObserver) {
        new ResizeObserver(() => this.requestDraw()).observe(canvas);
      } else {
        global.addEventListener("resize", () => this.requestDraw());
      }
    }

    setSeries(series) {
      this.series = series || [];
      this.requestDraw();
    }

    requestDraw() {
      if (this._frame !== null) return;
      this._frame = global.requestAnimationFrame(() => {
        this._frame = null;
        this.draw();
      });
    }

    _size() {
      const c = this.canvas;
      const dpr = global.devicePixelRatio || 1;
      const w = Math.max(50, c.clientWidth || c.width);
      const h = Math.max(50, c.clientHeight || c.height);
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
        c.width = Math.round(w * dpr);
        c.height = Math.round(h * dpr);
      }
      const ctx = c.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      return {ctx, w, h};
    }

    draw() {
      const {ctx, w, h} = this._size();
      const o = this.opts;
      ctx.clearRect(0, 0, w, h);
      ctx.font = "11px system-ui, sans-serif";
      const series = this.series.filter((s) => s.points && s.points.length);

      // Legend (wraps), on top.
      let lx = 8;
      let ly = 12;
      for (let i = 0; i < this.series.length; i++) {
        const s = this.series[i];
        const label = s.label + (s.points && s.points.length ? "" : " (none)");
        const tw = ctx.measureText(label).width + 22;
        if (lx + tw > w - 4 && lx > 8) {
          lx = 8;
          ly += 14;
        }
        ctx.strokeStyle = s.color || PALETTE[i % PALETTE.length];
        ctx.lineWidth = 2;
        ctx.setLineDash(s.dash || []);
        ctx.beginPath();
        ctx.moveTo(lx, ly - 4);
        ctx.lineTo(lx + 14, ly - 4);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "#2d3748";
        ctx.fillText(label, lx + 18, ly);
        lx += tw;
      }

      const m = {l: 46, r: 10, t: ly + 8, b: 30};
      const ph = h - m.t - m.b;
      if (ph < 10 || w - m.l - m.r < 10) return;

      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const s of series) {
        for (const p of s.points) {
          if (!Number.isFinite(p[0])) continue;
          x0 = Math.min(x0, p[0]);
          x1 = Math.max(x1, p[0]);
          if (Number.isFinite(p[1])) {
            y0 = Math.min(y0, p[1]);
            y1 = Math.max(y1, p[1]);
          }
        }
      }
      if (!Number.isFinite(x0) || !Number.isFinite(y0)) {
        const pw = w - m.l - m.r;
        ctx.strokeStyle = "#cbd5e0";
        ctx.lineWidth = 1;
        ctx.strokeRect(m.l + 0.5, m.t + 0.5, pw, ph);
        ctx.fillStyle = "#718096";
        ctx.textAlign = "center";
        ctx.fillText(o.empty, m.l + pw / 2, m.t + ph / 2);
        ctx.textAlign = "left";
        return;
      }
      if (o.yMin !== null) y0 = Math.min(y0, o.yMin);
      if (o.yMax !== null) y1 = Math.max(y1, o.yMax);
      if (x1 <= x0) x1 = x0 + 10; // one step so far: whole-number ticks from it
      if (y1 <= y0) {
        const pad = Math.abs(y0) * 0.1 || 1;
        y0 -= pad;
        y1 += pad;
      } else {
        const pad = (y1 - y0) * 0.05;
        if (o.yMin === null) y0 -= pad;
        if (o.yMax === null) y1 += pad;
      }
      // The left margin fits the widest y tick label and the rotated axis label.
      const yTicks = niceTicks(y0, y1, Math.max(2, Math.floor(ph / 30)));
      const yFmt = tickFormat(yTicks);
      const labelW = Math.max(...yTicks.map((t) => ctx.measureText(yFmt(t)).width));
      m.l = Math.max(m.l, Math.ceil(labelW) + (o.yLabel ? 24 : 10));
      const pw = w - m.l - m.r;
      if (pw < 10) return;
      const X = (x) => m.l + ((x - x0) / (x1 - x0)) * pw;
      const Y = (y) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
      ctx.strokeStyle = "#cbd5e0";
      ctx.lineWidth = 1;
      ctx.strokeRect(m.l + 0.5, m.t + 0.5, pw, ph);

      // Grid and ticks.
      ctx.fillStyle = "#4a5568";
      ctx.strokeStyle = "#edf2f7";
      ctx.textAlign = "right";
      for (const t of yTicks) {
        const yy = Math.round(Y(t)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(m.l + 1, yy);
        ctx.lineTo(m.l + pw, yy);
        ctx.stroke();
        ctx.fillText(yFmt(t), m.l - 4, yy + 3);
      }
      ctx.textAlign = "center";
      const xTicks = niceTicks(x0, x1, Math.max(2, Math.floor(pw / 70)));
      const xFmt = tickFormat(xTicks);
      for (const t of xTicks) {
        const xx = Math.round(X(t)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(xx, m.t + 1);
        ctx.lineTo(xx, m.t + ph);
        ctx.stroke();
        const label = xFmt(t);
        const half = ctx.measureText(label).width / 2;
        ctx.fillText(label, Math.min(xx, w - 2 - half), m.t + ph + 13); // inside the canvas
      }
      ctx.fillStyle = "#718096";
      ctx.fillText(o.xLabel, m.l + pw / 2, h - 3);
      if (o.yLabel) {
        ctx.save();
        ctx.translate(10, m.t + ph / 2);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(o.yLabel, 0, 0);
        ctx.restore();
      }
      ctx.textAlign = "left";

      // Lines (decimated when there are many more points than pixels).
      ctx.save();
      ctx.beginPath();
      ctx.rect(m.l, m.t, pw, ph);
      ctx.clip();
      this.series.forEach((s, i) => {
        if (!s.points || !s.points.length) return;
        const stride = Math.max(1, Math.floor(s.points.length / (pw * 2)));
        ctx.strokeStyle = s.color || PALETTE[i % PALETTE.length];
        ctx.lineWidth = s.width || 1.6;
        ctx.setLineDash(s.dash || []);
        ctx.beginPath();
        let pen = false;
        for (let k = 0; k < s.points.length; k += stride) {
          const p = s.points[k];
          if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
            pen = false;
            continue;
          }
          if (pen) ctx.lineTo(X(p[0]), Y(p[1]));
          else ctx.moveTo(X(p[0]), Y(p[1]));
          pen = true;
        }
        ctx.stroke();
        if (s.points.length === 1) {
          const p = s.points[0];
          ctx.fillStyle = ctx.strokeStyle;
          ctx.fillRect(X(p[0]) - 2, Y(p[1]) - 2, 4, 4);
        }
      });
      ctx.setLineDash([]);
      ctx.restore();

      // Hover readout: the values of each series at the nearest x.
      if (this.hoverX !== null && this.hoverX >= m.l && this.hoverX <= m.l + pw) {
        const xv = x0 + ((this.hoverX - m.l) / pw) * (x1 - x0);
        const rows = [];
        let xs = null;
        this.series.forEach((s, i) => {
          if (!s.points || !s.points.length) return;
          let best = s.points[0];
          for (const p of s.points) if (Math.abs(p[0] - xv) < Math.abs(best[0] - xv)) best = p;
          if (xs === null) xs = best[0];
          rows.push([s.color || PALETTE[i % PALETTE.length], `${s.label}: ${formatNumber(best[1])}`]);
        });
        if (xs !== null) {
          const xx = Math.round(X(xs)) + 0.5;
          ctx.strokeStyle = "#a0aec0";
          ctx.beginPath();
          ctx.moveTo(xx, m.t);
          ctx.lineTo(xx, m.t + ph);
          ctx.stroke();
          const lines = [[null, `${o.xLabel} ${formatNumber(xs)}`]].concat(rows.slice(0, 12));
          const bw = Math.max(...lines.map((r) => ctx.measureText(r[1]).width)) + 20;
          const bh = lines.length * 14 + 6;
          const bx = xx + bw + 8 < w ? xx + 6 : xx - bw - 6;
          ctx.fillStyle = "rgba(255,255,255,0.92)";
          ctx.strokeStyle = "#cbd5e0";
          ctx.fillRect(bx, m.t + 4, bw, bh);
          ctx.strokeRect(bx + 0.5, m.t + 4.5, bw, bh);
          lines.forEach((r, k) => {
            if (r[0]) {
              ctx.fillStyle = r[0];
              ctx.fillRect(bx + 5, m.t + 10 + k * 14, 8, 8);
            }
            ctx.fillStyle = "#1a202c";
            ctx.fillText(r[1], bx + (r[0] ? 16 : 5), m.t + 18 + k * 14);
          });
        }
      }
    }
  }

  global.LineChart = LineChart;
  // The error banner both pages have (#error with #error-text inside); the message is
  // also kept in state.error, which the browser tests read.
  function errorBanner(state) {
    const box = () => document.getElementById("error");
    return {
      show(msg) {
        state.error = String(msg);
        document.getElementById("error-text").textContent = state.error;
        box().hidden = false;
      },
      clear() {
        state.error = null;
        box().hidden = true;
      },
    };
  }

  global.ganforgeCharts = {LineChart, PALETTE, niceTicks, tickFormat, formatNumber, errorBanner};
})(window);
