"""Taylor coefficients of the entropy (``eafo_sym.entropy_taylor``) against finite differences."""


import pytest
import sympy as sp

from eafo_sym import (
    entropy_change,
    entropy_taylor,
    second_variation,
    x,
)
from eafo_sym.laws import logistic, normal


# --- Taylor -----------------------------------------------------------------
@pytest.mark.parametrize(
    "f, h, dist, interval, exact",
    [
        (x, x * sp.exp(-(x**2) / 2), normal(), (0, sp.oo), True),
        (x, x * sp.exp(-(x**2) / 8), normal(0, 2), (0, sp.oo), True),
        (2 * x + x**3 / 3, sp.sin(x), normal(0.3, 1.5), None, False),
        (sp.exp(x), sp.exp(-(x**2)), logistic(0.5, 1), None, False),
    ],
    ids=["crrelu-branch", "crrelu-branch-sigma2", "cubic-sin", "exp-logistic"],
)
def test_taylor_coefficients_match_finite_differences(f, h, dist, interval, exact):
    c = [float(v) for v in entropy_taylor(f, h, dist, 3, interval=interval, exact=exact)]
    d = 1e-3
    H = {k: entropy_change(f, h, dist, k * d, interval=interval) for k in (-2, -1, 1, 2)}
    c1 = (8 * (H[1] - H[-1]) - (H[2] - H[-2])) / (12 * d)
    c2 = (16 * (H[1] + H[-1]) - (H[2] + H[-2])) / (24 * d**2)  # H(0) = 0
    c3 = ((H[2] - H[-2]) - 2 * (H[1] - H[-1])) / (12 * d**3)
    assert c1 == pytest.approx(c[0], rel=1e-7, abs=1e-10)
    assert c2 == pytest.approx(c[1], rel=1e-4, abs=1e-7)
    assert c3 == pytest.approx(c[2], rel=1e-2, abs=1e-4)
    assert c[1] <= 0  # the second variation is never positive


def test_taylor_series_sums_to_entropy_change():
    f, h, iv = x, x * sp.exp(-(x**2) / 2), (0, sp.oo)
    c = [float(v) for v in entropy_taylor(f, h, normal(), 6, interval=iv)]
    for e in (0.05, -0.1):
        series = sum(ck * e ** (k + 1) for k, ck in enumerate(c))
        assert series == pytest.approx(entropy_change(f, h, normal(), e, interval=iv), abs=2e-8)


def test_second_variation_closed_form_and_errors():
    assert second_variation(x, x, normal()) == -1
    with pytest.raises(ValueError, match="order must be >= 1"):
        entropy_taylor(x, x, normal(), 0)
    with pytest.raises(TypeError, match="order must be an int"):
        entropy_taylor(x, x, normal(), 2.0)
    with pytest.raises(ValueError, match="constant on"):
        entropy_taylor("relu", x, normal(), 1)


def test_non_injective_base_is_refused_not_expanded_wrongly():
    """|x| + eta x: the branches mix, so the entropy's c_2 is positive; the x-space series says -1/2.

    The true entropy is computed here from the output density q(y) = phi(y/(1+eta))/(1+eta)
    + phi(y/(1-eta))/(1-eta) on y > 0 (two preimages), by SciPy.
    """
    import math

    from scipy import integrate, stats

    def true_entropy(eta):
        def q(v):
            return stats.norm.pdf(v / (1 + eta)) / (1 + eta) + stats.norm.pdf(v / (1 - eta)) / (1 - eta)

        return integrate.quad(lambda v: -q(v) * math.log(q(v)) if q(v) > 0 else 0.0, 0, 40, limit=200,
                              epsabs=1e-14, epsrel=1e-13)[0]

    e = 0.01
    c2_true = (true_entropy(e) + true_entropy(-e) - 2 * true_entropy(0.0)) / (2 * e**2)
    series_c2 = -0.5  # -1/2 E[(h'/f')^2] with h' = 1, |f'| = 1: what the x-space series would say
    assert c2_true > 0.4 and series_c2 < 0
    with pytest.raises(ValueError, match="injective.*share the outputs"):
        entropy_taylor(sp.Abs(x), x, normal(), 2)
    with pytest.raises(ValueError, match="injective.*changes sign"):
        entropy_taylor(x**2, x, normal(), 1)
    with pytest.raises(ValueError, match="injective"):
        entropy_change("gelu", x, normal(), 0.01)
    # One branch is fine: |x| on (0, oo) is x there.
    assert entropy_taylor(sp.Abs(x), x, normal(), 1, interval=(0, sp.oo)) == [sp.Rational(1, 2)]
