"""What a traced graph's nodes stand for while a model is being imported.

A node of the torch graph becomes one of: a ``Tensor`` (an output of the symshape model being built),
a ``Weight`` (a parameter or buffer of the module, named by its state_dict name, turned into a
``Parameter``/``Buffer`` node only if an op uses it as a tensor), a size (an int or a sympy expression
of the input sizes: ``x.size(0)`` is ``B``, ``x.shape[-1] // 4`` is ``floor(D/4)``), or a plain Python
value (a tuple of sizes, a float, None, a dtype name). ``Unknown`` is what an unsupported node yields;
nodes computed from it are not reported again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tensor:
    ref: str  # a reference into the model: "conv1", "split:1", "x"


@dataclass(frozen=True)
class Weight:
    name: str  # the state_dict name (or attribute path, for a tensor that is not in the state_dict)
    tensor: Any  # the torch tensor (its shape and dtype)


class Unknown:
    """The value of a node that could not be mapped."""


UNKNOWN = Unknown()


def contains(value: Any, kind: type) -> bool:
    """Whether ``value`` (possibly nested in tuples, lists, dicts or slices) holds a ``kind``."""
    if isinstance(value, kind):
        return True
    if isinstance(value, (tuple, list)):
        return any(contains(v, kind) for v in value)
    if isinstance(value, dict):
        return any(contains(v, kind) for v in value.values())
    if isinstance(value, slice):
        return any(contains(v, kind) for v in (value.start, value.stop, value.step))
    return False


@dataclass(frozen=True)
class Condition:
    """A comparison of sizes whose outcome depends on the sizes (``h == self.image_size``)."""
    a: Any
    op: str
    b: Any

    def __str__(self) -> str:
        return f"{self.a} {self.op} {self.b}"


class Pin(Exception):
    """An assertion that an input size equals a number (``torch._assert(h == 224)``): the model only
    runs at that size, so the import starts over with the input size fixed, as torch requires."""

    def __init__(self, symbol: Any, value: int):
        super().__init__(f"{symbol} = {value}")
        self.symbol, self.value = symbol, value


def assert_pins(c: Any, tensors: dict[str, Any], specs: list[Any], pins: dict[Any, int], reason: str) -> None:
    """Each pinned input size as an AssertSize on the first input that declares it, so the size keeps its
    name and the model states its value as a condition; ``tensors`` (input name -> tensor) is updated so
    the graph reads the asserted tensor, whose dim is the number."""
    for symbol, value in pins.items():
        for spec in specs:
            if spec.shape is not None and symbol in spec.shape:
                axis = list(spec.shape).index(symbol)
                tensors[spec.name] = c.op("AssertSize", [tensors[spec.name]], f"assert_{symbol}", dim=axis,
                                          size=value, reason=reason)
                break
