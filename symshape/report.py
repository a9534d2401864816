"""Reports of an analysed model: the contract's JSON object, and summary tables (text, markdown)."""

from __future__ import annotations

import shutil
from typing import Any

from . import dims
from .analysis import Analysis
from .constraints import render as render_conditions
from .costs import costs
from .dims import Dim, Shape
from .dtypes import format_bytes, itemsize
from .wiring import source_of


def _shape_json(shape: Shape | None) -> list[int | str] | None:
    return None if shape is None else [dims.to_json(d) for d in shape]


def to_json(graph: Analysis, with_costs: bool = False, dtype: str = "float32") -> dict[str, Any]:
    """The object ``check --format json`` and ``summary --format json`` print (CONTRACT.md §5);
    with costs, each node and the whole also carry macs, activations and bytes."""
    cost = costs(graph, dtype) if with_costs else None
    nodes = []
    for node in graph.model.nodes:
        data = graph.node(node.name)
        params = {k: _shape_json(s.shape) for k, s in data["params"].items() if not s.buffer}
        entry = {
            "name": node.name, "op": data["op"], "inputs": list(node.inputs),
            "output_shapes": [_shape_json(s) for s in data["output_shapes"]],
            "params": params,
            "num_params": dims.to_json(dims.total(dims.prod(s.shape) for s in data["params"].values()
                                                  if not s.buffer)),
        }
        if node.owner:
            entry["shares"] = node.owner
        if cost is not None:
            c = cost.nodes[node.name]
            entry.update(macs=dims.to_json(c.macs), activations=dims.to_json(c.activations),
                         activation_bytes=dims.to_json(c.activation_bytes))
        nodes.append(entry)
    result = {
        "inputs": {k: _shape_json(v) for k, v in graph.inputs.items()},
        "nodes": nodes,
        "outputs": {k: _shape_json(v) for k, v in graph.outputs.items()},
        "params": {k: _shape_json(v) for k, v in graph.param_shapes.items()},
        "buffers": {k: _shape_json(v) for k, v in graph.buffer_shapes.items()},
        "num_params": dims.to_json(graph.num_params),
        "constraints": render_conditions(graph.constraints),
        "fixed_sizes": {k: dims.to_json(v) for k, v in graph.fixed_sizes.items()},
        "symbols": graph.symbols,
        "errors": [c.to_json() for c in graph.errors],
    }
    if cost is not None:
        result["costs"] = cost.to_json()
    return result


def _fmt(shape: Shape | None) -> str:
    return "?" if shape is None else dims.format_shape(shape)


def _count(d: Dim) -> str:
    return f"{d:,}" if type(d) is int else dims.text(d)


def _numel(shapes: list[Shape | None]) -> Dim:
    return dims.total(dims.prod(s) for s in shapes if s is not None)


def _node_count(data: dict[str, Any]) -> Dim:
    return dims.total(dims.prod(s.shape) for s in data["params"].values() if not s.buffer)


def _visible(name: str, depth: int | None) -> str:
    """The row a node is shown in at ``depth``: itself, or the block (dotted prefix) it is folded into."""
    return name if depth is None else ".".join(name.split(".")[:depth])


def _members(graph: Analysis) -> dict[str, list[str]]:
    """Every block (a dotted prefix of node names: ``layer1``, ``layer1.0``) and its nodes, in order."""
    blocks: dict[str, list[str]] = {}
    for node in graph.model.nodes:
        parts = node.name.split(".")
        for k in range(1, len(parts)):
            blocks.setdefault(".".join(parts[:k]), []).append(node.name)
    return blocks


