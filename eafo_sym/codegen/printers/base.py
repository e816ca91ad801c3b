"""What the printers share: refusing what a target cannot translate, and SymPy 1.14's fixes.

Every printer names its backend in :attr:`Refusals.backend` and refuses a node it cannot
translate with an :class:`UnsupportedNodeError` naming the node, instead of printing a call to
a function that does not exist in the target library. :class:`PythonFixes` holds the overrides
that the Python-syntax printers (torch, NumPy/SciPy, JAX) share; :class:`ArrayFixes` adds those
of the NumPy-like ones.

>>> import sympy as sp
>>> from eafo_sym import x
>>> float_literal(sp.pi / 2)
'1.5707963267948966'
"""

from __future__ import annotations

import math

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ...symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from ..stable import guard_products, stabilize

__all__ = [
    "ArrayFixes",
    "NestedMinMax",
    "PythonFixes",
    "Refusals",
    "UnsupportedNodeError",
    "float_literal",
    "is_foldable",
    "prepare",
]


class UnsupportedNodeError(TypeError):
    """A SymPy node that a backend cannot translate (a TypeError, so the CLI exits 2)."""


def float_literal(value: sp.Expr) -> str:
    """A Python float literal for a real numeric SymPy expression (``math.inf`` for oo).

    >>> float_literal(sp.sqrt(2))
    '1.4142135623730951'
    >>> float_literal(-sp.oo)
    '-math.inf'
    """
    v = float(sp.N(value, 30))
    if math.isnan(v):
        return "math.nan"
    if math.isinf(v):
        return "math.inf" if v > 0 else "-math.inf"
    return repr(v)


def is_foldable(expr: sp.Basic) -> bool:
    """A real numeric constant (pi, sqrt(2), 1/2, E, ...) that should print as a float literal."""
    return (
        isinstance(expr, sp.Expr)
        and not expr.is_Integer
        and not expr.free_symbols
        and expr.is_number
        and expr.is_extended_real is True
    )


def prepare(expr: sp.Expr, stable: bool) -> sp.Expr:
    """``expr`` in the stable, guarded form of :mod:`eafo_sym.codegen.stable` (if ``stable``).

    The product guards are relative to :data:`eafo_sym.x`.

    >>> from eafo_sym import x
    >>> prepare(x / (1 + sp.exp(-x)), stable=True)
    zero_guard(sigmoid(x), x)
    """
    if not stable:
        return sp.sympify(expr)
    return guard_products(stabilize(sp.sympify(expr)), X)


class Refusals:
    """Overrides that refuse, by name, every node a printer has no translation for."""

    #: The backend's name, for messages (and for the file assemblers).
    backend = ""
    #: Function classes the base printer translates correctly for this backend.
    _supported_functions: tuple[type, ...] = ()

    def unsupported(self, expr: sp.Basic) -> UnsupportedNodeError:
        """The error for ``expr``, naming its node type and the backend."""
        return UnsupportedNodeError(
            f"unsupported SymPy node {type(expr).__name__} in {expr} for the "
            f"{self.backend} backend"
        )

    def _knows(self, expr: sp.Basic) -> bool:
        return type(expr) in self._supported_functions

    def _print_Function(self, expr):
        """Refuse unknown functions by name instead of printing a call that does not exist."""
        if self._knows(expr):
            return super()._print_Function(expr)
        raise self.unsupported(expr)

    def _print_Basic(self, expr):
        """Refuse any other node the base printer would print verbatim."""
        raise self.unsupported(expr)

    def _print_not_supported(self, expr):
        """Same error as for functions (the base printers raise a printer-specific error)."""
        raise self.unsupported(expr)


