"""Dimensions: the only module doing sympy arithmetic.

A dimension (``Dim``) is a Python ``int`` or a sympy expression over positive-integer symbols.
Every function here takes the int path first, so a fully concrete model never touches sympy.
Floor and ceiling expressions are kept in one canonical form, ``floor(p/q) + c`` with ``p`` an
integer polynomial, so that equal sizes reached along different paths compare equal.
"""

from __future__ import annotations

import ast
import math
from fractions import Fraction
from functools import cache, lru_cache, reduce
from typing import Callable, Iterable, Mapping, Union

import numpy as np
import sympy
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

Dim = Union[int, sympy.Expr]
Shape = tuple  # tuple[Dim, ...]


class DimSyntaxError(ValueError):
    """A shape or dimension string that cannot be parsed."""


@cache
def sym(name: str) -> sympy.Symbol:
    """The symbol called ``name``: a positive integer."""
    return sympy.Symbol(name, integer=True, positive=True)


def normalize(d: object) -> Dim:
    """An int for any integer value (sympy ``Integer`` included), else the sympy expression."""
    if type(d) is int:
        return d
    if isinstance(d, bool):
        raise DimSyntaxError(f"{d!r} is not a size")
    if isinstance(d, sympy.Basic):
        if d.is_Integer:
            return int(d)
        if d.is_number:
            raise DimSyntaxError(f"{d} is not an integer size")
        return d
    if hasattr(d, "__index__"):
        return int(d.__index__())  # numpy integers
    raise DimSyntaxError(f"{d!r} is not a size (expected an int or a symbolic expression)")


# ---------------------------------------------------------------------------------------------
# parsing

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: floordiv(a, b),
    ast.Mod: lambda a, b: mod(a, b),
    ast.Pow: lambda a, b: a**b,
}
_FUNCS = {
    "floor": lambda x: x if type(x) is int else floordiv(*_as_fraction(x)),
    "ceil": lambda x: x if type(x) is int else ceildiv(*_as_fraction(x)),
    "min": lambda *xs: reduce(minimum, xs),
    "max": lambda *xs: reduce(maximum, xs),
}


MAX_EXPONENT = 64


def _as_fraction(e: sympy.Expr) -> tuple[Dim, int]:
    p, q = _integer_fraction(e)
    if p is None:
        raise DimSyntaxError(f"floor/ceil of {e} is not supported")
    return normalize(p), q


