"""Parameter declarations (ParamSpec) and the placeholder shown before materialization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import dims
from .dims import Shape


@dataclass(frozen=True, init=False)
class ParamSpec:
    """A parameter or buffer a layer declares: its torch layout and its default initializer.

    ``init`` names an initializer of ``symshape.init`` and ``init_args`` its arguments, which may
    be symbolic until the graph is bound (``fan_in`` of a lazy layer, for instance).
    """

    shape: Shape
    init: str
    init_args: dict[str, Any]
    buffer: bool = False
    dtype: str | None = None  # None: the dtype asked of materialize(); "int64" for counters
    tied_to: str | None = None  # the state_dict name of the tensor this one is (weight tying)

    def __init__(self, shape: Shape, init: str, init_args: dict[str, Any] | None = None, buffer: bool = False,
                 dtype: str | None = None, tied_to: str | None = None):
        """Frozen, but filled in one step: a frozen dataclass's own ``__init__`` sets each field through
        ``object.__setattr__``, which triples the cost of the hundreds of specs an analysis makes."""
        self.__dict__.update(shape=shape, init=init, init_args={} if init_args is None else init_args,
                             buffer=buffer, dtype=dtype, tied_to=tied_to)

    @property
    def numel(self) -> dims.Dim:
        return dims.prod(self.shape)

    def substitute(self, values: dict) -> ParamSpec:
        if not values:
            return self
        return ParamSpec(
            dims.substitute_shape(self.shape, values), self.init,
            {k: dims.substitute(v, values) if isinstance(v, int) or hasattr(v, "free_symbols") else v
             for k, v in self.init_args.items()},
            self.buffer, self.dtype, self.tied_to,
        )


class UninitializedParameter:
    """A parameter whose values do not exist yet; its repr shows the (symbolic) shape."""

    def __init__(self, shape: Shape, buffer: bool = False):
        self.shape = tuple(shape)
        self.buffer = buffer

    def __repr__(self) -> str:
        kind = "UninitializedBuffer" if self.buffer else "UninitializedParameter"
        return f"<{kind} shape={dims.format_shape(self.shape)}>"