def _block_row(graph: Analysis, name: str, members: list[str], level: int, folded: bool,
               depth: int | None) -> dict[str, Any]:
    """A block's row: what enters it, what leaves it, and (folded) the parameters of its layers."""
    inside = set(members)
    entering: dict[str, None] = {}
    leaving: dict[str, None] = {}
    for member in members:
        for ref in graph.node(member)["inputs"]:
            if source_of(ref) not in inside:
                entering.setdefault(ref)
    position = {n: i for i, n in enumerate(graph.node_data)}
    crossing = [(u, v) for u, v in graph.edge_data if u in inside and v not in inside]
    for u, v in sorted(crossing, key=lambda edge: position[edge[0]]):  # by producer, as networkx lists edges
        leaving.update({r: None for r in graph.node(v)["inputs"] if source_of(r) == u})
    leaving.update({r: None for r in graph.model.outputs if source_of(r) in inside})
    count = dims.total(_node_count(graph.node(m)) for m in members)
    kind = graph.model.block_kinds.get(name)  # as torchinfo names a module by its class
    return {"name": name, "op": kind or f"block ({len(members)} layers)", "level": level, "kind": "block",
            "input": ", ".join(_fmt(graph.shapes.get(r)) for r in entering),
            "output": ", ".join(_fmt(graph.shapes.get(r)) for r in leaving),
            "params": "", "count": (_count(count) if count != 0 else "") if folded else "--",
            "connected": ", ".join(dict.fromkeys(_visible(source_of(r), depth) for r in entering))}


def summary_rows(graph: Analysis, with_costs: bool = False, depth: int | None = None) -> list[dict[str, Any]]:
    """One row per layer; with ``depth``, a row per block too (blocks are the dotted prefixes of the
    names, as torchinfo's depth counts module nesting), layers deeper than ``depth`` folded into theirs."""
    cost = costs(graph) if with_costs else None
    blocks = _members(graph) if depth is not None else {}
    opened: set[str] = set()
    rows: list[dict[str, Any]] = []
    for node in graph.model.nodes:
        parts = node.name.split(".")
        for k in range(1, min(len(parts), depth or 0) + 1):
            prefix = ".".join(parts[:k])
            if prefix in blocks and prefix not in opened and prefix != node.name:
                opened.add(prefix)
                rows.append(_block_row(graph, prefix, blocks[prefix], k - 1, folded=k == depth, depth=depth))
                if cost is not None:
                    members = [cost.nodes[m] for m in blocks[prefix]]
                    rows[-1].update(macs=_count(dims.total(c.macs for c in members)) if k == depth else "--",
                                    activations=_count(dims.total(c.activations for c in members))
                                    if k == depth else "--")
        if depth is not None and len(parts) > depth:
            continue
        data = graph.node(node.name)
        params = {k: s for k, s in data["params"].items() if not s.buffer}
        count = _node_count(data)
        rows.append({
            "name": node.name, "op": data["op"], "level": len(parts) - 1 if depth is not None else 0,
            "kind": "layer",
            "input": ", ".join(_fmt(s) for s in data["input_shapes"]),
            "output": ", ".join(_fmt(s) for s in data["output_shapes"]),
            "params": (f"shares {node.owner}" if node.owner else
                       ", ".join(f"{k} {_fmt(s.shape)}" for k, s in params.items())),
            "count": _count(count) if params else "",
            "connected": ", ".join(_visible(source_of(r), depth) + r[len(source_of(r)):] for r in node.inputs),
        })
        if cost is not None:
            c = cost.nodes[node.name]
            rows[-1].update(macs=_count(c.macs) if c.macs != 0 else "", activations=_count(c.activations))
    return rows


def _trainable(graph: Analysis) -> tuple[Dim, Dim]:
    """Parameters that train and those that do not (``Parameter(..., requires_grad=False)``)."""
    frozen = dims.total(_node_count(graph.node(n.name)) for n in graph.model.nodes
                        if getattr(n.layer, "requires_grad", True) is False)
    return dims.total([graph.num_params, dims.prod([-1, frozen])]), frozen


