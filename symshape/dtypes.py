"""The one dtype table: the tensor dtypes symshape knows, their sizes, kinds and file codes, and
torch's type promotion for the elementwise ops."""

from __future__ import annotations

from dataclasses import dataclass

from .dims import Dim


@dataclass(frozen=True)
class DType:
    name: str  # torch's and numpy's name (``bool`` for torch.bool)
    itemsize: int
    kind: str  # "float", "int" or "bool"
    safetensors: str  # the safetensors header code


TABLE: dict[str, DType] = {d.name: d for d in (
    DType("float16", 2, "float", "F16"),
    DType("float32", 4, "float", "F32"),
    DType("float64", 8, "float", "F64"),
    DType("int64", 8, "int", "I64"),
    DType("int32", 4, "int", "I32"),
    DType("int16", 2, "int", "I16"),
    DType("int8", 1, "int", "I8"),
    DType("uint8", 1, "int", "U8"),
    DType("bool", 1, "bool", "BOOL"),
)}

INPUT_DTYPES = ("float32", "float64", "float16", "int64", "int32", "bool")  # what an input may declare
PARAM_DTYPES = ("float32", "float64")  # what ``init``/``materialize`` may draw parameters in
DEFAULT = "float32"


def is_floating(name: str) -> bool:
    return TABLE[name].kind == "float"


def numpy_kind(name: str) -> str:
    """numpy's ``dtype.kind`` letter for this dtype's kind: ``"f"``, ``"i"`` or ``"b"``."""
    return {"float": "f", "int": "i", "bool": "b"}[TABLE[name].kind]


def itemsize(name: str) -> int:
    return TABLE[name].itemsize


def promote(*names: str) -> str:
    """torch's result type of an elementwise op on tensors of these dtypes (all of one category:
    the widest; a float beats an int, which beats bool)."""
    rank = {"bool": 0, "int": 1, "float": 2}
    top = max(rank[TABLE[n].kind] for n in names)
    same_kind = [n for n in names if rank[TABLE[n].kind] == top]
    return max(same_kind, key=lambda n: TABLE[n].itemsize)


def format_bytes(n: Dim) -> str:
    """``241.0 KiB``, ``363.8 TiB``; a symbolic count as its formula."""
    if type(n) is not int:
        return f"{n} bytes"
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
