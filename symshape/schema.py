"""A JSON Schema for spec files, generated from the layer registry (``symshape schema``).

Editors that read JSON Schema (VS Code's YAML extension: ``# yaml-language-server: $schema=...``)
then complete op names and their arguments and flag unknown keys. Values are checked loosely: an
argument may be written as a block parameter (``$width``) or an expression (``"4*$width"``), so only
the keys, the ops and the required arguments are enforced; the defaults are shown for completion.
"""

from __future__ import annotations

import inspect
from typing import Any

from .dtypes import INPUT_DTYPES
from .layers import LAYERS

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
_SHAPE = {"type": ["array", "string"], "items": {"type": ["integer", "string"]},
          "description": "a shape: [B, 3, H, W] or \"B, 3, H, W\" (ints, names, expressions)"}
_REF = {"type": ["string", "integer"], "description": "a layer or input name, or name:k for output k"}


def _plain_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain_default(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str, list)) else str(value)


def summary_line(cls: type) -> str:
    """The layer's shape rule: the first line of its docstring."""
    return (inspect.getdoc(cls) or "").split("\n")[0]


def _op_schema(name: str, cls: type) -> dict[str, Any]:
    params = [p for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    properties: dict[str, Any] = {k: True for k in ("name", "op", "in", "tie")}
    properties["op"] = {"const": name}
    for p in params:
        prop: dict[str, Any] = {}
        if p.default is not p.empty:
            prop["default"] = _plain_default(p.default)
            if isinstance(p.default, bool):
                prop["type"] = ["boolean", "string"]  # a string: a block parameter ($bias)
        properties[p.name] = prop
    open_ended = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())
    return {"if": {"required": ["op"], "properties": {"op": {"const": name}}},
            "then": {"description": summary_line(cls), "properties": properties,
                     "required": [p.name for p in params if p.default is p.empty],
                     "additionalProperties": open_ended}}


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec file (CONTRACT.md §3, docs/spec-format.md)."""
    ops = {n: c for n, c in LAYERS.items() if not n.startswith("_") and n != "Layer"}
    entry = {
        "type": "object",
        "properties": {
            "name": {"type": ["string", "integer"]},
            "op": {"enum": sorted(ops), "description": "a layer class name (symshape ops lists them)"},
            "in": {"oneOf": [_REF, {"type": "array", "items": _REF}]},
            "share": {"type": "string", "description": "apply this layer again (same parameters)"},
            "block": {"type": "string", "description": "instantiate a block of the spec's blocks"},
            "tie": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "oneOf": [{"required": ["op"]}, {"required": ["share"]}, {"required": ["block"]}],
        "allOf": [_op_schema(n, c) for n, c in sorted(ops.items())],
    }
    layers = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"}}
    refs = {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]}
    return {
        "$schema": SCHEMA_URI,
        "title": "symshape spec",
        "type": "object",
        "required": ["inputs", "layers"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "inputs": {"type": "object", "minProperties": 1, "additionalProperties": {"oneOf": [
                _SHAPE,
                {"type": "object", "required": ["shape"], "additionalProperties": False,
                 "properties": {"shape": _SHAPE, "dtype": {"enum": list(INPUT_DTYPES)}}}]}},
            "layers": layers,
            "outputs": refs,
            "blocks": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["layers"], "additionalProperties": False,
                "properties": {"args": {"type": ["object", "null"]},
                               "inputs": {"type": "array", "items": {"type": "string"}},
                               "layers": layers, "outputs": refs}}},
        },
        "$defs": {"entry": entry},
    }
