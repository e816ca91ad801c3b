"""The JAX printer, fixed for activation functions.

The printed code expects ``jax`` (with ``jax.numpy``, ``jax.scipy.special`` and ``jax.nn``
loaded) and ``math`` in scope, and the symbols as variables.

>>> import sympy as sp
>>> from eafo_sym import x
>>> jax_code(sp.Min(0, x))
'jax.numpy.minimum(0, x)'
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.numpy import JaxPrinter

from ..stable import erfc_, sigmoid, softplus
from .base import ArrayFixes, prepare

__all__ = ["EafoJaxPrinter", "jax_code"]


class EafoJaxPrinter(ArrayFixes, JaxPrinter):
    """JAX printer with the shared fixes; erf from jax.scipy (SymPy 1.14 prints math.erf).

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> EafoJaxPrinter().doprint(sp.erf(x))
    'jax.scipy.special.erf(x)'
    """

    backend = "jax"
    _lib = "jax.numpy"
    modules = ("jax", "jax.numpy", "jax.scipy.special")
    _calls = {
        sp.erf: "jax.scipy.special.erf({})",  # SymPy prints math.erf, which fails on arrays
        sp.erfc: "jax.scipy.special.erfc({})",  # the same for math.erfc
        erfc_: "jax.scipy.special.erfc({})",
        sigmoid: "jax.nn.sigmoid({})",  # never overflows
        softplus: "jax.numpy.logaddexp(0, {})",  # never overflows
    }
    _print_erf = _print_erfc = ArrayFixes._print_call


def jax_code(expr: sp.Expr, *, stable: bool = True) -> str:
    """JAX source for ``expr`` (needs ``jax`` with ``jax.numpy``, ``jax.scipy.special``, ``math``).

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> jax_code(sp.erf(x) * sp.exp(-x**2))
    'jax.numpy.exp(-x**2)*jax.numpy.nan_to_num(jax.scipy.special.erf(x))'
    """
    return EafoJaxPrinter().doprint(prepare(expr, stable))
