"""The NumPy/SciPy printer (``eafo_sym.codegen.printers.numpy``): fixes and stable forms, pinned."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from eafo_sym import x
from eafo_sym.codegen import numpy_code

a = sp.Symbol("alpha", real=True)


def _np_eval(expr, xs, **params):
    import scipy.special

    scope = {"numpy": np, "scipy": scipy, "math": math, "x": np.asarray(xs, dtype=float)}
    scope.update(params)
    with np.errstate(all="ignore"):
        return eval(numpy_code(expr), scope)



def test_piecewise_without_true_branch_defaults_to_nan():
    out = _np_eval(sp.Piecewise((x, x > 0)), [1.0, -1.0])
    assert out[0] == 1.0 and math.isnan(out[1])


def test_guarded_product_at_overflow_is_zero_not_nan():
    e = (1 - x**2) * sp.exp(-(x**2) / 2)
    out = _np_eval(e, [1e200, -1e200, float("inf"), float("nan"), 1.0]).tolist()
    assert out[:3] == [0.0, 0.0, 0.0] and math.isnan(out[3])


def test_softplus_does_not_overflow():
    xs = [-1000.0, 1000.0, float("inf"), -float("inf")]
    assert _np_eval(sp.log(1 + sp.exp(x)), xs).tolist() == [0.0, 1000.0, float("inf"), 0.0]


def test_numpy_code_fixes():
    assert numpy_code(sp.Max(0, x, a)) == "numpy.maximum(numpy.maximum(0, alpha), x)"
    assert numpy_code(sp.erf(x), stable=False) == "scipy.special.erf(x)"
    assert numpy_code(sp.Heaviside(x, 0)) == "numpy.heaviside(x, 0.0)"
    assert numpy_code(sp.sqrt(2) * x) == "1.4142135623730951*x"
    out = _np_eval(sp.Max(0, x, a) + sp.Heaviside(x), [-1.0, 0.0, 2.0], alpha=-0.5)
    assert out.tolist() == [0.0, 0.5, 3.0]


def test_scipy_knows_bessel():
    assert numpy_code(sp.besselj(0, x)) == "scipy.special.jv(0, x)"

