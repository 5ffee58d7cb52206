// accessrl studio: the pages' behaviour. Plain JavaScript, no libraries, no network beyond this server.
// Every number comes from the server's JSON endpoints (computed by the accessrl library); this
// script only draws: tables, inline SVG charts and the workflow diagram.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const PALETTE = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be185d", "#0e7490", "#4d7c0f"];

function $(id) { return document.getElementById(id); }

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children || []) node.append(c);
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(x, digits) {
  if (x === null || x === undefined) return "";
  const d = digits === undefined ? 2 : digits;
  return Number(x).toFixed(d);
}

function colourOf(names) {
  const map = {};
  names.forEach((n, i) => { map[n] = PALETTE[i % PALETTE.length]; });
  return map;
}

// An error names its control first ("gamma: ..."): it is shown beside that control, in the
// page's words (without the command line's "accessrl: error: "), else in the page's error box.
function showError(message) {
  for (const old of document.querySelectorAll(".control-error")) old.remove();
  for (const c of document.querySelectorAll("[aria-invalid='true']:not(#spec)")) c.removeAttribute("aria-invalid");
  const text = (message || "").replace(/^accessrl: error: /, "");
  const name = (text.match(/^([A-Za-z_][\w ]*?):/) || [])[1];
  const control = name && (document.getElementById(name) || document.querySelector(`main [name="${name}"]`) || document.getElementById(name.replace(/ /g, "-")));
  const box = $("error") || $("spec-error");
  if (message && control && control.id !== "spec") {
    const note = el("p", {class: "control-error error", role: "alert", id: control.id + "-error", text: text});
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", note.id);
    (control.closest(".row") || control).after(note);
    if (box) { box.textContent = ""; box.hidden = true; }
    return;
  }
  if (!box) return;
  if (message) { box.textContent = text; box.hidden = false; } else { box.textContent = ""; box.hidden = true; }
}

// body[data-idle="1"] once no request is in flight and its result is drawn (tests wait for it).
let pending = 0;
function markIdle() { document.body.dataset.idle = pending === 0 ? "1" : "0"; }

async function api(path, body) {
  pending += 1;
  markIdle();
  try { return await request(path, body); } finally { pending -= 1; setTimeout(markIdle, 0); }
}

// A static export embeds each page's answers; the server is not there to compute others.
const STATIC = (() => { const node = document.getElementById("static-data"); return node ? JSON.parse(node.textContent) : null; })();

async function request(path, body) {
  if (STATIC) {
    if (path in STATIC) return STATIC[path];
    showError("This is a static export: run accessrl studio for live controls.");
    return null;
  }
  const opts = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const res = await fetch(path, opts);
  const data = await res.json();
  if (!res.ok) { showError(data.error || ("request failed: " + res.status)); return null; }
  showError("");
  return data;
}

// One request at a time per page control; a newer request replaces a pending one.
function latest(fn) {
  let running = false, queued = null;
  return async function run(...args) {
    if (running) { queued = args; return; }
    running = true;
    try { await fn(...args); } finally {
      running = false;
      if (queued) { const a = queued; queued = null; run(...a); }
    }
  };
}

function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(...rows.map((cells) => el("tr", {}, cells.map((c) => {
    if (c instanceof Node) return el("td", {}, [c]);
    return el("td", {text: String(c)});
  }))));
}

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
  const raw = (hi - lo) / (n || 5);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function legend(items) {
  return el("ul", {class: "legend"}, items.map((it) => el("li", {}, [
    el("span", {class: "swatch" + (it.dash ? " dash" : ""), style: "border-color:" + it.color + ";background:" + (it.dash ? "transparent" : it.color)}),
    document.createTextNode(it.name),
  ])));
}