class PythonFixes(Refusals):
    """Overrides shared by the Python-syntax printers; ``_lib`` names the array module."""

    _lib = "torch"

    def _print(self, expr, **kwargs):
        """Fold numeric constants to float literals: torch.sqrt(2) fails on a Python int."""
        if is_foldable(expr):
            return float_literal(expr)
        return super()._print(expr, **kwargs)

    def _print_Mul(self, expr):
        """Fold the numeric coefficient of a product into one literal (0.5*sqrt(2) -> 0.707...)."""
        num = [a for a in expr.args if is_foldable(a) or a.is_Integer]
        rest = [a for a in expr.args if a not in num]
        if not num or not rest:
            return super()._print_Mul(expr)
        c = sp.Mul(*num)
        body = sp.Mul(*rest, evaluate=False) if len(rest) > 1 else rest[0]
        if c == 1:
            return self._print(body)
        if c == -1:
            return "-" + self.parenthesize(body, PRECEDENCE["Mul"])
        lit = str(c) if c.is_Integer else float_literal(c)
        return f"{lit}*{self.parenthesize(body, PRECEDENCE['Mul'])}"

    def _print_Piecewise(self, expr):
        """Nested where with an explicit default: nan when no branch is True (SymPy prints 0)."""
        default = "math.nan"
        pieces = list(expr.args)
        if pieces and pieces[-1].cond == sp.true:
            default = self._print(pieces.pop().expr)
        out = default
        for piece in reversed(pieces):
            out = (
                f"{self._lib}.where({self._print(piece.cond)}, "
                f"{self._print(piece.expr)}, {out})"
            )
        return out

    def _print_zero_guard(self, expr):
        """where(T == 0, T, T*A) per zero factor T: an underflowed T beats an overflowed A.

        Where no T is 0 the product is the plain ``T*A`` (so ``1 * inf`` stays
        inf); a nan input still gives nan because ``T(nan)`` is nan.
        """
        *zeros, cof = expr.args
        names, firsts = [], []
        for t in zeros:
            if t.is_Symbol:
                names.append(self._print(t))
                firsts.append(names[-1])
            else:
                # Evaluate T once inside a single expression (module code hoists T instead).
                self._guard_count = getattr(self, "_guard_count", 0) + 1
                names.append(f"_g{self._guard_count}")
                firsts.append(f"({names[-1]} := {self._print(t)})")
        out = "*".join(names)
        if cof != 1:
            out += "*" + self.parenthesize(cof, PRECEDENCE["Mul"])
        for first, name in reversed(list(zip(firsts, names, strict=True))):
            out = f"{self._lib}.where({first} == 0, {name}, {out})"
        return out

    def _print_decay_guard(self, expr):
        """T * nan_to_num(A): one pass; see :class:`eafo_sym.codegen.stable.decay_guard`."""
        t = self.parenthesize(expr.args[0], PRECEDENCE["Mul"])
        return f"{t}*{self._lib}.nan_to_num({self._print(expr.args[1])})"


class NestedMinMax:
    """Max and Min as nested two-argument calls, which propagate nan and take any number of args.

    ``_nested_calls`` names the maximum and minimum calls; ``_nested_order`` puts the
    arguments in a fixed order.
    """

    _nested_calls: tuple[str, str] = ("maximum", "minimum")

    def _nested_order(self, args):
        return sorted(args, key=sp.default_sort_key)

    def _nest(self, expr, call: str) -> str:
        args = self._nested_order(expr.args)
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{call}({out}, {self._print(a)})"
        return out

    def _print_Max(self, expr):
        """Nested maximum: SymPy prints a reduce over a list (NumPy) or fmax (C), which drop nan."""
        return self._nest(expr, self._nested_calls[0])

    def _print_Min(self, expr):
        """Nested minimum: SymPy prints a reduce over a list (NumPy) or fmin (C), which drop nan."""
        return self._nest(expr, self._nested_calls[1])


class ArrayFixes(NestedMinMax, PythonFixes):
    """Max/Min, Heaviside and library calls for the NumPy-like printers (SciPy, JAX)."""

    #: Function -> the library call that prints it, ``{}`` standing for the argument.
    _calls: dict[type, str] = {}
    #: Modules the printed code needs besides ``math`` (the generated files import them).
    modules: tuple[str, ...] = ()

    def _knows(self, expr: sp.Basic) -> bool:
        return bool(self.known_functions.get(type(expr).__name__))

    def _print_call(self, expr):
        """A function of ``_calls``: a library call that does not overflow, or SymPy misprints."""
        return self._calls[type(expr)].format(*(self._print(a) for a in expr.args))

    _print_sigmoid = _print_softplus = _print_erfc_ = _print_call

    @property
    def _nested_calls(self) -> tuple[str, str]:
        return f"{self._lib}.maximum", f"{self._lib}.minimum"

    def _nested_order(self, args):
        return sorted(args, key=lambda a: (not a.is_number, sp.default_sort_key(a)))

    def _print_Heaviside(self, expr):
        """heaviside with the value at 0 from the second arg (default 1/2)."""
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return f"{self._lib}.heaviside({self._print(expr.args[0])}, {float_literal(h0)})"
