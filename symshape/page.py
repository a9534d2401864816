"""``symshape graph MODEL -o model.html``: one self-contained page to explore an analysed model.

Design: graphviz's ``dot`` lays the graph out here, once per view (every layer, and blocks folded at
each depth), and the SVGs are inlined with ids on nodes, edges and clusters. The shapes are *not*
precomputed for chosen sizes: every dim on the page is shipped as its exact formula (a small tree:
sums, products, powers, floor, ceil, mod, min, max over integers, rationals and symbols, the
operations ``dims.evaluate`` knows) and the page's script evaluates them with rational arithmetic on
BigInts, so binding any sizes in the page's box updates every label, parameter, count and condition
exactly as ``bind`` would compute them from the symbolic formulas. How a node's shape was derived is
rebuilt by the script from the shipped shapes in ``graph.explain``'s words (the tests check the two
agree), so it follows the bound sizes too and the page stays small: explain's texts, one per node,
repeat the whole chain from the input and grow with the square of the depth (22 MB for Llama). The
script and styles are inline (``page_assets``); the page loads nothing from the network.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from . import dims, draw
from .analysis import Analysis
from .dims import Dim, Shape
from .errors import SpecError
from .page_assets import SCRIPT, STYLE
from .wiring import source_of, state_name

_SAFE = 2**53  # larger integers travel as strings: JSON numbers are doubles


def formula(d: Dim) -> Any:
    """The exact formula of a dim as a JSON tree the page's script evaluates (``["?"]``: it cannot)."""
    if type(d) is int:
        return d if abs(d) < _SAFE else ["i", str(d)]
    e = d
    if e.is_Integer:
        return formula(int(e))
    if e.is_Rational:
        return ["r", str(e.p), str(e.q)]
    if e.is_Symbol:
        return ["s", e.name]
    ops = {"Add": "+", "Mul": "*", "Pow": "^", "floor": "floor", "ceiling": "ceil", "Mod": "mod", "Max": "max",
           "Min": "min"}
    op = ops.get(type(e).__name__)
    if op is None or (op == "^" and not e.exp.is_Integer):
        return ["?"]
    return [op, *(formula(a) for a in e.args)]


def _dim(d: Dim) -> Any:
    return d if type(d) is int and abs(d) < _SAFE else {"t": str(d), "e": formula(d)}


def _shape(shape: Shape | None) -> Any:
    return None if shape is None else [_dim(d) for d in shape]


def _node_parts(graph: Analysis, name: str) -> list[list[Any]]:
    """``draw.node_lines`` as templates: strings and shapes the script fills in."""
    data = graph.node(name)
    if data["kind"] == "input":
        return [[name], ["input ", {"shape": _shape(data["shape"])}]]
    lines: list[list[Any]] = [[name], [data["op"]]]
    if data["owner"]:
        lines.append([f"shares {data['owner']}"])
    lines += [[f"{k} ", {"shape": _shape(s.shape)}] for k, s in data["params"].items() if not s.buffer]
    return lines


def _count(graph: Analysis, names: list[str]) -> Dim:
    return dims.total(dims.prod(s.shape) for n in names for s in graph.node(n)["params"].values() if not s.buffer)


def _view(graph: Analysis, depth: int | None, prefix: str) -> dict[str, Any]:
    """One layout: its SVG and the text templates of its nodes and edges."""
    members: dict[str, list[str]] = {}
    for name in graph.graph.nodes:
        members.setdefault(draw.folded(name, depth), []).append(name)
    texts: dict[str, list[list[Any]]] = {}
    for shown, inside in members.items():
        if shown in graph.graph.nodes:
            texts[f"n:{shown}"] = _node_parts(graph, shown)
        else:
            count = _count(graph, inside)
            texts[f"n:{shown}"] = [[shown], [f"block: {len(inside)} layers"]] + \
                ([[{"count": _dim(count)}, " params"]] if count != 0 else [])
    edges: dict[str, dict[str, Any]] = {}
    for u, v, data in graph.graph.edges(data=True):
        key = f"e:{draw.folded(u, depth)}->{draw.folded(v, depth)}"
        if draw.folded(u, depth) != draw.folded(v, depth):
            for s in data["shapes"]:
                edges.setdefault(key, {}).setdefault("?" if s is None else dims.format_shape(s), _shape(s))
    for key, shapes in edges.items():
        line: list[Any] = []
        for shape in shapes.values():
            line += ([" | "] if line else []) + ["?" if shape is None else {"shape": shape}]
        texts[key] = [line]
    svg = draw.render(graph, "svg", ids=prefix, depth=depth).decode("utf-8")
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', "<svg", svg, count=1)
    blocks = {b: m for b, m in _blocks(graph).items() if depth is None or b.count(".") < depth}
    return {"depth": depth, "prefix": prefix, "texts": texts, "svg": svg, "blocks": blocks,
            "folded": {k: v for k, v in members.items() if k not in graph.graph.nodes}}


