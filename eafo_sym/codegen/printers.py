"""Code printers for torch, NumPy/SciPy and JAX that fix what SymPy 1.14 gets wrong.

The printers subclass SymPy's own (``sympy.printing.pytorch.TorchPrinter``,
``sympy.printing.numpy.SciPyPrinter`` and ``JaxPrinter``) and override only
what breaks for activation functions. Every printer refuses nodes it cannot
translate with an error naming the node, instead of printing a call to a
function that does not exist in the target library.

The printed code expects the target module under its usual name in scope
(``torch``, ``numpy``/``scipy``, ``jax``), ``math`` for ``math.inf``/``math.nan``,
and the symbols as variables.

>>> import sympy as sp
>>> from eafo_sym import x
>>> torch_code(sp.Max(0, x))
'torch.clamp(x, min=0.0)'
>>> torch_code(x * sp.exp(-x**2 / 2))
'torch.exp(-0.5*(x*x))*torch.nan_to_num(x)'
"""

from __future__ import annotations

import math

import sympy as sp
from sympy.printing.numpy import JaxPrinter, SciPyPrinter
from sympy.printing.precedence import PRECEDENCE

__all__ = [
    "UnsupportedNodeError",
    "EafoSciPyPrinter",
    "EafoJaxPrinter",
    "torch_code",
    "numpy_code",
    "jax_code",
    "float_literal",
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


def _foldable(expr: sp.Basic) -> bool:
    """A real numeric constant (pi, sqrt(2), 1/2, E, ...) that should print as a float literal."""
    return (
        isinstance(expr, sp.Expr)
        and not expr.is_Integer
        and not expr.free_symbols
        and expr.is_number
        and expr.is_extended_real is True
    )


class _Fixes:
    """Overrides shared by all backends; ``_lib`` names the array module."""

    _lib = "torch"
    _supported_functions: tuple[type, ...] = ()

    def _print(self, expr, **kwargs):
        """Fold numeric constants to float literals: torch.sqrt(2) fails on a Python int."""
        if _foldable(expr):
            return float_literal(expr)
        return super()._print(expr, **kwargs)

    def _print_Mul(self, expr):
        """Fold the numeric coefficient of a product into one literal (0.5*sqrt(2) -> 0.707...)."""
        num = [a for a in expr.args if _foldable(a) or a.is_Integer]
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

    def _print_Function(self, expr):
        """Refuse unknown functions by name instead of printing a call that does not exist."""
        if type(expr) in self._supported_functions:
            return super()._print_Function(expr)
        raise UnsupportedNodeError(
            f"unsupported SymPy node {type(expr).__name__} in {expr} for the "
            f"{self._lib} backend"
        )

    def _print_Basic(self, expr):
        """Refuse any other node the base printer would print verbatim."""
        raise UnsupportedNodeError(
            f"unsupported SymPy node {type(expr).__name__} in {expr} for the "
            f"{self._lib} backend"
        )

    def _print_not_supported(self, expr):
        """Same error as for functions (the base printers raise a printer-specific error)."""
        return self._print_Basic(expr)


class _NumpyLikeFixes(_Fixes):
    """Max/Min and Heaviside for the numpy-like printers."""

    def _fold_minmax(self, expr, fold: str) -> str:
        args = sorted(expr.args, key=lambda a: (not a.is_number, sp.default_sort_key(a)))
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{self._lib}.{fold}({out}, {self._print(a)})"
        return out

    def _print_Max(self, expr):
        """Nested maximum (nan-propagating, any number of args), not reduce over a list."""
        return self._fold_minmax(expr, "maximum")

    def _print_Min(self, expr):
        """Nested minimum (nan-propagating, any number of args), not reduce over a list."""
        return self._fold_minmax(expr, "minimum")

    def _print_Heaviside(self, expr):
        """heaviside with the value at 0 from the second arg (default 1/2)."""
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return f"{self._lib}.heaviside({self._print(expr.args[0])}, {float_literal(h0)})"


class EafoSciPyPrinter(_NumpyLikeFixes, SciPyPrinter):
    """SciPy/NumPy printer with the same fixes; sigmoid/softplus map to expit/logaddexp.

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> EafoSciPyPrinter().doprint(sp.Max(0, x) + sp.erf(x))
    'scipy.special.erf(x) + numpy.maximum(0, x)'
    """

    _lib = "numpy"
    _supported_functions = tuple(
        k
        for k in (*SciPyPrinter._kf, *SciPyPrinter._kc)
        if isinstance(k, type)
    )

    def __init__(self, settings=None):
        super().__init__(dict({"fully_qualified_modules": True}, **(settings or {})))

    def _print_Function(self, expr):
        """Refuse unknown functions by name (SciPyPrinter's own table decides what is known)."""
        name = type(expr).__name__
        if hasattr(super(), f"_print_{name}") or self.known_functions.get(name):
            return SciPyPrinter._print_Function(self, expr)
        return _Fixes._print_Function(self, expr)

    def _print_erfc_(self, expr):
        """The stable erfc of :mod:`eafo_sym.codegen.stable`."""
        return f"scipy.special.erfc({self._print(expr.args[0])})"

    def _print_sigmoid(self, expr):
        """scipy.special.expit: never overflows."""
        return f"scipy.special.expit({self._print(expr.args[0])})"

    def _print_softplus(self, expr):
        """logaddexp(0, t): never overflows."""
        return f"numpy.logaddexp(0, {self._print(expr.args[0])})"


class EafoJaxPrinter(_NumpyLikeFixes, JaxPrinter):
    """JAX printer with the same fixes; erf from jax.scipy (SymPy 1.14 prints math.erf).

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> EafoJaxPrinter().doprint(sp.erf(x))
    'jax.scipy.special.erf(x)'
    """

    _lib = "jax.numpy"

    def _print_Function(self, expr):
        """Refuse unknown functions by name."""
        name = type(expr).__name__
        if self.known_functions.get(name):
            return JaxPrinter._print_Function(self, expr)
        return _Fixes._print_Function(self, expr)

    def _print_erf(self, expr):
        """jax.scipy.special.erf: SymPy prints math.erf, which fails on arrays."""
        return f"jax.scipy.special.erf({self._print(expr.args[0])})"

    def _print_erfc(self, expr):
        """jax.scipy.special.erfc: SymPy prints math.erfc, which fails on arrays."""
        return f"jax.scipy.special.erfc({self._print(expr.args[0])})"

    def _print_erfc_(self, expr):
        """The stable erfc of :mod:`eafo_sym.codegen.stable`."""
        return f"jax.scipy.special.erfc({self._print(expr.args[0])})"

    def _print_sigmoid(self, expr):
        """jax.nn.sigmoid: never overflows."""
        return f"jax.nn.sigmoid({self._print(expr.args[0])})"

    def _print_softplus(self, expr):
        """jax.numpy.logaddexp(0, t): never overflows."""
        return f"jax.numpy.logaddexp(0, {self._print(expr.args[0])})"


def _stable(expr: sp.Expr, stable: bool) -> sp.Expr:
    """The stable form of :mod:`eafo_sym.codegen.stable` (guards relative to eafo_sym.x)."""
    if not stable:
        return sp.sympify(expr)
    from ..symbolic.symbols import x
    from .stable import guard_products, stabilize

    return guard_products(stabilize(sp.sympify(expr)), x)


def torch_code(expr: sp.Expr, *, stable: bool = True) -> str:
    """Torch source for ``expr``; evaluable with ``torch``, ``math`` and the symbols in scope.

    With ``stable`` (the default) the expression is first put in the stable
    form of :mod:`eafo_sym.codegen.stable` (sigmoid/softplus, guarded products).

    >>> import pytest; torch = pytest.importorskip("torch")
    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> code = torch_code(sp.Max(0, x) + sp.sqrt(2))
    >>> code
    'torch.clamp(x, min=0.0) + 1.4142135623730951'
    >>> eval(code, {"torch": torch, "x": torch.tensor([-1.0, 1.0])})
    tensor([1.4142, 2.4142])
    """
    # Imported here: sympy.printing.pytorch imports torch when it is installed.
    from .torch_printer import EafoTorchPrinter

    return EafoTorchPrinter().doprint(_stable(expr, stable))


def numpy_code(expr: sp.Expr, *, stable: bool = True) -> str:
    """NumPy/SciPy source for ``expr`` (needs ``numpy``, ``scipy.special``, ``math`` in scope).

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> numpy_code(sp.Piecewise((x, x > 0)))
    'numpy.where(numpy.greater(x, 0), x, math.nan)'
    """
    return EafoSciPyPrinter().doprint(_stable(expr, stable))


def jax_code(expr: sp.Expr, *, stable: bool = True) -> str:
    """JAX source for ``expr`` (needs ``jax`` with ``jax.numpy``, ``jax.scipy.special``, ``math``).

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> jax_code(sp.Min(0, x))
    'jax.numpy.minimum(0, x)'
    """
    return EafoJaxPrinter().doprint(_stable(expr, stable))
