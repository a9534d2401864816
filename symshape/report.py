"""Reports of an analysed model: the contract's JSON object, and summary tables (text, markdown)."""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from . import dims
from .analysis import Analysis
from .costs import costs
from .dims import Dim, Shape
from .dtypes import format_bytes, itemsize


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
        "constraints": [str(c) for c in graph.constraints],
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
    return f"{d:,}" if type(d) is int else str(d)


def summary_rows(graph: Analysis, with_costs: bool = False) -> list[dict[str, str]]:
    cost = costs(graph) if with_costs else None
    rows = []
    for node in graph.model.nodes:
        data = graph.node(node.name)
        params = {k: s for k, s in data["params"].items() if not s.buffer}
        count = dims.total(dims.prod(s.shape) for s in params.values())
        rows.append({
            "name": node.name, "op": data["op"],
            "input": ", ".join(_fmt(s) for s in data["input_shapes"]),
            "output": ", ".join(_fmt(s) for s in data["output_shapes"]),
            "params": (f"shares {node.owner}" if node.owner else
                       ", ".join(f"{k} {_fmt(s.shape)}" for k, s in params.items())),
            "count": _count(count) if params else "",
        })
        if cost is not None:
            c = cost.nodes[node.name]
            rows[-1].update(macs=_count(c.macs) if c.macs != 0 else "", activations=_count(c.activations))
    return rows


def totals(graph: Analysis, dtype: str = "float32", with_costs: bool = False) -> list[str]:
    n = graph.num_params
    size = dims.prod([n, itemsize(dtype)])
    lines = [f"parameters: {_count(n)} ({format_bytes(size)} as {dtype})"]
    if with_costs:
        c = costs(graph, dtype)
        lines += [f"multiply-accumulates: {_count(c.macs)}",
                  f"activations: {_count(c.activations)} elements ({format_bytes(c.activation_bytes)})",
                  f"peak activation memory: {format_bytes(c.peak_activation_bytes)}"]
    if graph.buffer_shapes:
        lines.append(f"buffers: {len(graph.buffer_shapes)}")
    if graph.fixed_sizes:
        lines.append("sizes fixed: " + ", ".join(f"{k} = {v}" for k, v in graph.fixed_sizes.items()))
    if graph.constraints:
        lines.append("conditions on the sizes: " + ", ".join(map(str, graph.constraints)))
    return lines


COLUMNS = [("name", "layer"), ("op", "op"), ("input", "input"), ("output", "output"),
           ("params", "parameters"), ("count", "#")]
COST_COLUMNS = [("macs", "mult-adds"), ("activations", "activations")]


def _columns(with_costs: bool) -> list[tuple[str, str]]:
    return COLUMNS + (COST_COLUMNS if with_costs else [])


def render_text(graph: Analysis, dtype: str = "float32", width: int | None = None, with_costs: bool = False) -> str:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    columns = _columns(with_costs)
    for key, title in columns:
        table.add_column(title, justify="right" if key in ("count", "macs", "activations") else "left",
                         overflow="fold")
    for row in summary_rows(graph, with_costs):
        table.add_row(*(row[k] for k, _ in columns))
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 160, no_color=True, highlight=False, soft_wrap=False)
    console.print(table)
    return buffer.getvalue().rstrip() + "\n\n" + "\n".join(totals(graph, dtype, with_costs)) + "\n"


def render_markdown(graph: Analysis, dtype: str = "float32", with_costs: bool = False) -> str:
    columns = _columns(with_costs)
    lines = ["| " + " | ".join(t for _, t in columns) + " |", "|" + "---|" * len(columns)]
    for row in summary_rows(graph, with_costs):
        cells = [row[k].replace("|", "\\|") for k, _ in columns]
        cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {t}" for t in totals(graph, dtype, with_costs)) + "\n"


def render_html(graph: Analysis) -> str:
    """The summary as an HTML table, for notebooks (ShapeGraph._repr_html_)."""
    from html import escape

    head = "".join(f"<th>{escape(title)}</th>" for _, title in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td><code>{escape(row[k])}</code></td>" if k in ("input", "output", "params")
                                    else f"<td>{escape(row[k])}</td>" for k, _ in COLUMNS) + "</tr>"
                   for row in summary_rows(graph))
    notes = "".join(f"<li>{escape(t)}</li>" for t in totals(graph))
    errors = "".join(f"<li style='color:#b00'>{escape(c.message)}</li>" for c in graph.errors)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><ul>{notes}{errors}</ul>"