def memory(graph: Analysis, dtype: str = "float32") -> dict[str, Dim]:
    """torchinfo's memory estimate, in bytes: the inputs, the forward/backward pass (twice the outputs of
    the layers that have parameters, for their gradients), the parameters, and their sum."""
    size = itemsize(dtype)
    inputs = dims.total(dims.prod([_numel([graph.inputs[s.name]]), itemsize(s.dtype or dtype)])
                        for s in graph.model.inputs)
    with_params = [n for n in graph.model.nodes if _node_count(graph.node(n.owner or n.name)) != 0]
    passes = dims.prod([2, size, dims.total(_numel(graph.node(n.name)["output_shapes"]) for n in with_params)])
    params = dims.prod([graph.num_params, size])
    return {"input": inputs, "forward_backward": passes, "params": params,
            "total": dims.total([inputs, passes, params])}


def _megabytes(n: Dim) -> str:
    """torchinfo's unit (10**6 bytes, two decimals); a symbolic size as its formula in bytes."""
    return f"{n / 1e6:,.2f} MB" if type(n) is int else f"{n} bytes"


def totals(graph: Analysis, dtype: str = "float32", with_costs: bool = False, with_memory: bool = False) -> list[str]:
    n = graph.num_params
    size = dims.prod([n, itemsize(dtype)])
    lines = [f"parameters: {_count(n)} ({format_bytes(size)} as {dtype})"]
    trainable, frozen = _trainable(graph)
    if with_memory or frozen != 0:
        lines.append(f"trainable parameters: {_count(trainable)}, non-trainable: {_count(frozen)}")
    if with_costs:
        c = costs(graph, dtype)
        lines += [f"multiply-accumulates: {_count(c.macs)}",
                  f"activations: {_count(c.activations)} elements ({format_bytes(c.activation_bytes)})",
                  f"peak activation memory: {format_bytes(c.peak_activation_bytes)}"]
    if graph.buffer_shapes:
        elements = dims.total(dims.prod(s) for s in graph.buffer_shapes.values())
        lines.append(f"buffers: {_count(elements)} elements in {len(graph.buffer_shapes)} tensors")
    if with_memory:
        m = memory(graph, dtype)
        lines += [f"input size: {_megabytes(m['input'])}",
                  f"forward/backward pass size: {_megabytes(m['forward_backward'])}",
                  f"params size: {_megabytes(m['params'])}",
                  f"estimated total size: {_megabytes(m['total'])}"]
    if graph.fixed_sizes:
        lines.append("sizes fixed: " + ", ".join(f"{k} = {v}" for k, v in graph.fixed_sizes.items()))
    if graph.constraints:
        lines.append("conditions on the sizes: " + "; ".join(render_conditions(graph.constraints)))
    return lines


COLUMNS = [("name", "layer"), ("op", "op"), ("input", "input"), ("output", "output"),
           ("params", "parameters"), ("count", "#"), ("connected", "connected to")]
COST_COLUMNS = [("macs", "mult-adds"), ("activations", "activations")]
NUMERIC = ("count", "macs", "activations")


def _columns(with_costs: bool) -> list[tuple[str, str]]:
    return COLUMNS + (COST_COLUMNS if with_costs else [])


def _indented(row: dict[str, Any]) -> str:
    return "  " * row["level"] + row["name"]


def _atoms(text: str) -> list[str]:
    """A cell cut where it may wrap: after the commas between its items (shapes, parameters, names),
    so that no shape, parameter entry or word is split."""
    atoms, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([") - (ch in ")]")
        if ch == " " and depth == 0 and current.endswith(","):
            atoms.append(current)
            current = ""
        else:
            current += ch
    return [a for a in atoms + [current] if a]


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for atom in _atoms(text):
        if lines and len(lines[-1]) + 1 + len(atom) <= width:
            lines[-1] += " " + atom
        else:
            lines.append(atom)
    return lines or [""]


def _least(cells: list[dict[str, str]], columns: list[tuple[str, str]]) -> list[int]:
    return [max([len(t)] + [len(c[k]) if k in NUMERIC or k == "name" else max(map(len, _atoms(c[k])), default=0)
                            for c in cells]) for k, t in columns]


