"""The NumPy/SciPy printer, fixed for activation functions.

The printed code expects ``numpy``, ``scipy.special`` and ``math`` in scope, and the symbols
as variables.

>>> import sympy as sp
>>> from eafo_sym import x
>>> numpy_code(sp.Piecewise((x, x > 0)))
'numpy.where(numpy.greater(x, 0), x, math.nan)'
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.numpy import SciPyPrinter

from ..stable import erfc_, sigmoid, softplus
from .base import ArrayFixes, prepare

__all__ = ["EafoSciPyPrinter", "numpy_code"]


class EafoSciPyPrinter(ArrayFixes, SciPyPrinter):
    """SciPy/NumPy printer with the shared fixes; sigmoid/softplus map to expit/logaddexp.

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> EafoSciPyPrinter().doprint(sp.Max(0, x) + sp.erf(x))
    'scipy.special.erf(x) + numpy.maximum(0, x)'
    """

    backend = "numpy"
    _lib = "numpy"
    modules = ("numpy", "scipy.special")
    _calls = {
        erfc_: "scipy.special.erfc({})",
        sigmoid: "scipy.special.expit({})",  # never overflows
        softplus: "numpy.logaddexp(0, {})",  # never overflows
    }

    def __init__(self, settings=None):
        super().__init__(dict({"fully_qualified_modules": True}, **(settings or {})))


def numpy_code(expr: sp.Expr, *, stable: bool = True) -> str:
    """NumPy/SciPy source for ``expr`` (needs ``numpy``, ``scipy.special``, ``math`` in scope).

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> numpy_code(sp.Min(0, x) + sp.log(1 + sp.exp(x)))
    'numpy.logaddexp(0, x) + numpy.minimum(0, x)'
    """
    return EafoSciPyPrinter().doprint(prepare(expr, stable))
