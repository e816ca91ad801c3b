"""The JAX printer (``eafo_sym.codegen.printers.jax``): printed strings, and the code run by JAX."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from eafo_sym import eps, x
from eafo_sym.codegen import jax_code, to_numpy


def test_jax_code_strings():
    assert jax_code(sp.erf(x), stable=False) == "jax.scipy.special.erf(x)"
    assert jax_code(sp.Max(0, x)) == "jax.numpy.maximum(0, x)"
    assert jax_code(sp.Piecewise((x, x > 0))) == (
        "jax.numpy.where(jax.numpy.greater(x, 0), x, math.nan)"
    )
    assert jax_code(sp.log(1 + sp.exp(x))) == "jax.numpy.logaddexp(0, x)"


def test_jax_code_runs():
    pytest.importorskip("jax")
    import jax
    import jax.scipy.special  # noqa: F401 - the printed code uses it

    e = sp.Max(0, x) + eps * x * sp.exp(-(x**2) / 2) + sp.erf(x) + sp.Piecewise((x, x > 5))
    xs = np.array([-1.0, 0.5, 6.0])
    got = eval(jax_code(e), {"jax": jax, "math": math, "x": jax.numpy.asarray(xs), "epsilon": 0.01})
    ref = to_numpy(e, {eps: 0.01})(xs)
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-6)