def _widths(cells: list[dict[str, str]], columns: list[tuple[str, str]], width: int) -> list[int] | None:
    """Column widths filling ``width``: each at least its longest atom; None when even that does not fit."""
    least = _least(cells, columns)
    most = [max([len(t)] + [len(c[k]) for c in cells]) for k, t in columns]
    room = width - 2 * (len(columns) - 1)
    if sum(least) > room:
        return None
    sizes, spare = list(least), room - sum(least)
    while spare > 0 and any(s < m for s, m in zip(sizes, most)):  # widen the most cramped column first
        i = max((i for i in range(len(sizes)) if sizes[i] < most[i]), key=lambda i: most[i] - sizes[i])
        grow = min(spare, most[i] - sizes[i], max(1, spare // len(sizes)))
        sizes[i] += grow
        spare -= grow
    return sizes


def render_text(graph: Analysis, dtype: str = "float32", width: int | None = None, with_costs: bool = False,
                depth: int | None = None) -> str:
    """The summary table, as wide as the terminal (or ``width``): cells wrap at spaces between shapes
    and words, never inside one; columns that still do not fit are left out (named below the table)."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    rows = summary_rows(graph, with_costs, depth)
    cells = [{**{k: str(v) for k, v in row.items()}, "name": _indented(row)} for row in rows]
    every = _columns(with_costs)
    columns, sizes = every, _widths(cells, every, width)
    for drop in ("params", "connected", "activations", "input", "macs"):  # what a narrow terminal loses first
        if sizes is not None:
            break
        columns = [c for c in columns if c[0] != drop]
        sizes = _widths(cells, columns, width)
    if sizes is None:  # even name, op, output and counts are wider: let the lines run long
        sizes = _least(cells, columns)

    def line(parts: list[str]) -> str:
        return "  ".join(p.rjust(n) if k in NUMERIC else p.ljust(n)
                         for p, n, (k, _) in zip(parts, sizes, columns)).rstrip()

    out = [line([t for _, t in columns]), "─" * min(width, sum(sizes) + 2 * (len(sizes) - 1))]
    for row in cells:
        wrapped = [[row[k]] if k in NUMERIC or k == "name" else _wrap(row[k], n) for (k, _), n in zip(columns, sizes)]
        for i in range(max(len(w) for w in wrapped)):
            out.append(line([w[i] if i < len(w) else "" for w in wrapped]))
    dropped = [t for c, t in every if (c, t) not in columns]
    note = [f"(left out to fit {width} columns: {', '.join(dropped)}; see --width, --format markdown)"] \
        if dropped else []
    return "\n".join(out) + "\n\n" + "\n".join(totals(graph, dtype, with_costs, with_memory=True) + note) + "\n"


def render_markdown(graph: Analysis, dtype: str = "float32", with_costs: bool = False,
                    depth: int | None = None) -> str:
    columns = _columns(with_costs)
    lines = ["| " + " | ".join(t for _, t in columns) + " |",
             "|" + "".join("---:|" if k in NUMERIC else "---|" for k, _ in columns)]
    for row in summary_rows(graph, with_costs, depth):
        cells = [str(row[k]).replace("|", "\\|") for k, _ in columns]
        cells[0] = "&nbsp;&nbsp;" * row["level"] + (f"**`{cells[0]}`**" if row["kind"] == "block" else f"`{cells[0]}`")
        lines.append("| " + " | ".join(cells) + " |")
    notes = totals(graph, dtype, with_costs, with_memory=True)
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {t}" for t in notes) + "\n"


def render_html(graph: Analysis) -> str:
    """The summary as an HTML table, for notebooks (ShapeGraph._repr_html_)."""
    from html import escape

    head = "".join(f"<th>{escape(title)}</th>" for _, title in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td><code>{escape(row[k])}</code></td>" if k in ("input", "output", "params")
                                    else f"<td>{escape(row[k])}</td>" for k, _ in COLUMNS) + "</tr>"
                   for row in summary_rows(graph))
    notes = "".join(f"<li>{escape(t)}</li>" for t in totals(graph, with_memory=True))
    errors = "".join(f"<li style='color:#b00'>{escape(c.message)}</li>" for c in graph.errors)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><ul>{notes}{errors}</ul>"
