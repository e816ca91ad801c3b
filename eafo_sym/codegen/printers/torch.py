"""The torch printer, fixed for activation functions, and the one table of torch operations.

Its own module because ``sympy.printing.pytorch`` imports torch when it is installed. The
printed code expects ``torch`` and ``math`` (for ``math.inf``/``math.nan``) in scope, and the
symbols as variables.

>>> import sympy as sp
>>> from eafo_sym import x
>>> torch_code(sp.Max(0, x))
'torch.clamp(x, min=0.0)'
>>> torch_code(x * sp.exp(-x**2 / 2))
'torch.exp(-0.5*(x*x))*torch.nan_to_num(x)'
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, log1p
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pytorch import TorchPrinter

from ..stable import erfc_, sigmoid
from .base import PythonFixes, float_literal, prepare

__all__ = ["TORCH_OPS", "EafoTorchModulePrinter", "EafoTorchPrinter", "torch_code"]

#: Elementwise functions -> (torch's function, the Tensor method that computes it in place).
#: The printer calls the first; the emitter of :mod:`eafo_sym.codegen.emit` writes the second
#: on a dead temporary, or the first with ``out=`` into a dead buffer.
TORCH_OPS: dict[type, tuple[str, str]] = {
    sp.exp: ("torch.exp", "exp_"),
    exp2: ("torch.exp2", "exp2_"),
    expm1: ("torch.expm1", "expm1_"),
    log1p: ("torch.log1p", "log1p_"),
    sigmoid: ("torch.sigmoid", "sigmoid_"),
    sp.tanh: ("torch.tanh", "tanh_"),
    sp.erf: ("torch.special.erf", "erf_"),
    sp.erfc: ("torch.special.erfc", "erfc_"),
    erfc_: ("torch.special.erfc", "erfc_"),
    sp.Abs: ("torch.abs", "abs_"),
    sp.log: ("torch.log", "log_"),
    sp.sin: ("torch.sin", "sin_"),
    sp.cos: ("torch.cos", "cos_"),
}


class EafoTorchPrinter(PythonFixes, TorchPrinter):
    """SymPy's torch printer, fixed for activation functions.

    >>> import sympy as sp
    >>> from eafo_sym import x, eps
    >>> p = EafoTorchPrinter()
    >>> p.doprint(sp.Max(0, x, eps))
    'torch.clamp(torch.maximum(epsilon, x), min=0.0)'
    >>> p.doprint(sp.Heaviside(x, 0))
    'torch.clamp(x, 0.0, 1.0).ceil_()'
    >>> p.doprint(sp.Piecewise((x, x > 0)))
    'torch.where(x > 0, x, math.nan)'
    """

    backend = "torch"
    _lib = "torch"
    #: Whether a printed expression may write in place into results it created.
    in_place = True

    def __init__(self, settings=None, *, in_place: bool = True) -> None:
        super().__init__(settings)
        self.in_place = in_place
    mapping = {**TorchPrinter.mapping, **{f: call for f, (call, _) in TORCH_OPS.items()}}
    _supported_functions = tuple(
        k for k in mapping if isinstance(k, type) and issubclass(k, sp.Function)
    )

    def _print_Relational(self, expr):
        """Infix comparisons: they accept Python numbers on either side and read better."""
        lhs = self.parenthesize(expr.lhs, PRECEDENCE["Relational"])
        rhs = self.parenthesize(expr.rhs, PRECEDENCE["Relational"])
        return f"{lhs} {expr.rel_op} {rhs}"

    def _fold_minmax(self, expr, fold: str, clamp: str) -> str:
        num = [a for a in expr.args if a.is_number]
        sym = sorted((a for a in expr.args if not a.is_number), key=sp.default_sort_key)
        out = self._print(sym[0])
        for a in sym[1:]:
            out = f"{self._lib}.{fold}({out}, {self._print(a)})"
        if num:
            # SymPy merges numeric arguments, so there is at most one.
            out = self._clamp(out, clamp, float_literal(num[0]))
        return out

    def _clamp(self, printed: str, bound: str, value: str) -> str:
        """A one-sided clamp (``bound`` is ``"min"`` or ``"max"``)."""
        return f"{self._lib}.clamp({printed}, {bound}={value})"

    def _print_Max(self, expr):
        """clamp/maximum: torch.max(0, x) fails on a Python number and takes only two args."""
        return self._fold_minmax(expr, "maximum", "min")

    def _print_Min(self, expr):
        """clamp/minimum: torch.min(0, x) fails on a Python number and takes only two args."""
        return self._fold_minmax(expr, "minimum", "max")

    def _print_Heaviside(self, expr):
        """Value at 0 from the second arg (default 1/2), nan kept; torch.heaviside needs a tensor.

        ``ceil(clamp(u, 0, 1))`` is 1 for u > 0, 0 for u <= 0 and nan for nan
        in two cheap passes (torch.heaviside maps nan to 0 and is slow on CPU).
        """
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        a = self._print(expr.args[0])
        step = f"torch.clamp({a}, 0.0, 1.0).ceil_()"  # ceil_ on clamp's fresh result
        if h0 == 0:
            return step
        if h0 == 1:
            return f"(1.0 - torch.clamp(-({a}), 0.0, 1.0).ceil_())"
        return f"torch.where({a} == 0, {float_literal(h0)}, {step})"

    def _print_Pow(self, expr):
        """x**2 as x*x (one kernel, exact); sqrt and the rest as torch.sqrt/torch.pow."""
        if expr.exp == 2:
            # Parenthesised: SymPy's Mul printer puts it after "/" as a denominator.
            b = self.parenthesize(expr.base, PRECEDENCE["Mul"])
            return f"({b}*{b})"
        if expr.exp == -1:
            return f"torch.reciprocal({self._print(expr.base)})"
        if expr.exp == sp.S.Half:
            return f"torch.sqrt({self._print(expr.base)})"
        base = self._print(expr.base)
        if expr.base.is_number:
            base = float_literal(expr.base)
        return f"torch.pow({base}, {self._print(expr.exp)})"

    def _print_softplus(self, expr):
        """max(t, 0) + log1p(exp(-|t|)): exact in float64, unlike F.softplus's threshold."""
        t = self._print(expr.args[0])
        # In-place chain on abs's fresh result: one allocation instead of four.
        if not self.in_place:
            return f"torch.log1p(torch.exp(-torch.abs({t}))) + {self._clamp(t, 'min', '0.0')}"
        return f"torch.abs({t}).neg_().exp_().log1p_().add_({self._clamp(t, 'min', '0.0')})"


class EafoTorchModulePrinter(EafoTorchPrinter):
    """The printer of torch module files: one-sided clamps through the file's helpers.

    ``_at_least(x, c)``/``_at_most(x, c)`` are ``torch.clamp(x, min=c)``/``max=c``,
    except under torch.export, where ONNX's Clip would map +-inf to the float range's
    ends (see the helpers of :mod:`eafo_sym.codegen.templates.nn`).

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> EafoTorchModulePrinter().doprint(sp.Max(0, x) + sp.Min(1, x))
    '_at_least(x, 0.0) + _at_most(x, 1.0)'
    """

    #: One-sided clamp -> the module file's helper.
    CLAMPS = {"min": "_at_least", "max": "_at_most"}


    def _clamp(self, printed: str, bound: str, value: str) -> str:
        return f"{self.CLAMPS[bound]}({printed}, {value})"


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
    return EafoTorchPrinter().doprint(prepare(expr, stable))