def _blocks(graph: Analysis) -> dict[str, list[str]]:
    tree = draw.block_tree(list(graph.graph.nodes))
    out: dict[str, list[str]] = {}
    for name in graph.graph.nodes:
        parts = name.split(".")
        for k in range(1, len(parts)):
            if ".".join(parts[:k]) in tree:
                out.setdefault(".".join(parts[:k]), []).append(name)
    return out


def _constraint(c: Any) -> dict[str, Any]:
    """A condition with its sides as formulas (``rel``: >=, <=, ==, % (divides), in, or, and)."""
    if c.relation in ("or", "and"):
        return {"text": str(c), "node": c.node, "rel": c.relation, "parts": [_constraint(p) for p in c.parts]}
    rhs = [formula(v) for v in c.rhs] if c.relation == "in" else formula(c.rhs)
    return {"text": str(c), "node": c.node, "rel": c.relation, "lhs": formula(c.lhs), "rhs": rhs}


def _details(graph: Analysis, name: str) -> dict[str, Any]:
    data = graph.node(name)
    if data["kind"] == "input":
        return {"kind": "input", "op": "input", "outputs": [_shape(data["shape"])], "dtype": data["dtype"]}
    params = [[state_name(data["owner"] or name, k), _shape(s.shape), s.buffer]
              for k, s in graph.node(data["owner"] or name)["params"].items()]
    return {"kind": "layer", "op": data["op"], "family": draw.family(graph, name),
            "args": {k: str(v) for k, v in data["layer"].config.items()}, "inputs": list(data["inputs"]),
            "input_shapes": [_shape(s) for s in data["input_shapes"]],
            "outputs": [_shape(s) for s in data["output_shapes"]], "owner": data["owner"], "params": params,
            "count": _dim(_count(graph, [data["owner"] or name])),
            # for the derivation the script rebuilds as ``explain`` writes it: the first input, and whether
            # the node keeps its input's shape
            "first": source_of(data["inputs"][0]) if data["inputs"] else None,
            "unchanged": data["output_shapes"] == data["input_shapes"][:1]}


def page_data(graph: Analysis) -> dict[str, Any]:
    """Everything the page shows, as JSON: views, node details, conditions, sizes."""
    deepest = max(len(n.split(".")) for n in graph.graph.nodes)
    depths: list[int | None] = [None, *range(1, deepest)]
    views = [_view(graph, depth, f"v{i}/") for i, depth in enumerate(depths)]
    return {
        "name": graph.model.name or "model",
        "symbols": graph.symbols,
        "fixed": {k: dims.to_json(v) for k, v in graph.fixed_sizes.items()},
        "inputs": {k: _shape(v) for k, v in graph.inputs.items()},
        "outputs": {k: _shape(v) for k, v in graph.outputs.items()},
        "num_params": _dim(graph.num_params),
        "constraints": [_constraint(c) for c in graph.constraints],
        "errors": [c.message for c in graph.errors],
        "nodes": {n: _details(graph, n) for n in graph.graph.nodes},
        "views": views,
    }


def page(graph: Analysis) -> str:
    """The HTML page (``symshape graph MODEL -o model.html``); needs graphviz's ``dot`` for the layout."""
    if not draw.have_dot():
        raise SpecError("an .html graph is laid out by graphviz's dot, which is not installed "
                        "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
                        ".dot, .graphml, .svg and .png are written without it")
    data = page_data(graph)
    svgs = "".join(f'<div class="view" data-view="{i}" hidden>{v.pop("svg")}</div>'
                   for i, v in enumerate(data["views"]))
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = html.escape(data["name"])
    symbols = html.escape(", ".join(f"{s}=" for s in data["symbols"]) or "no free sizes")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · symshape</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style></head>
<body>
<header>
  <strong id="title">{title}</strong>
  <label>view <select id="view"></select></label>
  <input id="search" type="search" placeholder="search layers (Enter: next)" autocomplete="off">
  <span id="hits"></span>
  <label>sizes <input id="bind" type="text" placeholder="{symbols}" autocomplete="off"></label>
  <span id="bind-status"></span>
  <button id="fit" type="button" title="fit the graph (f)">fit</button>
</header>
<main>
  <div id="canvas">{svgs}</div>
  <aside id="panel"><div id="details"><p class="hint">Click a layer for its parameters, conditions and how its
  shape was derived. Click a block's label to collapse it. Drag to pan, wheel to zoom.</p></div>
  <div id="summary"></div></aside>
</main>
<script type="application/json" id="symshape-data">{payload}</script>
<script>{SCRIPT}</script>
</body></html>
"""