def _eval_node(node: ast.AST, text: str) -> object:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        return sym(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval_node(node.operand, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval_node(node.left, text), _eval_node(node.right, text)
        _check_operands(node.op, left, right, text)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _eval_node(node.left, text), _eval_node(node.right, text)
        if type(left) is int and type(right) is int:
            if right == 0 or left % right:
                raise DimSyntaxError(f"{text!r}: {left}/{right} is not a whole number (use //)")
            return left // right
        return sympy.Integer(left) / right if type(left) is int else left / right
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
        return _FUNCS[node.func.id](*(_eval_node(a, text) for a in node.args))
    raise DimSyntaxError(f"{text!r} is not a size expression (use integers, names, + - * // % **)")


def _check_operands(op: ast.operator, left: object, right: object, text: str) -> None:
    """Refuse ``// 0``, ``% 0`` and powers that are not small (``9**9**9`` would never finish)."""
    if isinstance(op, (ast.FloorDiv, ast.Mod)) and right == 0:
        raise DimSyntaxError(f"{text!r}: division by zero")
    if isinstance(op, ast.Pow):
        if type(right) is not int or not 0 <= right <= MAX_EXPONENT:
            raise DimSyntaxError(f"{text!r}: the exponent of ** must be a whole number from 0 to {MAX_EXPONENT}")
        if type(left) is int and (abs(left).bit_length() - 1) * right > 4096:
            raise DimSyntaxError(f"{text!r}: {left}**{right} is larger than any tensor size")


def parse_dim(value: object) -> Dim:
    """An int, a symbol name (``"D"``) or an expression (``"2*T"``, ``"H//2 - 1"``) as a Dim."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise DimSyntaxError("an empty string is not a size")
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            raise DimSyntaxError(f"{value!r} is not a size expression") from None
        d = normalize(_eval_node(tree.body, text))
        if type(d) is not int and d.is_integer is not True:
            raise DimSyntaxError(f"{value!r} is not a whole number for every size (use // or floor())")
        return d
    return normalize(value)


def parse_shape(value: object) -> Shape:
    """``"B, 3, H, W"``, ``[B, 3, "2*T"]`` or a tuple of Dims -> a tuple of Dims."""
    if isinstance(value, str):
        parts = [p for p in value.replace("(", " ").replace(")", " ").split(",")]
        if parts and not parts[-1].strip():
            parts = parts[:-1]
        if not parts or (len(parts) == 1 and not parts[0].strip()):
            return ()
        return tuple(parse_dim(p) for p in parts)
    if isinstance(value, Iterable):
        return tuple(parse_dim(p) for p in value)
    raise DimSyntaxError(f"{value!r} is not a shape (expected a string such as 'B, 3, H, W' or a list)")


@lru_cache(maxsize=16384)
def text(d: Dim) -> str:
    """sympy's ``str()`` of a dim, remembered: a summary prints the same few sizes hundreds of times."""
    return str(d)


def format_shape(shape: Iterable[Dim]) -> str:
    items = [text(d) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def to_json(d: Dim) -> int | str:
    """Concrete dims as JSON integers, symbolic ones as sympy's ``str()``."""
    return d if type(d) is int else text(d)


# ---------------------------------------------------------------------------------------------
# arithmetic with one canonical form for floor / ceil


def _split_floor(e: sympy.Expr) -> tuple[sympy.Expr, int, int] | None:
    """Write ``e`` as ``floor(p/q) + c`` (``p`` an integer polynomial); None if not of that form."""
    c = 0
    floor_term = None
    for term in sympy.Add.make_args(e):
        if term.is_Integer:
            c += int(term)
        elif isinstance(term, sympy.floor) and floor_term is None:
            floor_term = term
        else:
            return None
    if floor_term is None:
        return None
    p, q = _integer_fraction(floor_term.args[0])
    if p is None:
        return None
    return p, q, c


def _integer_fraction(e: sympy.Expr) -> tuple[sympy.Expr | None, int]:
    """``e == p/q`` with ``p`` a polynomial with integer coefficients and ``q`` a positive int."""
    e = sympy.expand(e)
    q = 1
    for term in sympy.Add.make_args(e):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Rational or not _is_integer_monomial(rest):
            return None, 1
        q = math.lcm(q, int(coeff.q))
    return sympy.expand(e * q), q


def _is_integer_monomial(e: sympy.Expr) -> bool:
    if e == 1:
        return True
    return all(f.is_integer for f in sympy.Mul.make_args(e))


def floordiv(a: Dim, b: Dim) -> Dim:
    """``a // b`` for a non-negative ``a`` and positive ``b``, in canonical form."""
    if type(a) is int and type(b) is int:
        return a // b
    if type(b) is not int:
        return normalize(sympy.floor(sympy.Rational(1) * a / b))
    if b == 1:
        return a
    constant, rest = sympy.sympify(a).as_coeff_Add()
    if isinstance(rest, (sympy.Min, sympy.Max)):  # floor is monotone: floor(max(x, y)/b) == max(floor(x/b), ...)
        return normalize(type(rest)(*(floordiv(x + constant, b) for x in rest.args)))
    split = _split_floor(a)
    if split is not None:  # floor(floor(p/q) + c, b) == floor((p + c*q) / (q*b))
        p, q, c = split
        return normalize(sympy.floor((p + c * q) / sympy.Integer(q * b)))
    p, q = _integer_fraction(a)
    if p is not None and q == 1:
        return normalize(sympy.floor(p / sympy.Integer(b)))
    return normalize(sympy.floor(a / sympy.Integer(b)))


def ceildiv(a: Dim, b: Dim) -> Dim:
    """``ceil(a / b)``, written as ``(a + b - 1) // b`` so it shares the floor form."""
    if type(a) is int and type(b) is int:
        return -(-a // b)
    return floordiv(a + b - 1, b)


def mod(a: Dim, b: Dim) -> Dim:
    if type(a) is int and type(b) is int:
        return a % b
    return normalize(sympy.Mod(a, b))


def prod(values: Iterable[Dim]) -> Dim:
    """The product; symbolic factors first so that sympy keeps ``16*(a - 1)*(b - 1)`` factored."""
    number, symbolic = 1, []
    for v in values:
        if type(v) is int:
            number *= v
        else:
            symbolic.append(v)
    if not symbolic:
        return number
    result = symbolic[0]
    for v in symbolic[1:]:
        result = result * v
    return normalize(result * number)


def total(values: Iterable[Dim]) -> Dim:
    """The sum; sympy collects the integer terms and keeps factored products factored."""
    number, symbolic = 0, []
    for v in values:
        if type(v) is int:
            number += v
        else:
            symbolic.append(v)
    if not symbolic:
        return number
    result = sympy.Add(*symbolic, number)
    if result.has(sympy.Mod):  # padding to a multiple: a + (k - a % k) % k == k*ceil(a/k)
        for negative in (False, True):
            unfolded = result.replace(_is_int_mod, lambda m, n=negative: _mod_as_floor(*m.args, n))
            if sympy.count_ops(unfolded) < sympy.count_ops(result):
                result = unfolded
    return normalize(result)


def _is_int_mod(e: sympy.Basic) -> bool:
    return isinstance(e, sympy.Mod) and e.args[1].is_Integer and e.args[1] > 0


def _mod_as_floor(x: sympy.Expr, k: sympy.Integer, negative: bool) -> sympy.Expr:
    """``x % k`` as ``x' - k*floor(x'/k)``, where ``x'`` is ``x`` with its integer coefficients taken to
    the residues nearest 0 (``6*a % 7`` is ``-a % 7``; a tie, ``a % 2``, goes negative if ``negative``),
    so that ``a + (-a) % 7`` sums to ``7*ceil(a/7)``."""
    k_int = int(k)
    terms = []
    for term in sympy.Add.make_args(sympy.expand(x)):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Integer or not (rest == 1 or rest.is_integer):
            return sympy.Mod(x, k)
        c = int(coeff) % k_int
        terms.append((c - k_int if 2 * c > k_int or (negative and 2 * c == k_int) else c) * rest)
    reduced = sympy.Add(*terms)
    negative = all(t.as_coeff_Mul()[0] < 0 for t in sympy.Add.make_args(reduced) if not t.is_Integer)
    quotient = -floordiv(-reduced + k_int - 1, k_int) if negative else floordiv(reduced, k_int)
    return reduced - k * quotient


def conv_out(length: Dim, kernel: int, stride: int, padding_total: int, dilation: int) -> Dim:
    """Output length of a convolution or pooling window sweep (floor mode)."""
    return floordiv(length + padding_total - dilation * (kernel - 1) - 1, stride) + 1


def pool_out(length: Dim, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> Dim:
    """torch's pooling output length (``pooling_output_shape``), in floor or ceil mode.

    In ceil mode torch computes ``out = floor((L + 2p - reach + s - 1) / s) + 1`` (``reach`` the
    window span) and drops the last window when it starts in the right padding, i.e. when
    ``(out - 1)*s >= L + p``, which is ``out > floor((L + p - 1)/s) + 1``. torch requires
    ``p <= reach / 2``, so the two candidates differ by at most one and the rule is a closed form:
    ``floor((L + p - 1)/s) + 1`` when ``p + s > reach``, else the plain ceil form.
    """
    reach = dilation * (kernel - 1) + 1
    if not ceil_mode:
        return conv_out(length, kernel, stride, 2 * padding, dilation)
    if padding + stride > reach:
        return floordiv(length + padding - 1, stride) + 1
    return floordiv(length + 2 * padding - reach + stride - 1, stride) + 1


def exact_quotient(a: Dim, b: Dim) -> Dim | None:
    """``a / b`` when it is a whole number for every size (``B*S*32 / (B*S*4) = 8``), else None."""
    if type(a) is int and type(b) is int:
        return a // b if b and a % b == 0 else None
    return _symbolic_quotient(a, b)


@lru_cache(maxsize=4096)  # a model's layers divide the same sizes (each GPT-2 block's reshapes)
def _symbolic_quotient(a: Dim, b: Dim) -> Dim | None:
    q = sympy.sympify(a) / b  # products of sizes cancel as they are divided (B*T*768 / (B*T))
    if not (q.is_Integer or q.is_Mul and _is_integer_monomial(q)):
        q = sympy.cancel(q)
    if q.is_Integer or _is_integer_polynomial(q):
        return normalize(q)
    return None


def reduce_common(a: Dim, b: Dim) -> tuple[Dim, Dim]:
    """``a`` and ``b`` divided by their greatest common factor: ``a % b == 0`` keeps its truth."""
    if type(a) is int and type(b) is int:
        g = math.gcd(a, b) or 1
        return a // g, b // g
    g = sympy.gcd(sympy.sympify(a), sympy.sympify(b))
    ra, rb = exact_quotient(a, g), exact_quotient(b, g)
    return (a, b) if ra is None or rb is None else (ra, rb)


def minimum(a: Dim, b: Dim, lows: Mapping[sympy.Symbol, int] | None = None) -> Dim:
    """The smaller of two sizes; sympy's ``Min`` when it cannot tell (a slice clamped to its dim).
    ``lows`` gives sizes' known least values (``H >= 4`` from an earlier layer), else 1."""
    if type(a) is int and type(b) is int:
        return min(a, b)
    low, high = bounds(difference(a, b), lows)
    if high is not None and high <= 0:
        return a
    if low is not None and low >= 0:
        return b
    return normalize(sympy.Min(a, b))


def maximum(a: Dim, b: Dim, lows: Mapping[sympy.Symbol, int] | None = None) -> Dim:
    if type(a) is int and type(b) is int:
        return max(a, b)
    low, high = bounds(difference(a, b), lows)
    if low is not None and low >= 0:
        return a
    if high is not None and high <= 0:
        return b
    return normalize(sympy.Max(a, b))


Bound = Union[int, None]  # None: unbounded on that side


def bounds(d: Dim, lows: Mapping[sympy.Symbol, int] | None = None) -> tuple[Bound, Bound]:
    """Least and greatest integer value of ``d`` over sizes of at least ``lows`` (default 1), by interval
    arithmetic: sound, not always tight; None where it finds no bound."""
    if type(d) is int:
        return d, d
    lo, hi = _bounds(d, lows or {})
    if lo is None or hi is None:
        l_lo, l_hi = _remainder_bounds(d)
        lo = l_lo if lo is None else lo if l_lo is None else max(lo, l_lo)
        hi = l_hi if hi is None else hi if l_hi is None else min(hi, l_hi)
    return lo, hi


def _remainder_bounds(e: sympy.Expr) -> tuple[Bound, Bound]:
    """Bounds of ``e`` with each ``floor(p/q)`` written ``(p - r)/q`` and each ``x % k`` as ``r``, the
    remainders ``r`` independent in ``[0, q - 1]``: where the sizes cancel (``7*ceil(a/7) - a``), what is
    left bounds ``e``."""
    ranges: dict[sympy.Symbol, int] = {}
    names: dict[sympy.Expr, sympy.Symbol] = {}

    def remainder(atom: sympy.Expr, q: int) -> sympy.Symbol:
        if atom not in names:
            names[atom] = sympy.Dummy("r")
            ranges[names[atom]] = q - 1
        return names[atom]

    for _ in range(8):
        atoms = [a for a in e.atoms(sympy.floor, sympy.Mod)]
        if not atoms:
            break
        replacement = {}
        for atom in atoms:
            if isinstance(atom, sympy.Mod):
                if not _is_int_mod(atom):
                    return None, None
                replacement[atom] = remainder(atom, int(atom.args[1]))
            else:
                p, q = _integer_fraction(atom.args[0])
                if p is None:
                    return None, None
                replacement[atom] = (p - remainder(atom, q)) / q
        e = sympy.expand(e.xreplace(replacement))
    else:
        return None, None
    if not e.free_symbols <= set(ranges) or e.has(sympy.Min, sympy.Max):
        return None, None
    lo = hi = Fraction(0)
    for term in sympy.Add.make_args(e):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Rational:
            return None, None
        c = Fraction(int(coeff.p), int(coeff.q))
        if rest == 1:
            lo, hi = lo + c, hi + c
        elif rest in ranges:
            lo, hi = lo + min(0, c * ranges[rest]), hi + max(0, c * ranges[rest])
        else:
            return None, None
    return math.ceil(lo), math.floor(hi)


def _bounds(e: sympy.Expr, lows: Mapping[sympy.Symbol, int]) -> tuple[Bound, Bound]:
    if e.is_Integer:
        return int(e), int(e)
    if e.is_Symbol:
        return max(lows.get(e, 1), 1), None
    if e.is_Add:
        lo, hi = 0, 0
        for term in e.args:
            t_lo, t_hi = _bounds(term, lows)
            lo = None if lo is None or t_lo is None else lo + t_lo
            hi = None if hi is None or t_hi is None else hi + t_hi
        return lo, hi
    if e.is_Mul:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_Integer and rest is not e:
            r_lo, r_hi = _bounds(rest, lows)
            k = int(coeff)
            scaled = (None if r_lo is None else k * r_lo, None if r_hi is None else k * r_hi)
            return scaled if k >= 0 else (scaled[1], scaled[0])
        lo, hi = 1, 1
        for factor in e.args:
            f_lo, f_hi = _bounds(factor, lows)
            if f_lo is None or f_lo < 0:
                return None, None
            lo = lo * f_lo
            hi = None if hi is None or f_hi is None else hi * f_hi
        return lo, hi
    if isinstance(e, sympy.floor):
        p, q = _integer_fraction(e.args[0])
        if p is None:
            return None, None
        p_lo, p_hi = _bounds(p, lows)
        return (None if p_lo is None else p_lo // q), (None if p_hi is None else p_hi // q)
    if _is_int_mod(e):
        return 0, int(e.args[1]) - 1
    if isinstance(e, (sympy.Min, sympy.Max)):
        pairs = [_bounds(a, lows) for a in e.args]
        los, his = [p[0] for p in pairs], [p[1] for p in pairs]
        if isinstance(e, sympy.Min):
            return (None if None in los else min(los)), min([h for h in his if h is not None], default=None)
        return max([v for v in los if v is not None], default=None), (None if None in his else max(his))
    return None, None


def difference(a: Dim, b: Dim) -> Dim:
    if type(a) is int and type(b) is int:
        return a - b
    return normalize(sympy.expand(a - b))


def split_constant(d: Dim) -> tuple[Dim, int]:
    """``d`` as ``rest + c`` with ``c`` its integer constant term (``T + 3`` -> ``(T, 3)``)."""
    if type(d) is int:
        return 0, d
    c, rest = d.as_coeff_Add()
    return (normalize(rest), int(c)) if c.is_Integer else (d, 0)


def definitely_equal(a: Dim, b: Dim) -> bool:
    if type(a) is int and type(b) is int:
        return a == b
    return difference(a, b) == 0


def free_symbols(d: Dim | tuple | None) -> set[sympy.Symbol]:
    """The symbols of a dim (or of a tuple of dims, None entries allowed)."""
    if isinstance(d, tuple):
        return set().union(*(free_symbols(x) for x in d))
    return set() if d is None or type(d) is int else set(d.free_symbols)


def shape_symbols(shapes: Iterable[Iterable[Dim]]) -> set[sympy.Symbol]:
    found: set[sympy.Symbol] = set()
    for shape in shapes:
        for d in shape:
            if type(d) is not int:
                found |= d.free_symbols
    return found


def substitute(d: Dim, values: Mapping[sympy.Symbol, Dim]) -> Dim:
    """``d`` with symbols replaced; integers stay ints and floors keep their canonical form.
    A tuple of dims is substituted entry by entry; None stays None."""
    if type(d) is int or d is None or not values:
        return d
    if isinstance(d, tuple):
        return tuple(substitute(x, values) for x in d)
    free = d.free_symbols
    if not (free & values.keys()):
        return d
    if free <= values.keys() and all(type(values[s]) is int for s in free):
        return evaluate(d, values)
    return normalize(d.xreplace({k: sympy.Integer(v) if type(v) is int else v for k, v in values.items()}))


def substitute_shape(shape: Iterable[Dim], values: Mapping[sympy.Symbol, Dim]) -> Shape:
    return tuple(substitute(d, values) for d in shape)


# ---------------------------------------------------------------------------------------------
# exact evaluation without sympy's slow substitution


def evaluate(d: Dim, values: Mapping[sympy.Symbol, int]) -> int:
    """The integer value of ``d`` at integer ``values`` of its symbols (exact, no floats)."""
    if type(d) is int:
        return d
    result = _compiled(d)(values)
    if result.denominator != 1:
        raise ValueError(f"{d} is not an integer at {dict(values)}")
    return int(result)


@lru_cache(maxsize=4096)
def _compiled(e: sympy.Expr) -> Callable[[Mapping[sympy.Symbol, int]], Fraction]:
    return _compile(e)


def _compile(e: sympy.Expr) -> Callable[[Mapping[sympy.Symbol, int]], Fraction]:
    if e.is_Integer:
        value = Fraction(int(e))
        return lambda env: value
    if e.is_Rational:
        value = Fraction(int(e.p), int(e.q))
        return lambda env: value
    if e.is_Symbol:
        return lambda env: Fraction(env[e])
    args = [_compile(a) for a in e.args]
    if e.is_Add:
        return lambda env: sum((f(env) for f in args), Fraction(0))
    if e.is_Mul:
        def mul(env: Mapping[sympy.Symbol, int]) -> Fraction:
            r = Fraction(1)
            for f in args:
                r *= f(env)
            return r
        return mul
    if e.is_Pow and e.exp.is_Integer:
        base, exponent = args[0], int(e.exp)
        return lambda env: base(env) ** exponent
    if isinstance(e, sympy.floor):
        return lambda env: Fraction(math.floor(args[0](env)))
    if isinstance(e, sympy.ceiling):
        return lambda env: Fraction(math.ceil(args[0](env)))
    if isinstance(e, sympy.Mod):
        return lambda env: args[0](env) % args[1](env)
    if isinstance(e, sympy.Max):
        return lambda env: max(f(env) for f in args)
    if isinstance(e, sympy.Min):
        return lambda env: min(f(env) for f in args)
    raise ValueError(f"cannot evaluate {e} (unsupported operation {type(e).__name__})")


# ---------------------------------------------------------------------------------------------
# solving


def solve_linear(lhs: Dim, rhs: Dim) -> tuple[sympy.Symbol, Dim] | None:
    """A substitution ``symbol -> value`` making ``lhs == rhs``, when one follows directly.

    Handles the cases that pin sizes: ``D == 20``, ``2*T == 64`` and ``E == D`` (a symbol equal
    to an expression of other symbols). Returns None when no such substitution is obvious.
    """
    diff = difference(lhs, rhs)
    if type(diff) is int:
        return None
    diff = _drop_positive_factors(diff)
    for s in sorted(diff.free_symbols, key=lambda s: s.name, reverse=True):
        poly = diff.as_poly(s)
        if poly is None or poly.degree() != 1:
            continue
        a, b = poly.all_coeffs()
        if a.free_symbols or not a.is_Integer:
            continue
        value = -b / a
        if value.free_symbols:
            if a in (1, -1) and _is_integer_polynomial(value):
                return s, normalize(sympy.expand(value))
            continue
        return s, int(value) if value.is_Integer else value  # a fraction: the caller reports it
    return None


def _drop_positive_factors(e: sympy.Expr) -> sympy.Expr:
    """``B*(32 - D)`` -> ``32 - D``: sizes are positive, so such factors cannot make it zero."""
    factored = sympy.factor_terms(e)
    if not factored.is_Mul:
        return e
    kept = [f for f in factored.args if not (f.is_number or f.is_positive)]
    return sympy.Mul(*kept) if kept else e


def _is_integer_polynomial(e: sympy.Expr) -> bool:
    p, q = _integer_fraction(e)
    return p is not None and q == 1


# ---------------------------------------------------------------------------------------------
# printing in Python syntax (conditions)


class _PythonPrinter(StrPrinter):
    """sympy's str() with Python's spelling: ``ceil(H / 32)``, ``floor((H + 1) / 2)``, ``H % 4``, ``min(512, T)``."""

    def _print_Add(self, expr: sympy.Expr, order: str | None = None) -> str:
        split = _split_floor(expr)
        if split is None:
            return super()._print_Add(expr, order)
        p, q, c = split
        return self._rounded(p, q, c)

    def _print_floor(self, expr: sympy.Expr) -> str:
        p, q = _integer_fraction(expr.args[0])
        return f"floor({self._print(expr.args[0])})" if p is None else self._rounded(p, q, 0)

    def _print_ceiling(self, expr: sympy.Expr) -> str:
        p, q = _integer_fraction(expr.args[0])
        if p is None:
            return f"ceil({self._print(expr.args[0])})"
        return self._rounded(p - q + 1, q, 0)  # ceil(p/q) == floor((p + q - 1)/q)

    def _rounded(self, p: sympy.Expr, q: int, c: int) -> str:
        """``floor(p/q) + c`` as floor or ceil, whichever needs no constant in its numerator."""
        r = int(p.as_coeff_Add()[0])
        p0 = p - r
        r_floor = r % q
        floor_text = self._quotient("floor", p0 + r_floor, q, c + (r - r_floor) // q)
        t = r - q + 1  # floor((p0 + r)/q) == ceil((p0 + t)/q)
        r_ceil = -((-t) % q)
        ceil_text = self._quotient("ceil", p0 + r_ceil, q, c + (t - r_ceil) // q)
        return ceil_text if r_ceil == 0 and r_floor != 0 else floor_text

    def _quotient(self, name: str, numerator: sympy.Expr, q: int, c: int) -> str:
        text = self._print(numerator)
        if numerator.is_Add:
            text = f"({text})"
        body = f"{name}({text} / {q})" if q != 1 else text
        return body if c == 0 else f"{body} {'+' if c > 0 else '-'} {abs(c)}"

    def parenthesize(self, item: sympy.Basic, level: int, strict: bool = False) -> str:
        """No parentheses around a floor or ceil that prints as one call (``3*ceil(H / 32)``), and around one
        that prints as a sum (``floor((H - 1) / 4)`` is ``ceil(H / 4) - 1``) always: ``(ceil(H / 4) - 1)*T``."""
        rounded = isinstance(item, (sympy.floor, sympy.ceiling))
        if rounded or (isinstance(item, sympy.Add) and _split_floor(item) is not None):
            text = self._print(item)
            if _one_call(text):
                return text
            if rounded:
                return f"({text})"
        return super().parenthesize(item, level, strict)

    def _print_Mod(self, expr: sympy.Expr) -> str:
        a, b = expr.args
        return " % ".join(self.parenthesize(x, PRECEDENCE["Mul"], strict=True) for x in (a, b))

    def _print_Min(self, expr: sympy.Expr) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr: sympy.Expr) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"


def _one_call(text: str) -> bool:
    """Whether ``text`` is one call ``f(...)``: its first parenthesis closes at its end."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch == ")":
            return i == len(text) - 1
    return False


_PRINTER = _PythonPrinter()


def python(d: Dim) -> str:
    """A dim in Python syntax a user can paste (``ceil(H / 32)``, ``H % 4``, ``min(512, T)``);
    ``floor``/``ceil`` are math's, ``min``/``max`` Python's."""
    return str(d) if type(d) is int else _PRINTER.doprint(d)


def python_term(d: Dim) -> str:
    """``python(d)``, in parentheses when it is a sum (to stand left of ``%``)."""
    text = python(d)
    return f"({text})" if type(d) is not int and d.is_Add else text


# ---------------------------------------------------------------------------------------------
# evaluation over many sizes at once


def evaluate_grid(d: Dim, values: Mapping[sympy.Symbol, np.ndarray]) -> np.ndarray:
    """``d`` at every point of a grid: ``values`` holds one int64 array per symbol, all of one shape."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
    result = np.int64(d) if type(d) is int else _vectorized(d)(values)
    return np.broadcast_to(result, shape)


@lru_cache(maxsize=4096)
def _vectorized(e: sympy.Expr) -> Callable[[Mapping[sympy.Symbol, np.ndarray]], np.ndarray]:
    if e.is_Integer:
        value = np.int64(int(e))
        return lambda env: value
    if e.is_Symbol:
        return lambda env: np.asarray(env[e], dtype=np.int64)
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        p, q = _integer_fraction(e.args[0])
        if p is None:
            raise ValueError(f"cannot evaluate {e} on a grid")
        numerator = _vectorized(p)
        if isinstance(e, sympy.floor):
            return lambda env: numerator(env) // q
        return lambda env: -(-numerator(env) // q)
    if e.is_Pow and e.exp.is_Integer and e.exp > 0:
        base, exponent = _vectorized(e.base), int(e.exp)
        return lambda env: base(env) ** exponent
    if not (e.is_Add or e.is_Mul or isinstance(e, (sympy.Mod, sympy.Min, sympy.Max))):
        raise ValueError(f"cannot evaluate {e} on a grid")
    if any(a.is_Rational and not a.is_Integer for a in e.args):
        raise ValueError(f"cannot evaluate {e} on a grid (a fraction outside a floor)")
    args = [_vectorized(a) for a in e.args]
    if e.is_Add:
        return lambda env: sum(f(env) for f in args)
    if e.is_Mul:
        def mul(env: Mapping[sympy.Symbol, np.ndarray]) -> np.ndarray:
            r = args[0](env)
            for f in args[1:]:
                r = r * f(env)
            return r
        return mul
    if isinstance(e, sympy.Mod):
        return lambda env: args[0](env) % args[1](env)
    join = np.minimum if isinstance(e, sympy.Min) else np.maximum
    return lambda env: reduce(join, (f(env) for f in args))
