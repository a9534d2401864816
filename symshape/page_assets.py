"""The inline style sheet and script of the HTML graph page (``symshape.page``): no network, no library.

The script reads the page's JSON (``#symshape-data``): views (an SVG laid out by dot each, with text
templates for its nodes and edges), node details and conditions, all dims as exact formulas. It pans
and zooms by the SVG's viewBox, collapses clusters in place, searches names and ops, and evaluates
the formulas for the sizes typed in the box with rational BigInt arithmetic (``window.symshape`` gives
tests its state: the sizes bound, the view shown, ``focus(name)`` and ``evaluate(formula)``).
"""

STYLE = """
:root { font: 13px/1.4 system-ui, sans-serif; color: #222; }
body { margin: 0; height: 100vh; display: flex; flex-direction: column; }
header { display: flex; gap: 12px; align-items: center; padding: 6px 10px; border-bottom: 1px solid #ccc;
         background: #f7f7fa; flex-wrap: wrap; }
header input[type=search] { width: 16em; } header #bind { width: 18em; font-family: monospace; }
#bind.bad { outline: 2px solid #d33; } #bind-status { color: #666; } #hits { color: #666; min-width: 5em; }
main { flex: 1; display: flex; min-height: 0; }
#canvas { flex: 1; position: relative; overflow: hidden; background: #fff; cursor: grab; }
#canvas.dragging { cursor: grabbing; }
.view, .view svg { width: 100%; height: 100%; display: block; }
.view[hidden] { display: none; }
#panel { width: 30em; max-width: 45%; overflow: auto; border-left: 1px solid #ccc; padding: 8px 12px;
         background: #fcfcfd; }
#panel h2 { font-size: 15px; margin: 4px 0; } #panel h3 { font-size: 13px; margin: 10px 0 4px; }
#panel table { border-collapse: collapse; } #panel td { padding: 1px 8px 1px 0; vertical-align: top; }
#panel pre { white-space: pre; overflow-x: auto; background: #f3f3f6; padding: 6px; font-size: 11px; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
.hint { color: #666; } .met { color: #17702a; } .violated { color: #b00; font-weight: bold; } .unknown { color: #666; }
g.edge > path { stroke-width: 1.6px; vector-effect: non-scaling-stroke; }
g.node { cursor: pointer; } g.cluster > text { cursor: pointer; }
g.node.hit > path, g.node.hit > polygon { stroke: #e02020; stroke-width: 3px; }
g.node.selected > path, g.node.selected > polygon { stroke: #1050e0; stroke-width: 3px; }
g.cluster.collapsed > path, g.cluster.collapsed > polygon { fill: #dcdce8; }
.gone { display: none; }
a.ref { color: #1050e0; cursor: pointer; text-decoration: underline; }
"""

