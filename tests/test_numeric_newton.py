"""The Newton-like step (``eafo_sym.numeric.newton``) against the gradient step and finite differences."""

import math

import numpy as np
import pytest
import sympy as sp

from eafo_sym import x
from eafo_sym.laws import normal
from eafo_sym.numeric.newton import compare_steps, default_basis, largest_steps, newton_step
from eafo_sym.numeric.taylor import entropy_change


@pytest.mark.parametrize(
    "base, dist, iv",
    [
        ("relu", normal(), (0, sp.oo)),
        ("elu", normal(0.5, 1.5), None),
        ("softplus", normal(-0.3, 0.8), None),
    ],
)
def test_gradient_and_hessian_against_finite_differences(base, dist, iv):
    basis = default_basis(dist, 2)
    s = newton_step(base, dist, basis, interval=iv)
    from eafo_sym.catalog import resolve
    from eafo_sym.symbolic.functional import on_interval as _on_interval

    f = _on_interval(resolve(base), dist, iv)

    def diffs(hk, e):
        up = entropy_change(f, hk, dist, e, interval=iv)
        down = entropy_change(f, hk, dist, -e, interval=iv)
        return (up - down) / (2 * e), (up + down) / e**2

    for k, hk in enumerate(basis):
        # Richardson extrapolation: the third Taylor coefficient is large for these bases.
        (d1, s1), (d2, s2) = diffs(hk, 2e-3), diffs(hk, 1e-3)
        assert (4 * d2 - d1) / 3 == pytest.approx(s.gradient[k], rel=1e-6, abs=1e-7)
        assert (4 * s2 - s1) / 3 == pytest.approx(s.hessian[k, k], rel=1e-4, abs=1e-6)
    # Off-diagonal from the mixed direction: A_01 = (A(h0+h1) - A_00 - A_11) / 2.
    (_, m1), (_, m2) = diffs(basis[0] + basis[1], 2e-3), diffs(basis[0] + basis[1], 1e-3)
    mixed = (4 * m2 - m1) / 3
    assert (mixed - s.hessian[0, 0] - s.hessian[1, 1]) / 2 == pytest.approx(
        s.hessian[0, 1], rel=1e-4, abs=1e-6
    )


def test_curvature_is_negative_definite_and_newton_ascends():
    s = newton_step("relu", normal(), interval=(0, sp.oo))
    assert np.all(np.linalg.eigvalsh(s.hessian) < 0)
    # Plain Newton goes to the maximum of the concave quadratic model: g.d > 0.
    assert float(s.gradient @ s.plain_newton) > 0 > float(s.gradient @ s.newton)


def test_compare_steps_signs_and_second_order_prediction():
    rows = compare_steps("relu", normal(), radii=[0.01, 0.05], interval=(0, sp.oo))
    for r in rows:
        assert r["gradient"] < 0 and r["newton"] < 0 and r["plain_newton"] > 0
        # Along -M^{-1} g the quadratic term is negative too: actual < first order.
        assert r["newton"] < r["newton_first_order"]
    # Steepest in L2(p) by construction: the gradient wins at equal L2(p) length, small radius.
    assert rows[0]["gradient"] < rows[0]["newton"]


def test_largest_steps_newton_goes_further():
    r = largest_steps("softplus", normal(), fraction=0.5)
    assert r["newton"]["eta_max"] > r["gradient"]["eta_max"]
    assert r["newton"]["change"] < r["gradient"]["change"] < 0


def test_single_direction_reproduces_crrelu_coefficients():
    """On ReLU's branch along x exp(-x^2/2): g = sqrt(2)/8 and A = 2 c_2 = -sqrt(3)/9 (core Taylor)."""
    from eafo_sym.numeric.taylor import entropy_taylor

    h = x * sp.exp(-(x**2) / 2)
    c1, c2 = entropy_taylor(x, h, normal(), 2, interval=(0, sp.oo))
    s = newton_step(x, normal(), [h], interval=(0, sp.oo))
    assert s.gradient[0] == pytest.approx(float(c1), rel=1e-10)
    assert s.hessian[0, 0] == pytest.approx(float(2 * c2), rel=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        newton_step("gelu", normal())
    with pytest.raises(ValueError, match="at least one"):
        newton_step(x, normal(), [])
    with pytest.raises(ValueError, match="linearly dependent"):
        newton_step(x, normal(), [x * sp.exp(-(x**2)), 2 * x * sp.exp(-(x**2))])
    with pytest.raises(ValueError, match="radii"):
        compare_steps(x, normal(), radii=[-1])
    with pytest.raises(ValueError, match="fraction"):
        largest_steps(x, normal(), fraction=1.5)
    with pytest.raises(ValueError, match="positive int"):
        default_basis(normal(), 0)
    assert math.isfinite(newton_step(x, normal(), [sp.tanh(x)]).gradient[0])
