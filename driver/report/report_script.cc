// The script of the `adrs report` page (report_page.cc puts it after the data). Plain JavaScript
// drawing SVG; candidate text only ever reaches the page through textContent.
namespace adrs {

extern const char* const kReportScript;
const char* const kReportScript = R"JS(
"use strict";
(function () {
const errors = [];
window.addEventListener("error", (e) => {
  errors.push(String(e.message));
  document.body.dataset.errors = String(errors.length);
  document.getElementById("errors").textContent = "The page failed to draw: " + errors.join("\n");
});

const data = JSON.parse(document.getElementById("adrs-data").textContent);
const SVG = "http://www.w3.org/2000/svg";
const ISLAND_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
const REASON_COLORS = ["#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#1f77b4"];

function el(tag, attrs, parent, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
function svgEl(tag, attrs, parent, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
function fmt(x, digits) { return x === null || x === undefined ? "-" : Number(x).toFixed(digits === undefined ? 4 : digits); }
function islandColor(i) { return ISLAND_COLORS[i % ISLAND_COLORS.length]; }
function loss(c) { return c.score === null ? null : -c.score; }

// Linear or log scale from a domain to a pixel range.
function scale(lo, hi, a, b, log) {
  if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
  if (!(hi > lo)) { hi = lo + 1; }
  const f = (v) => a + ((log ? Math.log10(v) : v) - lo) / (hi - lo) * (b - a);
  f.ticks = () => {
    const out = [];
    if (log) { for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) if (e >= lo - 1e-9 && e <= hi + 1e-9) out.push(Math.pow(10, e)); if (out.length < 2) { out.length = 0; out.push(Math.pow(10, lo), Math.pow(10, hi)); } }
    else { const step = niceStep((hi - lo) / 5); for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(v); }
    return out;
  };
  return f;
}
function niceStep(raw) { const p = Math.pow(10, Math.floor(Math.log10(raw))); const m = raw / p; return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p; }
function tickText(v) { return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(0) : String(+v.toPrecision(3)); }

// An SVG with axes; returns {svg, x, y, plot} where plot is the group to draw into.
function axes(container, opts) {
  const W = opts.width || 900, H = opts.height || 320, m = {l: 64, r: 16, t: 10, b: 40};
  const svg = svgEl("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`}, container);
  const x = scale(opts.x[0], opts.x[1], m.l, W - m.r, opts.xlog);
  const y = scale(opts.y[0], opts.y[1], H - m.b, m.t, opts.ylog);
  const grid = svgEl("g", {class: "grid"}, svg), axis = svgEl("g", {class: "axis"}, svg);
  for (const t of y.ticks()) {
    svgEl("line", {x1: m.l, x2: W - m.r, y1: y(t), y2: y(t)}, grid);
    svgEl("text", {x: m.l - 6, y: y(t) + 4, "text-anchor": "end"}, axis, tickText(t));
  }
  for (const t of x.ticks()) {
    svgEl("line", {x1: x(t), x2: x(t), y1: H - m.b, y2: H - m.b + 4}, axis);
    svgEl("text", {x: x(t), y: H - m.b + 16, "text-anchor": "middle"}, axis, tickText(t));
  }
  svgEl("line", {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b}, axis);
  svgEl("line", {x1: m.l, x2: m.l, y1: m.t, y2: H - m.b}, axis);
  svgEl("text", {x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle"}, axis, opts.xlabel);
  svgEl("text", {x: 14, y: (m.t + H - m.b) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})`}, axis, opts.ylabel);
  return {svg, x, y, top: m.t, bottom: H - m.b, plot: svgEl("g", {}, svg)};
}

function logRange(values) {
  const v = values.filter((x) => x !== null && x > 0);
  if (!v.length) return [0.01, 1];
  return [Math.min(...v) / 1.3, Math.max(...v) * 1.3];
}

const run = data.run, candidates = data.candidates;
const byId = new Map(candidates.map((c) => [c.id, c]));
const evaluated = candidates.filter((c) => c.status === "evaluated" && c.score !== null);

function drawHeader() {
  document.getElementById("title").textContent = "adrs report: " + (run.name || "run");
  document.getElementById("subtitle").textContent = `${run.run_dir} · ${run.status} · generated ${data.generated_at}`;
  const facts = document.getElementById("facts");
  const best = run.best;
  const baselineBest = bestBaseline();
  const rows = [
    ["workload", run.workload], ["target density", fmt(run.target_density, 3)], ["track", run.track || "oracle"],
    ["suite", (run.suite || []).map((s) => `${s.setting} (weight ${s.weight})`).join(", ") || `${run.workload}@${run.target_density}`],
    ["best per setting", best && best.settings ? best.settings.map((s) => `${s.setting}: ${fmt(s.score, 6)}`).join(", ") : "-"],
    ["proposer", run.proposer],
    ["candidates", `${run.candidates.finished} of ${run.candidates.budget} finished`],
    ["best", best ? `#${best.id}: score ${fmt(best.score, 6)} (error ${fmt(best.error)}, density ${fmt(best.density)})` : "none evaluated yet"],
    ["best baseline", baselineBest ? `${baselineBest.baseline}: score ${fmt(baselineBest.score, 6)}` : "not scored"],
    ["gap to the best baseline", best && baselineBest ? `${fmt(best.score - baselineBest.score, 6)} (${best.score >= baselineBest.score ? "ahead" : "behind"})` : "-"],
    ["elapsed", `${fmt(run.elapsed_s, 0)} s`], ["cost", `$${fmt(run.cost_usd, 2)}`], ["adrs", run.adrs_version],
    ["schedule", run.schedule || "deterministic"],
    ["scored on", `${run.devices || "-"}` + (run.scored_by_device && Object.keys(run.scored_by_device).length
      ? " (" + Object.entries(run.scored_by_device).map(([d, n]) => `${d}: ${n}`).join(", ") + ")" : "")],
  ];
  if (run.draft_evaluations > 0) rows.push(["agent draft evaluations (not candidates)", run.draft_evaluations]);
  for (const [k, v] of rows) { const d = el("div", {}, facts); el("span", {}, d, k + ": "); d.appendChild(document.createTextNode(String(v))); }
  document.getElementById("explanation").textContent = run.explanation || "";
}

function bestBaseline() {
  const ok = (data.baselines.results || []).filter((b) => b.status === "ok" && b.score !== null);
  return ok.length ? ok.reduce((a, b) => (b.score > a.score ? b : a)) : null;
}

function drawProgress() {
  const box = document.getElementById("plot-progress");
  if (!evaluated.length) { el("p", {class: "note"}, box, "No candidate has been evaluated yet."); return; }
  const maxId = Math.max(...candidates.map((c) => c.id));
  const a = axes(box, {x: [0, maxId + 1], y: logRange(evaluated.map(loss)), ylog: true,
                       xlabel: "candidate id (order of creation)", ylabel: "error + penalty (log)"});
  const islands = [...new Set(candidates.map((c) => c.island))].sort((p, q) => p - q);
  const stepLine = (points, attrs) => {
    if (!points.length) return;
    let d = `M${a.x(points[0][0])},${a.y(points[0][1])}`;
    for (let i = 1; i < points.length; i++) d += `H${a.x(points[i][0])}V${a.y(points[i][1])}`;
    d += `H${a.x(maxId + 1)}`;
    svgEl("path", Object.assign({d, fill: "none"}, attrs), a.plot);
  };
  const bestSoFar = (list) => { const out = []; let best = Infinity; for (const c of list) { const l = loss(c); if (l > 0 && l < best) { best = l; out.push([c.id, l]); } } return out; };
  for (const i of islands) stepLine(bestSoFar(evaluated.filter((c) => c.island === i)), {stroke: islandColor(i), "stroke-width": 1.2, "stroke-opacity": 0.8});
  stepLine(bestSoFar(evaluated), {stroke: "#000", "stroke-width": 2});
  let points = 0;
  for (const c of evaluated) {
    if (!(loss(c) > 0)) continue;
    const dot = svgEl("circle", {cx: a.x(c.id), cy: a.y(loss(c)), r: 3.2, fill: islandColor(c.island), "fill-opacity": 0.75}, a.plot);
    svgEl("title", {}, dot, `#${c.id} (island ${c.island}, ${c.mutation}): score ${fmt(c.score, 6)}`);
    points++;
  }
  a.svg.dataset.points = String(points);
  const legend = document.getElementById("legend-progress");
  for (const i of islands) { const s = el("span", {}, legend); el("i", {style: `background:${islandColor(i)}`}, s); s.appendChild(document.createTextNode(`island ${i}`)); }
  const s = el("span", {}, legend); el("i", {style: "background:#000"}, s); s.appendChild(document.createTextNode("best so far, all islands"));
}

function drawLineage() {
  const box = document.getElementById("plot-lineage");
  if (!candidates.length) { el("p", {class: "note"}, box, "No candidates yet."); return; }
  const children = new Map();
  const roots = [];
  for (const c of candidates) {
    if (c.parent !== null && byId.has(c.parent)) { if (!children.has(c.parent)) children.set(c.parent, []); children.get(c.parent).push(c); }
    else roots.push(c);
  }
  // Tidy layout: leaves at consecutive columns, a parent centered over its children, depth down.
  const pos = new Map();
  let column = 0, maxDepth = 0;
  const place = (root) => {
    const stack = [[root, 0, false]];
    while (stack.length) {
      const [c, depth, done] = stack.pop();
      const kids = children.get(c.id) || [];
      if (!done && kids.length) { stack.push([c, depth, true]); for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1, false]); continue; }
      maxDepth = Math.max(maxDepth, depth);
      const x = kids.length ? (pos.get(kids[0].id).x + pos.get(kids[kids.length - 1].id).x) / 2 : column++;
      pos.set(c.id, {x, depth});
    }
  };
  for (const r of roots) place(r);
  const dx = 16, dy = 44, pad = 20;
  const W = Math.max(400, column * dx + 2 * pad), H = (maxDepth + 1) * dy + 2 * pad;
  const svg = svgEl("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`}, box);
  const px = (id) => pad + pos.get(id).x * dx, py = (id) => pad + pos.get(id).depth * dy;
  const losses = evaluated.map(loss).filter((l) => l > 0);
  const lo = Math.log10(Math.min(...losses, 1)), hi = Math.log10(Math.max(...losses, 1e-6));
  const colorOf = (c) => {
    if (c.status !== "evaluated" || !(loss(c) > 0)) return "#c3c8d2";
    const t = hi > lo ? (Math.log10(loss(c)) - lo) / (hi - lo) : 0.5;  // 0 best .. 1 worst
    return `hsl(${Math.round(120 * (1 - t))}, 65%, 42%)`;
  };
  const bestPath = new Set();
  for (let c = run.best ? byId.get(run.best.id) : null; c; c = c.parent !== null ? byId.get(c.parent) : null) bestPath.add(c.id);
  const edges = svgEl("g", {}, svg);
  for (const c of candidates) {
    for (const [p, dash] of [[c.parent, ""], [c.second_parent, "4 3"]]) {
      if (p === null || !pos.has(p)) continue;
      const thick = bestPath.has(c.id) && bestPath.has(p) && !dash;
      svgEl("path", {d: `M${px(p)},${py(p)} C${px(p)},${py(p) + dy / 2} ${px(c.id)},${py(c.id) - dy / 2} ${px(c.id)},${py(c.id)}`,
                     fill: "none", stroke: thick ? "#000" : "#aab1bf", "stroke-width": thick ? 2.2 : 1, "stroke-dasharray": dash}, edges);
    }
  }
  let selected = null, points = 0;
  for (const c of candidates) {
    const node = svgEl("circle", {class: "node", cx: px(c.id), cy: py(c.id), r: bestPath.has(c.id) ? 6 : 4.5, fill: colorOf(c), "data-id": c.id}, svg);
    svgEl("title", {}, node, `#${c.id} ${c.status}${c.score !== null ? " score " + fmt(c.score, 6) : ""}`);
    node.addEventListener("click", () => { if (selected) selected.classList.remove("selected"); node.classList.add("selected"); selected = node; showDetails(c); });
    points++;
  }
  svg.dataset.points = String(points);
}

function showDetails(c) {
  const box = document.getElementById("details");
  box.textContent = "";
  el("h3", {}, box, `Candidate #${c.id}`);
  const table = el("table", {}, box);
  const rows = [["status", c.status + (c.failure ? ` (${c.failure})` : "")], ["score", fmt(c.score, 6)], ["error", fmt(c.error)],
                ["density", fmt(c.density)], ["parent", c.parent === null ? "-" : "#" + c.parent],
                ["second parent", c.second_parent === null ? "-" : "#" + c.second_parent], ["island", c.island],
                ["generation", c.generation], ["mutation", c.mutation], ["model", c.model || "offline"],
                ["hint", c.hint || "-"], ["cost", `$${fmt(c.cost_usd, 4)}`], ["created", c.created_at]];
  for (const [k, v] of rows) { const tr = el("tr", {}, table); el("td", {}, tr, k); el("td", {}, tr, String(v)); }
  if (c.message) el("p", {}, box, c.message);
  if (c.diff) {
    el("div", {class: "note"}, box, "diff against the parent:");
    const pre = el("pre", {}, box);
    for (const line of c.diff.split("\n")) el("span", {class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : ""}, pre, line + "\n");
  }
}

function drawScatter() {
  const box = document.getElementById("plot-scatter");
  const baselines = (data.baselines.results || []).filter((b) => b.status === "ok" && b.error > 0);
  const pts = evaluated.filter((c) => c.error > 0 && c.density !== null);
  if (!pts.length && !baselines.length) { el("p", {class: "note"}, box, "Nothing evaluated yet."); return; }
  const densities = pts.map((c) => c.density).concat(baselines.map((b) => b.density), [run.target_density]);
  const a = axes(box, {x: [0, Math.max(...densities) * 1.1], y: logRange(pts.map((c) => c.error).concat(baselines.map((b) => b.error))), ylog: true,
                       xlabel: "density (fraction of keys kept)", ylabel: "error (log)"});
  const tx = a.x(run.target_density);
  svgEl("line", {x1: tx, x2: tx, y1: a.top, y2: a.bottom, stroke: "#555", "stroke-dasharray": "5 4"}, a.plot);
  let points = 0;
  for (const c of pts) {
    const dot = svgEl("circle", {cx: a.x(c.density), cy: a.y(c.error), r: 3.2, fill: islandColor(c.island), "fill-opacity": 0.6}, a.plot);
    svgEl("title", {}, dot, `#${c.id}: error ${fmt(c.error)}, density ${fmt(c.density)}`);
    points++;
  }
  for (const b of baselines) {
    const x = a.x(b.density), y = a.y(b.error);
    const d = svgEl("path", {d: `M${x},${y - 7}L${x + 7},${y}L${x},${y + 7}L${x - 7},${y}Z`, fill: "#111", "fill-opacity": 0.85}, a.plot);
    svgEl("title", {}, d, `${b.baseline}: error ${fmt(b.error)}, density ${fmt(b.density)}`);
    svgEl("text", {x: x + 9, y: y + 4}, a.plot, b.baseline);
    points++;
  }
  a.svg.dataset.points = String(points);
  const note = document.getElementById("baseline-note");
  note.textContent = data.baselines.note ? "Baselines " + data.baselines.note :
    `Baselines scored on ${data.baselines.workload} at target density ${data.baselines.target_density}, evaluation seed ${data.baselines.eval_seed}.`;
  if ((data.baselines.results || []).length) {
    const t = el("table", {}, document.getElementById("baseline-table"));
    const h = el("tr", {}, t); for (const k of ["baseline", "status", "score", "error", "density"]) el("th", {}, h, k);
    for (const b of data.baselines.results) { const r = el("tr", {}, t); for (const v of [b.baseline, b.status, fmt(b.score, 6), fmt(b.error), fmt(b.density)]) el("td", {}, r, String(v)); }
  }
}

function drawFailures() {
  const box = document.getElementById("plot-failures");
  const bad = candidates.filter((c) => c.status === "failed" || c.status === "filtered" || c.status === "duplicate");
  if (!bad.length) { el("p", {class: "note"}, box, "No candidate failed, was filtered or was a duplicate."); return; }
  const reasonOf = (c) => c.status === "duplicate" ? "duplicate" : c.status === "filtered" ? "filtered: " + (c.failure || "stage1") : (c.failure || "failed");
  const reasons = [...new Set(bad.map(reasonOf))].sort();
  const maxId = Math.max(...candidates.map((c) => c.id));
  const bins = Math.min(24, maxId), width = Math.ceil(maxId / bins);
  const counts = Array.from({length: bins}, () => new Map());
  for (const c of bad) { const b = Math.min(bins - 1, Math.floor((c.id - 1) / width)); counts[b].set(reasonOf(c), (counts[b].get(reasonOf(c)) || 0) + 1); }
  const maxCount = Math.max(...counts.map((m) => [...m.values()].reduce((s, v) => s + v, 0)));
  const a = axes(box, {x: [0, bins * width], y: [0, maxCount * 1.1], xlabel: "candidate id", ylabel: "candidates", height: 260});
  let points = 0;
  counts.forEach((m, b) => {
    let top = 0;
    reasons.forEach((reason, k) => {
      const n = m.get(reason) || 0;
      if (!n) return;
      const r = svgEl("rect", {x: a.x(b * width) + 1, width: Math.max(1, a.x(width) - a.x(0) - 2), y: a.y(top + n), height: a.y(top) - a.y(top + n),
                               fill: REASON_COLORS[k % REASON_COLORS.length]}, a.plot);
      svgEl("title", {}, r, `${reason}: ${n} among candidates ${b * width + 1}-${(b + 1) * width}`);
      top += n;
      points++;
    });
  });
  a.svg.dataset.points = String(points);
  const legend = document.getElementById("legend-failures");
  reasons.forEach((reason, k) => { const s = el("span", {}, legend); el("i", {style: `background:${REASON_COLORS[k % REASON_COLORS.length]}`}, s); s.appendChild(document.createTextNode(`${reason} (${bad.filter((c) => reasonOf(c) === reason).length})`)); });
}

function drawTable(box, columns, rows, empty) {
  if (!rows.length) { el("p", {class: "note"}, box, empty); return; }
  const t = el("table", {}, box);
  const h = el("tr", {}, t); for (const [label] of columns) el("th", {}, h, label);
  for (const row of rows) { const r = el("tr", {}, t); for (const [, get] of columns) el("td", {}, r, String(get(row))); }
}

function drawLlm() {
  drawTable(document.getElementById("llm"), [
    ["model", (m) => m.model], ["calls", (m) => m.calls], ["ok", (m) => m.ok_calls], ["tokens in", (m) => m.tokens_in],
    ["tokens out", (m) => m.tokens_out], ["cost", (m) => "$" + fmt(m.cost_usd, 4)], ["mean latency", (m) => fmt(m.mean_latency_s, 2) + " s"],
    ["candidates", (m) => m.candidates], ["improved on parent", (m) => m.improvements],
    ["improvements per $", (m) => m.improvements_per_usd === null ? "-" : fmt(m.improvements_per_usd, 2)]],
    data.llm, "No LLM calls: this run used the offline proposer.");
}

function drawHeldout() {
  drawTable(document.getElementById("heldout"), [
    ["candidate", (h) => h.baseline ? h.baseline + " (best baseline)" : "#" + h.id], ["setting", (h) => h.setting], ["track", (h) => h.track],
    ["selection score", (h) => h.selection_score === null ? "-" : fmt(h.selection_score, 6)],
    ["held-out score", (h) => fmt(h.score, 6)], ["95% interval", (h) => h.interval && h.interval[0] !== null ? `[${fmt(h.interval[0], 4)}, ${fmt(h.interval[1], 4)}]` : "-"]],
    data.heldout || [], "This run has no held-out results. Check a candidate on another workload with adrs replay RUN ID --workload NAME.");
}

for (const draw of [drawHeader, drawProgress, drawLineage, drawScatter, drawFailures, drawLlm, drawHeldout]) {
  try { draw(); } catch (e) { errors.push(draw.name + ": " + e); document.body.dataset.errors = String(errors.length); document.getElementById("errors").textContent = "The page failed to draw: " + errors.join("\n"); }
}
if (run.best) { const node = document.querySelector(`circle.node[data-id="${run.best.id}"]`); if (node) node.dispatchEvent(new Event("click")); }
document.body.dataset.rendered = "1";
})();
)JS";

}  // namespace adrs