SCRIPT = r"""
(() => {
"use strict";
const D = JSON.parse(document.getElementById("symshape-data").textContent);
const state = {bound: {}, view: 0, collapsed: new Set(), selected: null, hits: [], hit: -1};

// ---- exact arithmetic: rationals [numerator, denominator] of BigInts ------------------------
const gcd = (a, b) => { a = a < 0n ? -a : a; b = b < 0n ? -b : b; while (b) [a, b] = [b, a % b]; return a; };
const R = (n, d = 1n) => { if (d < 0n) { n = -n; d = -d; } const g = gcd(n, d) || 1n; return [n / g, d / g]; };
const add = (x, y) => R(x[0] * y[1] + y[0] * x[1], x[1] * y[1]);
const mul = (x, y) => R(x[0] * y[0], x[1] * y[1]);
const cmp = (x, y) => { const a = x[0] * y[1], b = y[0] * x[1]; return a < b ? -1 : a > b ? 1 : 0; };
const floorR = x => { let q = x[0] / x[1]; if (x[0] % x[1] !== 0n && x[0] < 0n) q -= 1n; return [q, 1n]; };
const ceilR = x => { let q = x[0] / x[1]; if (x[0] % x[1] !== 0n && x[0] > 0n) q += 1n; return [q, 1n]; };
const modR = (x, y) => add(x, mul([-1n, 1n], mul(y, floorR(mul(x, R(y[1], y[0]))))));
const powR = (x, k) => { let r = [1n, 1n]; const n = k < 0n ? -k : k;
  for (let i = 0n; i < n; i++) r = mul(r, x); return k < 0n ? R(r[1], r[0]) : r; };

function evaluate(t) {  // a formula tree -> rational, or null when a symbol is unbound
  if (typeof t === "number") return [BigInt(t), 1n];
  const op = t[0];
  if (op === "i") return [BigInt(t[1]), 1n];
  if (op === "s") return t[1] in state.bound ? [state.bound[t[1]], 1n] : null;
  if (op === "r") return R(BigInt(t[1]), BigInt(t[2]));
  if (op === "?") return null;
  const a = t.slice(1).map(evaluate);
  if (a.some(v => v === null)) return null;
  switch (op) {
    case "+": return a.reduce(add);
    case "*": return a.reduce(mul);
    case "^": return powR(a[0], a[1][0]);
    case "floor": return floorR(a[0]);
    case "ceil": return ceilR(a[0]);
    case "mod": return modR(a[0], a[1]);
    case "max": return a.reduce((x, y) => cmp(x, y) >= 0 ? x : y);
    case "min": return a.reduce((x, y) => cmp(x, y) <= 0 ? x : y);
  }
  return null;
}
const value = d => {  // a dim -> BigInt when bound, else null
  if (typeof d === "number") return BigInt(d);
  const v = evaluate(d.e); return v && v[1] === 1n ? v[0] : null;
};
const dimText = d => { const v = value(d); return v === null ? d.t : v.toString(); };
const countText = d => { const v = value(d); return v === null ? d.t : v.toLocaleString("en-US"); };
const shapeText = s => s === null ? "?" : "(" + s.map(dimText).join(", ") + (s.length === 1 ? "," : "") + ")";
const lineText = parts => parts.map(p => typeof p === "string" ? p : "shape" in p ? shapeText(p.shape)
                                                                 : countText(p.count)).join("");

function holds(c) {  // true, false or null (unknown) for a condition
  if (c.rel === "or" || c.rel === "and") {
    const r = c.parts.map(holds);
    if (c.rel === "or") return r.includes(true) ? true : r.includes(null) ? null : false;
    return r.includes(false) ? false : r.includes(null) ? null : true;
  }
  const l = evaluate(c.lhs);
  if (l === null) return null;
  if (c.rel === "in") return c.rhs.some(v => cmp(l, evaluate(v)) === 0);
  const r = evaluate(c.rhs);
  if (r === null) return null;
  if (c.rel === ">=") return cmp(l, r) >= 0;
  if (c.rel === "<=") return cmp(l, r) <= 0;
  if (c.rel === "==") return cmp(l, r) === 0;
  if (c.rel === "%") return modR(l, r)[0] === 0n;
  return null;
}

// ---- DOM helpers ------------------------------------------------------------------------------
const $ = id => document.getElementById(id);
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls; return e; }
const views = [...document.querySelectorAll(".view")];
const svgOf = i => views[i].querySelector("svg");
const home = views.map(v => {
  const b = v.querySelector("svg").viewBox.baseVal; return [b.x, b.y, b.width, b.height];
});
const idOf = (i, key) => D.views[i].prefix + key;
const nameOf = g => g.id.slice(g.id.indexOf("/") + 3);

// ---- views, pan, zoom -------------------------------------------------------------------------
function setBox(i, box) { svgOf(i).setAttribute("viewBox", box.map(v => v.toFixed(2)).join(" ")); }
function fit() { setBox(state.view, home[state.view]); }
function show(i) {
  views.forEach((v, j) => { v.hidden = j !== i; });
  state.view = i; $("view").value = String(i); fit(); search();
}
D.views.forEach((v, i) => {
  const o = el("option", v.depth === null ? "every layer" : `blocks to depth ${v.depth}`); o.value = String(i);
  $("view").append(o);
});
$("view").addEventListener("change", e => show(Number(e.target.value)));
$("fit").addEventListener("click", fit);
document.addEventListener("keydown", e => { if (e.key === "f" && e.target.tagName !== "INPUT") fit(); });

function toSvg(svg, x, y) { const p = svg.createSVGPoint(); p.x = x; p.y = y;
  const m = svg.getScreenCTM().inverse(); const q = p.matrixTransform(m); return [q.x, q.y]; }
const canvas = $("canvas");
canvas.addEventListener("wheel", e => {
  e.preventDefault();
  const svg = svgOf(state.view), b = svg.viewBox.baseVal, k = Math.exp(e.deltaY * 0.0015);
  const [px, py] = toSvg(svg, e.clientX, e.clientY);
  setBox(state.view, [px - (px - b.x) * k, py - (py - b.y) * k, b.width * k, b.height * k]);
}, {passive: false});
let drag = null;
canvas.addEventListener("mousedown", e => { drag = {x: e.clientX, y: e.clientY, moved: false}; });
window.addEventListener("mousemove", e => {
  if (!drag) return;
  const svg = svgOf(state.view), b = svg.viewBox.baseVal, s = b.width / svg.getBoundingClientRect().width;
  const dx = (e.clientX - drag.x) * s, dy = (e.clientY - drag.y) * s;
  if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) {
    drag.moved = true; canvas.classList.add("dragging");
  }
  if (drag.moved) {
    setBox(state.view, [b.x - dx, b.y - dy, b.width, b.height]); drag.x = e.clientX; drag.y = e.clientY;
  }
});
window.addEventListener("mouseup", () => {
  setTimeout(() => { drag = null; }, 0); canvas.classList.remove("dragging");
});

function focus(name, least = 420) {  // centre the view on a node (switching to the view that shows it)
  let i = state.view;
  if (!document.getElementById(idOf(i, "n:" + name))) i = D.views.findIndex(v => ("n:" + name) in v.texts);
  if (i < 0) return false;
  if (i !== state.view) show(i);
  const g = document.getElementById(idOf(i, "n:" + name)), svg = svgOf(i), r = g.getBoundingClientRect();
  const [x0, y0] = toSvg(svg, r.left, r.top), [x1, y1] = toSvg(svg, r.right, r.bottom);
  const w = Math.max((x1 - x0) * 5, least), h = w * svg.clientHeight / Math.max(svg.clientWidth, 1);
  setBox(i, [(x0 + x1) / 2 - w / 2, (y0 + y1) / 2 - h / 2, w, h]);
  return true;
}

// ---- collapsing clusters in place ------------------------------------------------------------
function toggle(i, block) {
  const key = i + "/" + block, hide = !state.collapsed.has(key);
  hide ? state.collapsed.add(key) : state.collapsed.delete(key);
  const inside = n => n.startsWith(block + ".");
  views[i].querySelectorAll("g.node").forEach(g => { if (inside(nameOf(g))) g.classList.toggle("gone", hide); });
  views[i].querySelectorAll("g.cluster").forEach(g => {
    const n = nameOf(g); if (inside(n)) g.classList.toggle("gone", hide);
    if (n === block) { g.classList.toggle("collapsed", hide);
      const t = g.querySelector("text"), n = D.views[i].blocks[block].length;
      t.textContent = hide ? `${block} (collapsed: ${n} layers)` : block;
    }
  });
  views[i].querySelectorAll("g.edge").forEach(g => {
    const [u, v] = nameOf(g).split("->"); if (inside(u) && inside(v)) g.classList.toggle("gone", hide);
  });
}

// ---- search -----------------------------------------------------------------------------------
function search() {
  const q = $("search").value.trim().toLowerCase();
  views[state.view].querySelectorAll("g.node.hit").forEach(g => g.classList.remove("hit"));
  state.hits = []; state.hit = -1;
  if (q) views[state.view].querySelectorAll("g.node").forEach(g => {
    const n = nameOf(g).split("@")[0], op = (D.nodes[n] || {}).op || "block";  // name@reader: a copy
    if (n.toLowerCase().includes(q) || op.toLowerCase().includes(q)) { g.classList.add("hit"); state.hits.push(n); }
  });
  $("hits").textContent = q ? `${state.hits.length} found` : "";
}
$("search").addEventListener("input", search);
$("search").addEventListener("keydown", e => {
  if (e.key !== "Enter" || !state.hits.length) return;
  state.hit = (state.hit + 1) % state.hits.length; focus(state.hits[state.hit]); select(state.hits[state.hit]);
  $("hits").textContent = `${state.hit + 1} of ${state.hits.length}`;
});

// ---- sizes ------------------------------------------------------------------------------------
function render() {
  D.views.forEach((v, i) => {
    for (const [key, lines] of Object.entries(v.texts)) {
      const g = document.getElementById(idOf(i, key)); if (!g) continue;
      const texts = g.querySelectorAll("text");
      lines.forEach((parts, k) => { if (texts[k]) texts[k].textContent = lineText(parts); });
    }
  });
  const s = $("summary"); s.replaceChildren(el("h3", "Model"));
  const t = el("table"); s.append(t);
  const row = (a, b) => { const r = t.insertRow(); r.insertCell().textContent = a; r.insertCell().append(b); };
  for (const [k, v] of Object.entries(D.inputs)) row("input " + k, el("code", shapeText(v)));
  for (const [k, v] of Object.entries(D.outputs)) row("output " + k, el("code", shapeText(v)));
  row("parameters", el("code", countText(D.num_params)));
  const fixed = Object.entries(D.fixed).map(([k, v]) => `${k} = ${v}`).join(", ");
  if (fixed) row("sizes fixed", el("code", fixed));
  if (D.constraints.length) { s.append(el("h3", "Conditions on the sizes")); s.append(conditions(D.constraints)); }
  for (const m of D.errors) s.append(el("p", m, "violated"));
  if (state.selected) select(state.selected);
}
function conditions(list) {
  const ul = el("ul");
  for (const c of list) { const h = holds(c), cls = h === true ? "met" : h === false ? "violated" : "unknown";
    const li = el("li", `${h === true ? "✓" : h === false ? "✗" : "?"} `, cls);
    li.append(el("code", c.text), ` (from ${c.node})`); li.dataset.holds = String(h); ul.append(li);
  }
  return ul;
}
function bind() {
  const text = $("bind").value.trim(), out = {};
  let bad = null;
  for (const item of text ? text.split(/[\s,;]+/).filter(Boolean) : []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$/.exec(item);
    if (!m || BigInt(m[2]) < 1n) { bad = `${item}: write NAME=N with N >= 1`; break; }
    if (!D.symbols.includes(m[1])) { bad = `${m[1]} is not a free size (${D.symbols.join(", ") || "none"})`; break; }
    out[m[1]] = BigInt(m[2]);
  }
  $("bind").classList.toggle("bad", bad !== null);
  if (bad) { $("bind-status").textContent = bad; return; }
  state.bound = out;
  const free = D.symbols.filter(s => !(s in out));
  const broken = D.constraints.filter(c => holds(c) === false).length;
  $("bind-status").textContent = (free.length ? `free: ${free.join(", ")}` : "all sizes bound")
    + (broken ? ` · ${broken} condition(s) violated` : "");
  render();
}
$("bind").addEventListener("input", bind);

// ---- details ----------------------------------------------------------------------------------
function derivation(name) {  // graph.explain(name) for a node, with the sizes bound in the page
  const chain = [name];
  for (let n = D.nodes[name]; n.kind === "layer" && n.first !== null; n = D.nodes[n.first]) chain.push(n.first);
  chain.reverse();
  const width = Math.max(...chain.map(s => s.length)), own = D.nodes[name].outputs[0];
  const known = list => list.filter(s => s !== null).map(shapeText).join(", ");
  const lines = [`${name} ${own === null ? "()" : shapeText(own)}`, "derived from the input, layer by layer:"];
  for (const step of chain) {
    const n = D.nodes[step], at = `  ${step.padEnd(width)}  `;
    if (n.kind === "input") lines.push(at + `input ${shapeText(n.outputs[0])}`);
    else if (n.unchanged) lines.push(at + `${n.op}: unchanged`);
    else {
      const ins = known(n.input_shapes); lines.push(at + `${n.op}: ${ins ? ins + " -> " : ""}${known(n.outputs)}`);
    }
  }
  const along = D.constraints.filter(c => chain.includes(c.node));
  const because = along.map(c => `${c.text} (from ${c.node})`).join(", ");
  if (along.length) lines.push("conditions met along the way: " + because);
  const fixed = Object.entries(D.fixed);
  if (fixed.length) lines.push("sizes fixed: " + fixed.map(([k, v]) => `${k} = ${v}`).join(", "));
  return lines.join("\n");
}
function ref(name) {
  const a = el("a", name, "ref"), node = name.split(":")[0];
  a.addEventListener("click", () => { focus(node); select(node); }); return a;
}
function select(name) {
  document.querySelectorAll("g.node.selected").forEach(g => g.classList.remove("selected"));
  const g = document.getElementById(idOf(state.view, "n:" + name)); if (g) g.classList.add("selected");
  state.selected = name;
  const box = $("details"); box.replaceChildren();
  const n = D.nodes[name];
  if (!n) {  // a folded block
    const members = D.views[state.view].folded[name] || [];
    box.append(el("h2", `${name} (block, ${members.length} layers)`));
    const ul = el("ul");
    members.forEach(m => { const li = el("li"); li.append(ref(m), ` ${D.nodes[m].op}`); ul.append(li); });
    box.append(ul); return;
  }
  box.append(el("h2", `${name} (${n.op})`));
  if (n.args && Object.keys(n.args).length) { box.append(el("h3", "Arguments"));
    box.append(el("code", Object.entries(n.args).map(([k, v]) => `${k}=${v}`).join(", "))); }
  const t = el("table");
  if (n.inputs) n.inputs.forEach((r, k) => { const row = t.insertRow(); row.insertCell().append("in ", ref(r));
    row.insertCell().append(el("code", shapeText(n.input_shapes[k]))); });
  n.outputs.forEach((s, k) => {
    const row = t.insertRow(); row.insertCell().textContent = n.outputs.length > 1 ? `out ${k}` : "out";
    row.insertCell().append(el("code", shapeText(s))); });
  box.append(el("h3", "Shapes")); box.append(t);
  if (n.params && n.params.length) {
    box.append(el("h3", n.owner ? `Parameters (shared with ${n.owner})` : "Parameters"));
    const p = el("table");
    for (const [pname, shape, buffer] of n.params) { const row = p.insertRow();
      row.insertCell().append(el("code", pname)); row.insertCell().append(el("code", shapeText(shape)));
      row.insertCell().textContent = buffer ? "buffer" : ""; }
    const row = p.insertRow(); row.insertCell().textContent = "count";
    row.insertCell().append(el("code", countText(n.count)));
    box.append(p);
  }
  const own = D.constraints.filter(c => c.node === name);
  if (own.length) { box.append(el("h3", "Conditions it imposes")); box.append(conditions(own)); }
  box.append(el("h3", "How its shape was derived")); box.append(el("pre", derivation(name)));
}
canvas.addEventListener("click", e => {
  if (drag && drag.moved) return;
  const g = e.target.closest("g.node, g.cluster"); if (!g) return;
  if (g.classList.contains("cluster")) toggle(state.view, nameOf(g)); else select(nameOf(g).split("@")[0]);
});

window.symshape = {data: D, state, focus, select, toggle, evaluate, show, derivation,
                   setSizes: text => { $("bind").value = text; bind(); }};
show(0); render();
document.body.dataset.ready = "true";
})();
"""