// Axes for a chart of size W x H: returns scale functions and the svg root.
function frame(container, opts) {
  const W = opts.width || 640, H = opts.height || 280, m = {l: 62, r: 14, t: 12, b: 44};
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": opts.title || opts.yLabel || "chart"});
  const [x0, x1] = opts.xDomain, [y0, y1] = opts.yDomain;
  const sx = (x) => m.l + (x - x0) / (x1 - x0 || 1) * (W - m.l - m.r);
  const sy = (y) => H - m.b - (y - y0) / (y1 - y0 || 1) * (H - m.t - m.b);
  const axes = svg("g", {class: "axes"});
  for (const t of (opts.yTicks || niceTicks(y0, y1, 5))) {
    if (t < y0 - 1e-9 || t > y1 + 1e-9) continue;
    axes.append(svg("line", {x1: m.l, x2: W - m.r, y1: sy(t), y2: sy(t), class: "grid"}));
    axes.append(svg("text", {x: m.l - 6, y: sy(t) + 4, "text-anchor": "end"}, String(t)));
  }
  if (!opts.categorical) {
    for (const t of niceTicks(x0, x1, 6)) {
      if (t < x0 - 1e-9 || t > x1 + 1e-9) continue;
      axes.append(svg("text", {x: sx(t), y: H - m.b + 16, "text-anchor": "middle"}, String(t)));
    }
  }
  axes.append(svg("line", {x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: "axis"}));
  axes.append(svg("line", {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: "axis"}));
  if (opts.xLabel) axes.append(svg("text", {x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle", class: "label"}, opts.xLabel));
  if (opts.yLabel) axes.append(svg("text", {x: 14, y: (m.t + H - m.b) / 2, transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})`, "text-anchor": "middle", class: "label"}, opts.yLabel));
  root.append(axes);
  container.replaceChildren(root);
  return {root, sx, sy, W, H, m};
}

function extent(values, pad) {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (lo === hi) { lo -= 1; hi += 1; }
  const p = (hi - lo) * (pad === undefined ? 0.06 : pad);
  return [lo - p, hi + p];
}

function lineChart(container, opts) {
  const xs = opts.series.flatMap((s) => s.x), ys = opts.series.flatMap((s) => s.y).concat(opts.extraY || []);
  const f = frame(container, {...opts, xDomain: opts.xDomain || [Math.min(...xs), Math.max(...xs)], yDomain: extent(ys)});
  for (const v of opts.vlines || []) {
    f.root.append(svg("line", {x1: f.sx(v.x), x2: f.sx(v.x), y1: f.m.t, y2: f.H - f.m.b, class: "vline"}));
    f.root.append(svg("text", {x: f.sx(v.x) + 4, y: f.m.t + 12, class: "note"}, v.label));
  }
  for (const s of opts.series) {
    const d = s.x.map((x, i) => (i ? "L" : "M") + f.sx(x).toFixed(1) + "," + f.sy(s.y[i]).toFixed(1)).join("");
    f.root.append(svg("path", {d, fill: "none", stroke: s.color, "stroke-width": s.dash ? 1.5 : 2.2,
      "stroke-dasharray": s.dash ? "6 4" : "none", "data-series": s.name}));
  }
  for (const p of opts.markers || []) {
    f.root.append(svg("circle", {cx: f.sx(p.x), cy: f.sy(p.y), r: 5, fill: p.color, class: "marker"}));
  }
  container.append(legend(opts.series.filter((s) => !s.hideLegend).map((s) => ({name: s.name, color: s.color, dash: s.dash}))));
}

function barChart(container, opts) {
  if (opts.stacked) return stackedBarChart(container, opts);
  const all = opts.series.flatMap((s) => s.values).concat([0]);
  const f = frame(container, {...opts, categorical: true, xDomain: [0, opts.labels.length], yDomain: extent(all, 0.08)});
  const groupW = (f.sx(1) - f.sx(0)), barW = groupW * 0.8 / opts.series.length;
  const every = opts.labelEvery || 1;  // a long axis labels every k-th bar only (k chosen by the caller)
  opts.labels.forEach((label, i) => {
    if (i % every === 0) {
      f.root.append(svg("line", {x1: f.sx(i + 0.5), x2: f.sx(i + 0.5), y1: f.H - f.m.b, y2: f.H - f.m.b + 4, class: "axis"}));
      f.root.append(svg("text", {x: f.sx(i + 0.5), y: f.H - f.m.b + 16, "text-anchor": "middle", class: "tick"}, label));
    }
    opts.series.forEach((s, j) => {
      const v = s.values[i], y = f.sy(Math.max(v, 0)), h = Math.abs(f.sy(v) - f.sy(0));
      f.root.append(svg("rect", {x: f.sx(i) + groupW * 0.1 + j * barW, y, width: Math.max(barW - 2, 1), height: Math.max(h, 0.5), fill: s.color},
        undefined));
      f.root.lastChild.append(svg("title", {}, `${s.name}, ${label}: ${v}`));
    });
  });
  if (opts.series.length > 1 || opts.legend) container.append(legend(opts.series.map((s) => ({name: s.name, color: s.color}))));
}

// One bar per label, the series stacked (for long day axes: grouped bars would be slivers).
function stackedBarChart(container, opts) {
  const totals = opts.labels.map((_, i) => opts.series.reduce((t, s) => t + s.values[i], 0));
  const f = frame(container, {...opts, categorical: true, xDomain: [0, opts.labels.length], yDomain: [0, Math.max(1, ...totals) * 1.06]});
  const every = opts.labelEvery || 1, w = Math.max((f.sx(1) - f.sx(0)) * 0.85, 0.6);
  opts.labels.forEach((label, i) => {
    if (i % every === 0) {
      f.root.append(svg("line", {x1: f.sx(i + 0.5), x2: f.sx(i + 0.5), y1: f.H - f.m.b, y2: f.H - f.m.b + 4, class: "axis"}));
      f.root.append(svg("text", {x: f.sx(i + 0.5), y: f.H - f.m.b + 16, "text-anchor": "middle", class: "tick"}, label));
    }
    let base = 0;
    for (const s of opts.series) {
      const v = s.values[i];
      if (!v) continue;
      const r = svg("rect", {x: f.sx(i + 0.5) - w / 2, y: f.sy(base + v), width: w, height: f.sy(base) - f.sy(base + v), fill: s.color});
      r.append(svg("title", {}, `${s.name}, ${label}: ${v}`));
      f.root.append(r);
      base += v;
    }
  });
  container.append(legend(opts.series.map((s) => ({name: s.name, color: s.color}))));
}

function histChart(container, opts) {
  const xs = opts.bins.map((b) => b.x).concat([opts.exact, opts.ci[0], opts.ci[1]]);
  const f = frame(container, {...opts, xDomain: extent(xs, 0.08), yDomain: [0, Math.max(...opts.bins.map((b) => b.count)) * 1.1]});
  f.root.append(svg("rect", {x: f.sx(opts.ci[0]), width: Math.max(f.sx(opts.ci[1]) - f.sx(opts.ci[0]), 1.5), y: f.m.t, height: f.H - f.m.t - f.m.b, class: "band"}));
  const w = Math.max(4, Math.min(24, (f.W - f.m.l - f.m.r) / Math.max(opts.bins.length * 2, 12)));
  for (const b of opts.bins) {
    f.root.append(svg("rect", {x: f.sx(b.x) - w / 2, y: f.sy(b.count), width: w, height: f.sy(0) - f.sy(b.count), fill: opts.color}));
  }
  f.root.append(svg("line", {x1: f.sx(opts.exact), x2: f.sx(opts.exact), y1: f.m.t, y2: f.H - f.m.b, class: "exact"}));
  container.append(legend([{name: opts.name + " episodes", color: opts.color},
    {name: `exact value ${fmt(opts.exact)}`, color: "#111827"},
    {name: `95% interval of the mean [${fmt(opts.ci[0])}, ${fmt(opts.ci[1])}]`, color: "#fcd34d"}]));
}

function intervalChart(container, rows) {
  const xs = rows.flatMap((r) => [r.low, r.high, r.truth]);
  const H = 40 + rows.length * 34;
  const f = frame(container, {xDomain: extent(xs, 0.1), yDomain: [0, rows.length], yTicks: [], height: H, xLabel: "value from new_request"});
  rows.forEach((r, i) => {
    const y = f.sy(rows.length - i - 0.5);
    f.root.append(svg("text", {x: f.m.l + 4, y: y - 8, class: "note"}, r.name));
    f.root.append(svg("line", {x1: f.sx(r.low), x2: f.sx(r.high), y1: y, y2: y, stroke: "#1d4ed8", "stroke-width": 3}));
    f.root.append(svg("circle", {cx: f.sx(r.value), cy: y, r: 4.5, fill: "#1d4ed8"}));
    f.root.append(svg("path", {d: `M${f.sx(r.truth) - 5},${y - 5}L${f.sx(r.truth) + 5},${y + 5}M${f.sx(r.truth) - 5},${y + 5}L${f.sx(r.truth) + 5},${y - 5}`, stroke: "#b91c1c", "stroke-width": 2}));
  });
  container.append(legend([{name: "estimate and 95% interval", color: "#1d4ed8"}, {name: "true value (cross)", color: "#b91c1c"}]));
}

// The workflow diagram: nodes placed by the server (columns by distance from the start), one
// curved arrow per outcome labelled "action p=.. r=..", the policy's arrows in red.
function drawDiagram(container, layout, opts) {
  const o = opts || {};
  const rows = Math.max(...layout.nodes.map((n) => n.row + 1));
  const W = Math.max(720, 230 * layout.columns), H = Math.max(240, 150 * rows + 80), BW = 150, BH = 52;
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", class: "workflow",
    "aria-label": "Workflow diagram: states as boxes, actions as arrows"});
  const defs = svg("defs");
  for (const [id, colour] of [["arrow", "#94a3b8"], ["arrow-chosen", "#b91c1c"]]) {
    const mk = svg("marker", {id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
    mk.append(svg("path", {d: "M0,0L10,5L0,10z", fill: colour}));
    defs.append(mk);
  }
  root.append(defs);
  const pos = {};
  // Columns spread evenly between the margins; rows as the server placed them.
  for (const n of layout.nodes) pos[n.name] = {x: 20 + BW / 2 + (layout.columns > 1 ? n.column / (layout.columns - 1) : 0.5) * (W - 40 - BW), y: 20 + n.y * (H - 80)};
  const values = o.values || Object.fromEntries(layout.nodes.map((n) => [n.name, n.value]));
  const policy = o.policy !== undefined ? o.policy : Object.fromEntries(layout.nodes.filter((n) => n.action).map((n) => [n.name, n.action]));
  const clip = (c, toward) => {  // where the segment from the box centre c toward a point leaves the box
    const dx = toward.x - c.x, dy = toward.y - c.y;
    const t = Math.min(Math.abs(dx) > 1e-9 ? (BW / 2 + 3) / Math.abs(dx) : Infinity, Math.abs(dy) > 1e-9 ? (BH / 2 + 3) / Math.abs(dy) : Infinity);
    return {x: c.x + dx * t, y: c.y + dy * t};
  };
  const edges = svg("g", {class: "edges"}), labels = svg("g", {class: "labels"});
  const labelled = new Set();  // with o.q, the first arrow of each action also shows its Q
  for (const e of layout.edges) {
    const a = pos[e.source], b = pos[e.target];
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const span = Math.abs(layout.nodes.find((n) => n.name === e.target).column - layout.nodes.find((n) => n.name === e.source).column);
    // An edge that skips a column bends around the states between (below them).
    const bend = 46 * e.lane + (span > 1 ? (H - 60) * (dx >= 0 ? 1 : -1) : 0);
    const c = {x: (a.x + b.x) / 2 - dy / len * bend, y: (a.y + b.y) / 2 + dx / len * bend};
    const p0 = clip(a, c), p1 = clip(b, c);
    const chosen = policy && policy[e.source] === e.action;
    const path = svg("path", {d: `M${p0.x},${p0.y} Q${c.x},${c.y} ${p1.x},${p1.y}`, class: "edge" + (chosen ? " chosen" : ""),
      "marker-end": `url(#${chosen ? "arrow-chosen" : "arrow"})`, "data-source": e.source, "data-action": e.action, "data-target": e.target});
    edges.append(path);
    const mid = {x: 0.25 * p0.x + 0.5 * c.x + 0.25 * p1.x, y: 0.25 * p0.y + 0.5 * c.y + 0.25 * p1.y};
    let text = e.action + (e.p === 1 ? "" : ` p=${Number(e.p.toPrecision(6))}`) + ` r=${Number(e.reward.toPrecision(6))}`;
    const key = e.source + "\u0000" + e.action;
    if (o.q && o.q[e.source] && o.q[e.source][e.action] !== undefined && !labelled.has(key)) {
      labelled.add(key);
      text += ` | Q=${fmt(o.q[e.source][e.action], 1)}`;
    }
    const w = text.length * 6.1 + 8;
    const g = svg("g", {class: "edge-label" + (chosen ? " chosen" : "")});
    g.append(svg("rect", {x: mid.x - w / 2, y: mid.y - 9, width: w, height: 16, rx: 3}));
    g.append(svg("text", {x: mid.x, y: mid.y + 3, "text-anchor": "middle"}, text));
    labels.append(g);
  }
  root.append(edges);
  const nodes = svg("g", {class: "nodes"});
  for (const n of layout.nodes) {
    const p = pos[n.name];
    const g = svg("g", {class: "node" + (n.terminal ? " terminal" : ""), "data-state": n.name, "data-action": (policy && policy[n.name]) || ""});
    g.append(svg("rect", {x: p.x - BW / 2, y: p.y - BH / 2, width: BW, height: BH, rx: 9}));
    g.append(svg("text", {x: p.x, y: p.y - 5, "text-anchor": "middle", class: "name"}, n.name));
    const v = values ? values[n.name] : null;
    g.append(svg("text", {x: p.x, y: p.y + 14, "text-anchor": "middle", class: "value"}, v === null || v === undefined ? "" : "V = " + fmt(v)));
    nodes.append(g);
  }
  root.append(nodes, labels);
  container.replaceChildren(root);
}

function numberOf(id) { const v = $(id).value.trim(); return v === "" || isNaN(Number(v)) ? v : Number(v); }

// Typed numbers wait for a pause in the typing (so "0.5" is not first sent as "0"); sliders and
// menus act at once; leaving the field (change) sends at once.
function onChange(ids, fn) {
  for (const id of ids) {
    const typed = $(id).tagName === "INPUT" && ["number", "text"].includes($(id).type);
    let timer = null;
    $(id).addEventListener("input", typed ? (...a) => { clearTimeout(timer); timer = setTimeout(() => fn(...a), 300); } : fn);
    $(id).addEventListener("change", (...a) => { clearTimeout(timer); fn(...a); });
  }
}

const PAGES = {};

PAGES["returns"] = function () {
  const parse = (text) => text.split(",").map((t) => t.trim()).filter((t) => t !== "").map((t) => (isNaN(Number(t)) ? t : Number(t)));
  const update = latest(async () => {
    const sequences = {};
    for (const input of document.querySelectorAll("input.route")) sequences[input.dataset.route] = parse(input.value);
    const data = await api("/api/lab/returns", {sequences, gamma: numberOf("gamma")});
    if (!data) return;
    fillTable("returns-table", data.routes.map((r) => [r.route, r.rewards.join(", "), r.terms.map((t) => fmt(t, 2)).join(" + "), fmt(r["return"], 1)]));
    $("best-route").textContent = data.best;
    const colours = colourOf(data.routes.map((r) => r.route));
    barChart($("returns-chart"), {labels: data.routes.map((r) => r.route), yLabel: "return G",
      series: [{name: "discounted return", values: data.routes.map((r) => r["return"]), color: colours[data.best]}]});
    $("lines").textContent = data.routes.map((r) => r.line).join("\n");
  });
  onChange(["gamma", ...[...document.querySelectorAll("input.route")].map((i) => i.id)], update);
  update();
};

PAGES["bellman-backup"] = function () {
  const update = latest(async () => {
    const data = await api("/api/lab/bellman-backup", {gamma: numberOf("gamma")});
    if (!data) return;
    drawDiagram($("diagram"), data.diagram);
    fillTable("backup-table", data.rows.map((r) => [r.action + (r.action === data.greedy ? " (greedy)" : ""), fmt(r.reward, 1), fmt(r.discounted_next, 1), fmt(r.q, 1)]));
    $("lines").textContent = data.lines.join("\n");
  });
  onChange(["gamma"], update);
  update();
};

PAGES["value-iteration"] = function () {
  let data = null, k = 0;
  const render = () => {
    const s = data.sweeps[k], kmax = data.sweeps.length - 1;
    $("k").textContent = String(k);
    $("kmax").textContent = String(kmax);
    $("converged").textContent = k === kmax ? "(converged: the last sweep changed nothing beyond the tolerance)" : "";
    drawDiagram($("diagram"), data.diagram, {values: s.values, policy: s.policy, q: s.q});
    const states = Object.keys(s.values);
    fillTable("vi-table", states.map((st) => [st, fmt(s.values[st], 2),
      s.q && s.q[st] ? Object.entries(s.q[st]).map(([a, q]) => `${a} ${fmt(q, 2)}${s.policy[st] === a ? " *" : ""}`).join(", ") : (k === 0 ? "" : "terminal")]));
    $("sweep-lines").textContent = data.sweeps.slice(1, k + 1).map((w) => w.line).join("\n");
    $("step").disabled = k === kmax;
  };
  const load = async () => {
    data = await api("/api/lab/value-iteration", {model: $("model").value});
    if (!data) return;
    k = 0;
    render();
  };
  $("reset").addEventListener("click", () => { k = 0; render(); });
  $("step").addEventListener("click", () => { k = Math.min(k + 1, data.sweeps.length - 1); render(); });
  $("run").addEventListener("click", () => { k = data.sweeps.length - 1; render(); });
  $("model").addEventListener("change", load);
  load();
};

// A static export holds the whole curve: Q(new_request, a) at p is read off it (each curve is a
// straight line in p, so interpolating between its points is exact); the diagram stays at the default p.
function abandonmentFromCurve(base, p) {
  const g = base.grid, k = Math.max(0, Math.min(g.length - 2, g.findIndex((x) => x >= p) - 1));
  const t = g[k + 1] > g[k] ? (p - g[k]) / (g[k + 1] - g[k]) : 0;
  const q = {};
  for (const [a, ys] of Object.entries(base.curves)) q[a] = ys[k] + t * (ys[k + 1] - ys[k]);
  const action = Object.keys(q).reduce((best, a) => (q[a] > q[best] ? a : best));
  return Object.assign({}, base, {p, q, action});
}

PAGES["abandonment"] = function () {
  const update = latest(async () => {
    const p = Number($("p").value);
    $("p-value").textContent = p.toFixed(3);
    const data = STATIC && STATIC["/api/lab/abandonment"] && p <= Math.max(...STATIC["/api/lab/abandonment"].grid)
      ? abandonmentFromCurve(STATIC["/api/lab/abandonment"], p) : await api("/api/lab/abandonment", {p});
    if (!data) return;
    const names = Object.keys(data.curves), colours = colourOf(names);
    const shown = names.filter((a) => a !== "auto_approve");
    lineChart($("flip-chart"), {xLabel: "abandonment probability p", yLabel: "Q(new_request, a)",
      series: shown.map((a) => ({name: a, x: data.grid, y: data.curves[a], color: colours[a]})),
      vlines: data.breakevens.map((b) => ({x: b.p, label: `breakeven p = ${b.fraction} = ${b.p.toFixed(4)}`})),
      markers: shown.map((a) => ({x: data.p, y: data.q[a], color: colours[a]}))});
    drawDiagram($("diagram"), data.diagram);
    $("action").textContent = data.action;
    const b = data.breakevens[0];
    $("breakeven-note").textContent = b ? (data.p > b.p ? `(p above ${b.fraction}: ${b.to} wins)` : `(p at or below ${b.fraction}: ${b.from} wins)`) : "";
    fillTable("q-table", names.map((a) => [a + (a === data.action ? " (best)" : ""), fmt(data.q[a], 2)]));
  });
  onChange(["p"], update);
  update();
};

PAGES["monte-carlo"] = function () {
  const update = latest(async () => {
    const data = await api("/api/lab/monte-carlo", {episodes: numberOf("episodes"), seed: numberOf("seed")});
    if (!data) return;
    fillTable("mc-table", data.rows.map((r) => [r.action, fmt(r.mean, 2), `[${fmt(r.ci95[0])}, ${fmt(r.ci95[1])}]`, fmt(r.exact, 2), String(r.abandoned)]));
    $("abandoned").textContent = String(data.abandoned);
    const box = $("histograms");
    box.replaceChildren();
    data.rows.forEach((r, i) => {
      const fig = el("figure", {}, [el("div", {class: "chart"}), el("figcaption", {text: `Returns of ${data.episodes} episodes starting with ${r.action}.`})]);
      box.append(fig);
      histChart(fig.firstChild, {name: r.action, bins: r.histogram, exact: r.exact, ci: r.ci95, color: PALETTE[i + 1], xLabel: "discounted return", yLabel: "episodes"});
    });
  });
  $("run").addEventListener("click", update);
  update();
};

PAGES["q-learning"] = function () {
  const update = latest(async () => {
    $("run").disabled = true;
    try {
      const data = await api("/api/lab/q-learning", {epsilon: numberOf("epsilon"), omega: numberOf("omega"), episodes: numberOf("episodes"), seed: numberOf("seed")});
      if (!data) return;
      const start = data.start, names = Object.keys(data.curves), colours = colourOf(names);
      const last = data.episodes[data.episodes.length - 1];
      const series = names.map((a) => ({name: `Q(${start}, ${a})`, x: data.episodes, y: data.curves[a], color: colours[a]}));
      for (const a of names) series.push({name: `Q*(${start}, ${a}) = ${fmt(data.q_star[start][a])}`, x: [0, last], y: [data.q_star[start][a], data.q_star[start][a]], color: colours[a], dash: true});
      lineChart($("q-chart"), {series, xDomain: [0, last], xLabel: "episodes", yLabel: "Q estimate"});
      const rows = [];
      for (const [s, acts] of Object.entries(data.q)) for (const [a, q] of Object.entries(acts)) rows.push([s, a, fmt(q, 2), fmt(data.q_star[s][a], 2), String(data.visits[s][a]), data.policy[s] === a ? "yes" : ""]);
      fillTable("q-table", rows);
      $("lines").textContent = data.lines.join("\n");
    } finally { $("run").disabled = false; }
  });
  $("run").addEventListener("click", update);
  update();
};

PAGES["exploration"] = function () {
  const update = latest(async () => {
    const eps = Number($("epsilon").value);
    $("epsilon-value").textContent = eps.toFixed(2);
    const data = await api("/api/lab/exploration", {epsilon: eps, seed: numberOf("seed"), steps: numberOf("steps")});
    if (!data) return;
    const names = Object.keys(data.visits), colours = colourOf(names);
    $("selected").textContent = data.selected;
    barChart($("visits-chart"), {labels: names, yLabel: "visits", series: [{name: "visits", values: names.map((a) => data.visits[a]), color: colours[data.selected]}]});
    fillTable("explore-table", names.map((a) => [a, String(data.visits[a]), fmt(data.estimates[a], 2), fmt(data["true"][a], 2)]));
    $("lines").textContent = data.line;
  });
  onChange(["epsilon", "seed", "steps"], update);
  update();
};

PAGES["reward-design"] = function () {
  let info = null;
  const weights = () => {
    const w = {};
    for (const input of document.querySelectorAll("#weights input")) if (input.value.trim() !== "") w[input.dataset.component] = numberOf(input.id);
    return w;
  };
  const update = latest(async () => {
    const data = await api("/api/lab/reward-design", {model: $("model").value, weights: info ? weights() : null});
    if (!data) return;
    if (!info) {
      info = data;
      const box = $("weights");
      for (const [c, meaning] of Object.entries(data.components)) {
        const input = el("input", {id: "w-" + c, type: "number", step: "any", value: String(data.documented[c]), "data-component": c, "aria-describedby": "d-" + c});
        input.addEventListener("input", update);
        box.append(el("div", {class: "row"}, [el("label", {for: "w-" + c, text: c}), input, el("span", {id: "d-" + c, class: "hint", text: meaning})]));
      }
      update();
      return;
    }
    fillTable("audit-table", data.reports.map((r) => [r.design, r.start_action, String(r.score), fmt(r.violations_per_1000, 1), fmt(r.severe_per_1000, 1), fmt(r.unfair_denials_per_1000, 1),
      r.flagged ? "FLAGGED: " + r.reason : (r.shortcuts.length ? "uses " + r.shortcuts.join(", ") : "no shortcut")]));
    barChart($("audit-chart"), {labels: data.reports.map((r) => r.design), yLabel: "per 1,000 requests", legend: true,
      series: [{name: "policy violations", values: data.reports.map((r) => r.violations_per_1000), color: PALETTE[4]},
               {name: "severe outcomes", values: data.reports.map((r) => r.severe_per_1000), color: PALETTE[1]},
               {name: "unfair denials", values: data.reports.map((r) => r.unfair_denials_per_1000), color: PALETTE[3]}]});
    $("lines").textContent = data.reports.map((r) => r.line).join("\n");
  });
  const preset = (which) => {
    for (const input of document.querySelectorAll("#weights input")) {
      const v = info[which][input.dataset.component];
      input.value = v === undefined ? "0" : String(v);
    }
    update();
  };
  $("preset-speed").addEventListener("click", () => preset("speed_only"));
  $("preset-aware").addEventListener("click", () => preset("documented"));
  $("model").addEventListener("change", update);
  update();
};

PAGES["policy-gradient"] = function () {
  const update = latest(async () => {
    const data = await api("/api/lab/policy-gradient", {lr: numberOf("lr"), baseline: $("baseline").value, steps: numberOf("steps"), sampled: numberOf("sampled"), seed: numberOf("seed")});
    if (!data) return;
    const h0 = data.history[0], colours = colourOf(data.actions);
    fillTable("pg-table", data.actions.map((a, i) => [a, fmt(data.returns[i], 2), fmt(h0.before[i], 3), fmt(h0.after[i], 3), fmt(data.final[i], 3), fmt(h0.sampled[i], 3), fmt(h0.exact[i], 3)]));
    const steps = [0, ...data.history.map((_, i) => i + 1)];
    lineChart($("pg-chart"), {xLabel: "step", yLabel: "probability", xDomain: [0, Math.max(1, data.history.length)],
      series: data.actions.map((a, i) => ({name: `pi(${a})`, x: steps, y: [h0.before[i], ...data.history.map((h) => h.after[i])], color: colours[a]}))});
    $("lines").textContent = data.lines.join("\n");
  });
  onChange(["lr", "baseline", "steps", "sampled", "seed"], update);
  update();
};

PAGES["held-out"] = function () {
  const update = latest(async () => {
    const data = await api("/api/lab/held-out", {requests: numberOf("requests"), epsilon: numberOf("epsilon"), seed: numberOf("seed"), prevent: $("prevent").checked});
    if (!data) return;
    $("lesson-lines").textContent = data.lesson.join("\n");
    const e = data.episodes, lk = data.leakage;
    $("split-note").textContent = `Split by time at ${data.cutoffs[0].slice(0, 16)} and ${data.cutoffs[1].slice(0, 16)}: train ${e.train}, validation ${e.valid}, test ${e.test} episodes` + (lk.prevented ? " (leaky episodes dropped)." : " (leaky episodes kept).");
    fillTable("leak-table", [["requester also seen in an earlier period", lk.requester_overlap], ["outcome after the cutoff", lk.late_outcomes], ["episode straddles a cutoff", lk.straddling], ["features recorded after the decision", lk.late_features]]);
    fillTable("ho-table", data.rows.map((r) => [r.policy, r.wis ? fmt(r.wis[0], 2) : "no support", r.wis ? `[${fmt(r.wis[1])}, ${fmt(r.wis[2])}]` : r.reason, fmt(r["true"], 2), fmt(r.ess, 1), String(r.severe)]));
    intervalChart($("ho-chart"), data.rows.filter((r) => r.wis).map((r) => ({name: r.policy, value: r.wis[0], low: r.wis[1], high: r.wis[2], truth: r["true"]})));
  });
  $("run").addEventListener("click", update);
  update();
};

PAGES["editor"] = function () {
  const text = $("spec"), gutter = $("gutter");
  const numbers = (bad) => {
    const n = text.value.split("\n").length;
    gutter.replaceChildren(...Array.from({length: n}, (_, i) => el("span", {class: i + 1 === bad ? "bad" : "", text: String(i + 1) + "\n"})));
  };
  const solve = latest(async () => {
    const data = await api("/api/editor/solve", {text: text.value});
    if (!data) return;
    const box = $("spec-error");
    if (!data.ok) {
      // the message names its line once: "(line N)" only when the message does not already say it
      box.textContent = data.error + (data.line && !/\bline \d+/.test(data.error) ? ` (line ${data.line})` : "");
      box.hidden = false;
      box.dataset.line = data.line || "";
      text.setAttribute("aria-invalid", "true");
      numbers(data.line);
      $("results").classList.add("stale");
      $("stale-note").hidden = false;
      return;
    }
    $("results").classList.remove("stale");
    $("stale-note").hidden = true;
    box.hidden = true;
    box.textContent = "";
    text.removeAttribute("aria-invalid");
    numbers(null);
    drawDiagram($("diagram"), data.diagram);
    fillTable("solution-table", Object.keys(data.values).map((s) => [s, fmt(data.values[s], 2), data.policy[s] || "(terminal)",
      data.q[s] ? Object.entries(data.q[s]).map(([a, q]) => `${a} ${fmt(q, 2)}`).join(", ") : ""]));
  });
  let timer = null;
  text.addEventListener("input", () => { numbers(null); clearTimeout(timer); timer = setTimeout(solve, 200); });
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
  $("load").addEventListener("click", async () => {
    const data = await api("/api/editor/spec/" + encodeURIComponent($("starter").value));
    if (data) { text.value = data.text; solve(); }
  });
  numbers(null);
  solve();
};

PAGES["exercises"] = function () {
  for (const button of document.querySelectorAll("button.check")) {
    button.addEventListener("click", async () => {
      const n = button.dataset.exercise;
      const data = await api("/api/exercise/" + n, {answer: $("answer-" + n).value});
      if (!data) return;
      const box = $("verdict-" + n);
      box.className = "verdict " + (data.passed ? "pass" : "fail");
      box.replaceChildren(el("p", {}, [el("strong", {text: data.passed ? "Passed." : "Not yet."})]),
        el("ul", {}, data.feedback.map((f) => el("li", {text: f}))));
    });
  }
};

PAGES["quiz"] = function () {
  let questions = [], i = 0, answers = [];
  const show = () => {
    const q = questions[i];
    $("quiz-progress").textContent = `Question ${i + 1} of ${questions.length}`;
    $("question").textContent = `${q.prompt} [${q.topic}]`;
    $("choices").replaceChildren(...q.choices.map((c, k) => el("div", {class: "choice"}, [
      el("input", {type: "radio", name: "choice", id: "choice-" + k, value: "abcd"[k]}),
      el("label", {for: "choice-" + k, text: `(${"abcd"[k]}) ${c}`})])));
    $("feedback").replaceChildren();
    $("answer").hidden = false;
    $("next").hidden = true;
    $("choice-0").focus();
  };
  const finish = async () => {
    const data = await api("/api/quiz/submit", {answers});
    if (!data) return;
    $("quiz").hidden = true;
    $("result").hidden = false;
    $("score").textContent = `Score: ${data.correct}/${data.total} (${Math.round(100 * data.correct / data.total)}%)`;
    $("verdict").textContent = data.passed ? "Lesson complete." : data.summary.split(" - ")[1] + ".";
    $("review").hidden = data.review.length === 0;
    $("review-list").replaceChildren(...data.review.map((m) => el("li", {class: "missed"}, [
      el("p", {class: "prompt", text: `${m.prompt}`}),
      el("p", {text: `You answered (${m.given}); the answer is (${m.answer}) ${m.answer_text}.`}),
      el("p", {text: "Why: " + m.explanation}),
      el("p", {}, [el("a", {href: m.lab, text: `Revisit the lab: ${m.lab_title}`})])])));
    $("again").focus();
  };
  $("answer").addEventListener("click", async () => {
    const picked = document.querySelector("input[name=choice]:checked");
    if (!picked) { $("feedback").replaceChildren(el("p", {text: "Choose one answer first."})); return; }
    const data = await api("/api/quiz/check", {index: questions[i].index, answer: picked.value});
    if (!data) return;
    answers[questions[i].index] = picked.value;  // submitted in the questions' own order
    $("feedback").replaceChildren(data.correct ? el("p", {class: "pass", text: "Correct."}) :
      el("div", {class: "fail"}, [el("p", {text: `Not quite: the answer is (${data.answer}) ${data.answer_text}.`}), el("p", {text: "Why: " + data.explanation})]));
    $("answer").hidden = true;
    $("next").hidden = false;
    $("next").textContent = i + 1 < questions.length ? "Next question" : "See your score";
    $("next").focus();
  });
  $("next").addEventListener("click", () => { if (i + 1 < questions.length) { i += 1; show(); } else finish(); });
  const start = () => api("/api/quiz").then((data) => { if (data) { questions = data.questions; i = 0; answers = []; show(); } });
  $("again").addEventListener("click", () => { $("result").hidden = true; $("quiz").hidden = false; start(); });
  start();
};

// Day labels: the smallest interval in days (1, 2, a week, two weeks, four weeks, ...) that keeps
// at most one label per 56 viewBox units, so "MM-DD" labels never touch whatever the span.
function dayInterval(nDays, plotWidth) {
  const fit = Math.max(1, Math.floor(plotWidth / 56));
  for (const k of [1, 2, 7, 14, 28, 56, 91, 182, 364]) if (Math.ceil(nDays / k) <= fit) return k;
  return Math.ceil(nDays / fit);
}

function humanTime(iso) {  // "2026-03-01T14:05:09.123456+00:00" -> "2026-03-01 14:05 UTC"
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function waitText(hours) {  // as accessrl.report.processmap.wait_text
  if (hours < 1) return `${(hours * 60).toFixed(0)}m`;
  return hours < 48 ? `${hours.toFixed(1)}h` : `${(hours / 24).toFixed(1)}d`;
}

// The process map drawn from accessrl.offline.processmap's JSON: stages in columns by their
// breadth-first distance from the usual first stage (final stages last, as `logs map` draws
// them), one arrow per shown (stage, action, next stage), its width growing with the count.
function processMapChart(container, map, minCount) {
  const edges = map.edges.filter((e) => e.count >= minCount);
  const shown = new Set(edges.flatMap((e) => [e.state, e.next_state]));
  const nodes = map.nodes.filter((n) => shown.has(n.name));
  const succ = {};
  for (const e of edges) (succ[e.state] = succ[e.state] || []).push(e.next_state);
  const depth = {};
  const roots = [map.start, ...nodes.map((n) => n.name)].filter((n) => shown.has(n));
  for (const r of roots) {
    if (r in depth) continue;
    depth[r] = Object.keys(depth).length ? Math.max(...Object.values(depth)) + 1 : 0;
    const todo = [r];
    while (todo.length) {
      const s = todo.shift();
      for (const t of succ[s] || []) if (!(t in depth)) { depth[t] = depth[s] + 1; todo.push(t); }
    }
  }
  const last = Math.max(-1, ...nodes.filter((n) => !n.terminal).map((n) => depth[n.name])) + 1;
  const col = {}, rows = {}, pos = {};
  const BW = 150, BH = 44, CW = 250, RH = 96;
  // a window narrower than the columns: the columns become rows (the map reads top to bottom)
  const vertical = (container.clientWidth || 1e9) < 60 + (last + 1) * CW - (CW - BW);
  const CH = 120, RW = BW + 24;
  for (const n of nodes) {
    const c = n.terminal ? last : depth[n.name], r = rows[c] || 0;
    col[n.name] = c;
    pos[n.name] = vertical ? [12 + r * RW, 40 + c * CH] : [30 + c * CW, 40 + r * RH];
    rows[c] = r + 1;
  }
  const mostRows = Math.max(1, ...Object.values(rows));
  const W = vertical ? 24 + mostRows * RW - 24 + 12 : 60 + (last + 1) * CW - (CW - BW);
  const H = vertical ? 40 + last * CH + BH + 30 : 60 + mostRows * RH;
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "process map", class: "process-map"});
  root.append(svg("defs", {}));
  root.firstChild.innerHTML = '<marker id="pm-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" orient="auto-start-reverse" markerUnits="userSpaceOnUse"><path d="M0,0L10,5L0,10z" fill="#475569"></path></marker>';
  const most = Math.max(1, ...edges.map((e) => e.count));
  const lanes = {};
  for (const e of edges) {
    const key = e.state + "\u0000" + e.next_state, lane = lanes[key] || 0;
    lanes[key] = lane + 1;
    const [x0, y0] = pos[e.state], [x1, y1] = pos[e.next_state];
    let d, lx, ly;
    if (e.state === e.next_state && vertical) {  // a loop below the box's right-hand corner
      const h = 20 + 14 * lane;
      d = `M${x0 + BW - 20},${y0 + BH}C${x0 + BW - 20},${y0 + BH + h} ${x0 + BW + 4},${y0 + BH + h} ${x0 + BW - 4},${y0 + BH}`;
      [lx, ly] = [x0 + BW - 12, y0 + BH + h * 0.75 + 6];
    } else if (e.state === e.next_state) {
      const h = 26 + 18 * lane;
      d = `M${x0 + BW / 2 - 30},${y0}C${x0 + BW / 2 - 40},${y0 - h} ${x0 + BW / 2 + 40},${y0 - h} ${x0 + BW / 2 + 30},${y0}`;
      [lx, ly] = [x0 + BW / 2, y0 - h * 0.75 - 2];
    } else if (vertical) {
      const fwd = y1 > y0 || (y1 === y0 && x1 > x0);
      const a = [x0 + BW / 2, fwd ? y0 + BH : y0], b = [x1 + BW / 2, fwd ? y1 : y1 + BH];
      const bend = (lane + 1) * 18 * (lane % 2 ? -1 : 1) * (fwd ? 1 : 2.5);
      const mx = (a[0] + b[0]) / 2 + bend, my = (a[1] + b[1]) / 2;
      d = `M${a[0]},${a[1]}Q${mx},${my} ${b[0]},${b[1]}`;
      [lx, ly] = [0.25 * a[0] + 0.5 * mx + 0.25 * b[0], 0.25 * a[1] + 0.5 * my + 0.25 * b[1]];
    } else {
      const fwd = x1 > x0 || (x1 === x0 && y1 > y0);
      const a = [fwd ? x0 + BW : x0, y0 + BH / 2], b = [fwd ? x1 : x1 + BW, y1 + BH / 2];
      const bend = (lane + 1) * 18 * (lane % 2 ? -1 : 1) * (fwd ? 1 : 2.5);
      const mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2 + bend;
      d = `M${a[0]},${a[1]}Q${mx},${my} ${b[0]},${b[1]}`;
      [lx, ly] = [0.25 * a[0] + 0.5 * mx + 0.25 * b[0], 0.25 * a[1] + 0.5 * my + 0.25 * b[1]];
    }
    const bad = e.terminal && /^(cancel|abandon)/.test(e.next_state);
    const g = svg("g", {class: "pm-edge", "data-state": e.state, "data-action": e.action, "data-next": e.next_state, "data-count": e.count});
    g.append(svg("path", {d, fill: "none", stroke: bad ? "#b91c1c" : "#475569", "stroke-opacity": 0.7, "marker-end": "url(#pm-arrow)",
      "stroke-width": (0.8 + 5 * Math.log1p(e.count) / Math.log1p(most)).toFixed(2)}));
    g.append(svg("text", {x: lx, y: ly + 4, "text-anchor": "middle", class: "pm-label"}, String(e.count)));
    g.append(svg("title", {}, `${e.state} -> ${e.action} -> ${e.next_state}: n=${e.count} of ${e.pair_count}, p=${fmt(e.p, 3)} [${fmt(e.p_low, 3)}, ${fmt(e.p_high, 3)}], wait median ${waitText(e.median_wait_h)}, 90% ${waitText(e.p90_wait_h)}`));
    root.append(g);
  }
  for (const n of nodes) {
    const [x, y] = pos[n.name];
    const g = svg("g", {class: "pm-node" + (n.terminal ? " terminal" : ""), "data-name": n.name});
    g.append(svg("rect", {x, y, width: BW, height: BH, rx: 7}));
    g.append(svg("text", {x: x + BW / 2, y: y + 18, "text-anchor": "middle", class: "pm-name"}, n.name));
    g.append(svg("text", {x: x + BW / 2, y: y + 34, "text-anchor": "middle", class: "pm-sub"}, n.terminal ? `${n.entered} ended here` : `${n.decisions} decisions`));
    root.append(g);
  }
  container.replaceChildren(root);
  return edges;
}

PAGES["engineer"] = function () {
  if (!$("eng-summary")) return;
  api("/api/engineer").then((data) => {
    if (!data) return;
    $("eng-summary").textContent = `${data.decisions} decisions in ${data.episodes} episodes; share of decisions with a return of -100 or worse: ${fmt(100 * data.severe_rate, 1)}%.`;
    const colours = colourOf(data.actions), days = data.per_day;
    // a narrow window draws the chart at its own width (text at true size, fewer day labels)
    const width = Math.max(320, Math.min(640, $("per-day-chart").clientWidth || 640));
    barChart($("per-day-chart"), {labels: days.map((d) => d.day.slice(5)), yLabel: "decisions", legend: true, width,
      xLabel: `day (UTC), ${days[0].day} to ${days[days.length - 1].day}`, labelEvery: dayInterval(days.length, width - 62 - 14), stacked: days.length > 21,
      series: data.actions.map((a) => ({name: a, values: days.map((d) => d[a]), color: colours[a]}))});
    fillTable("outcome-table", data.outcomes.map((o) => [o.kind, String(o.count), fmt(o.per_decision, 3), fmt(o.per_episode, 3)]));
    $("outcome-legend").replaceChildren(...data.outcomes.flatMap((o) => [el("dt", {text: o.kind}), el("dd", {text: o.meaning})]));
    const pm = data.process_map, most = Math.max(1, ...pm.edges.map((e) => e.count));
    const drawMap = () => {
      const k = Math.max(1, Math.round(Number($("map-min").value)) || 1);
      const shown = processMapChart($("process-map"), pm, k);
      const hidden = pm.edges.length - shown.length;
      $("map-hidden").textContent = hidden ? `(${hidden} of ${pm.edges.length} transitions hidden, ${pm.edges.filter((e) => e.count < k).reduce((t, e) => t + e.count, 0)} decisions)` : `(all ${pm.edges.length} transitions shown)`;
      const box = $("process-map");
      $("map-scroll").hidden = box.scrollWidth <= box.clientWidth + 1;
    };
    $("map-min").max = String(most);
    $("map-min").value = String(data.map_min_count);
    $("map-min").addEventListener("input", drawMap);
    drawMap();
    const ab = data.abandonment;
    $("abandon-note").textContent = ab.note;
    $("abandon-stages").replaceChildren(...ab.stages.map((st, i) => {
      const fig = el("div", {class: "chart abandon-chart", "data-stage": st.stage});
      // S(t) is a step function: flat until the next abandonment time, then down
      const km = st.kaplan_meier, x = [0, ...km.days.flatMap((d) => [d, d])];
      const step = (ys) => [1, ...ys.flatMap((y, j) => [j ? ys[j - 1] : 1, y])];
      const few = st.abandoned < 10;  // a handful of abandonments: folded, the table says it all
      const sec = el(few ? "details" : "section", {class: "abandon-stage", "data-stage": st.stage}, [
        el(few ? "summary" : "h3", {text: `${st.stage}: ${st.visits} visits, ${st.abandoned} abandoned, ${st.censored} censored`}), fig,
        el("table", {class: "hazard-table", "aria-label": `hazard by days waited in ${st.stage}`}, [
          el("thead", {}, [el("tr", {}, ["days waited", "waiting at start", "abandoned", "censored", "hazard", "95% interval"].map((h) => el("th", {text: h})))]),
          el("tbody", {}, st.hazard.map((h) => el("tr", {}, [h.end === null || h.end === Infinity || h.end > 1e300 ? `≥${h.start}` : `${h.start}-${h.end}`,
            String(h.entering), String(h.events), String(h.censored), fmt(h.hazard, 3), `[${fmt(h.low, 3)}, ${fmt(h.high, 3)}]`].map((c) => el("td", {text: c})))))])]);
      lineChart(fig, {xLabel: "days waited in the stage", yLabel: "still waiting (not abandoned)", title: `abandonment in ${st.stage}`,
        series: [{name: "Kaplan-Meier S(t)", x, y: step(km.survival), color: PALETTE[i % PALETTE.length]},
                 {name: "95% interval", x, y: step(km.low), color: "#94a3b8", dash: true},
                 {name: "95% interval (high)", x, y: step(km.high), color: "#94a3b8", dash: true, hideLegend: true}]});
      return sec;
    }));
    fillTable("estimate-table", data.estimated.map((o) => [o.state, o.action, o.next_state, `${o.count}/${o.pair_count}`, fmt(o.p, 3), `[${fmt(o.p_low, 3)}, ${fmt(o.p_high, 3)}]`, fmt(o.reward, 1)]));
    $("heldout-note").textContent = data.heldout.note;
    fillTable("heldout-table", data.heldout.rows.map((r) => [r.policy, r.estimate ? fmt(r.estimate[0]) : "no support", r.estimate ? `[${fmt(r.estimate[1])}, ${fmt(r.estimate[2])}]` : r.reason, String(r.support ?? ""), String(r.severe_errors ?? ""), r.evidence ?? ""]));
    const v = data.heldout.verdict;
    $("heldout-verdict").textContent = v ? (v.promote ? "the optimum would be promoted: " : "the optimum would not be promoted: ") + v.reasons.join("; ") : "";
    if (data.deployments.length) {
      fillTable("deploy-table", data.deployments.map((d) => [String(d.id), d.role, d.policy_id, d.policy_version, d.deployed_at_text || humanTime(d.deployed_at), d.reason]));
    } else {
      $("deploy-table").querySelector("tbody").replaceChildren(el("tr", {class: "empty"}, [el("td", {colspan: "6", text: "none yet"})]));
    }
  });
};

document.addEventListener("DOMContentLoaded", () => {
  const watchLink = $("watch-link");  // the editor's text goes to watch mode through the tab's session storage
  if (watchLink) watchLink.addEventListener("click", () => sessionStorage.setItem("accessrl-watch-text", $("spec").value));
  const init = PAGES[document.body.dataset.page];
  if (init) init();
  if (STATIC) {  // only what the page can redraw from its embedded data stays enabled
    const keep = {"value-iteration": ["reset", "step", "run"], "abandonment": ["p"]}[document.body.dataset.page] || [];
    for (const c of document.querySelectorAll("main input, main select, main textarea, main button")) {
      if (!keep.includes(c.id)) c.disabled = true;
    }
  }
  markIdle();
});
