"""The ShapeError family, the Conflict record and the one formatter of error messages."""

from __future__ import annotations

from dataclasses import dataclass


class ShapeError(Exception):
    """Base of every error symshape raises about a model, a spec or a size."""


class ShapeMismatchError(ShapeError):
    """Two sizes that must agree do not (or a size the model cannot accept). Lists every conflict."""

    def __init__(self, conflicts: list[Conflict], note: str = ""):
        self.conflicts = list(conflicts)
        message = format_conflicts(self.conflicts)
        super().__init__(f"{message}\n{note}" if note else message)


class UnresolvedShapeError(ShapeError):
    """A size is still symbolic where a number is needed; ``symbols`` are the names to bind."""

    def __init__(self, message: str, symbols: list[str]):
        self.symbols = sorted(symbols)
        super().__init__(message)


class SpecError(ShapeError):
    """A malformed model description: a bad argument, an unknown layer, a dangling name.

    Where it is known, the error carries its location: the ``file``, the ``entry`` of the spec
    (``layers[3] (conv1)``) and the ``key`` (``kernel_size``); ``str()`` is the one formatter:
    ``FILE: ENTRY: key 'KEY': message``."""

    def __init__(self, message: str, *, file: str | None = None, entry: str | None = None, key: str | None = None):
        self.message, self.file, self.entry, self.key = message, file, entry, key
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.file, self.entry, f"key {self.key!r}" if self.key else None, self.message]
        return ": ".join(p for p in parts if p)

    def __reduce__(self) -> tuple:
        return _rebuild_spec_error, (self.message, self.file, self.entry, self.key)

    def located(self, *, file: str | None = None, entry: str | None = None, key: str | None = None) -> SpecError:
        """The same error with the location parts it does not have yet filled in."""
        return SpecError(self.message, file=self.file or file, entry=self.entry or entry, key=self.key or key)


def _rebuild_spec_error(message: str, file: str | None, entry: str | None, key: str | None) -> SpecError:
    return SpecError(message, file=file, entry=entry, key=key)


@dataclass(frozen=True)
class Conflict:
    """One static error, located at the node where the two sides meet.

    ``what`` names the dimension or argument, ``expected`` / ``actual`` are the two sides already
    rendered with their provenance, ``fix`` says what to do (may be empty).
    """

    node: str
    op: str
    what: str
    expected: str
    actual: str
    fix: str = ""

    @property
    def message(self) -> str:
        text = f"{self.node} ({self.op}): {self.what} is {self.expected} but {self.actual}."
        return f"{text} {self.fix}" if self.fix else text

    def to_json(self) -> dict[str, str]:
        return {"node": self.node, "op": self.op, "what": self.what, "expected": self.expected,
                "actual": self.actual, "fix": self.fix, "message": self.message}


def format_conflicts(conflicts: list[Conflict]) -> str:
    if len(conflicts) == 1:
        return conflicts[0].message
    lines = [f"{len(conflicts)} shape errors:"]
    lines += [f"  {i}. {c.message}" for i, c in enumerate(conflicts, 1)]
    return "\n".join(lines)
