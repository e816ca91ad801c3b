"""The measured-law step: corrections estimated from samples converge to the closed forms."""

import numpy as np
import pytest

from eafo_sym.laws import laplace, logistic, normal
from eafo_sym.numeric.measured import (
    closed_form_correction,
    derivative_bandwidth,
    describe,
    measured_correction,
)

GRID = np.linspace(-3, 3, 41)


def _errors(law, method, sizes, seed=0, **kw):
    """(max error, max band half-width, coverage) of the measured ReLU correction per size."""
    ref = closed_form_correction("relu", law, GRID)
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        m = measured_correction(law.scipy.rvs(size=n, random_state=rng), "relu", grid=GRID,
                                method=method, seed=seed, **kw)
        out.append((np.max(np.abs(m.value - ref)), np.max(m.half_width), m.covers(ref).mean()))
    return out


def test_closed_form_is_minus_the_density_derivative_for_relu():
    """Independent of the derivation: -p'(x) = x phi(x) for the standard normal."""
    phi = np.exp(-GRID**2 / 2) / np.sqrt(2 * np.pi)
    assert np.allclose(closed_form_correction("relu", None, GRID), GRID * phi, atol=1e-14)
    # Laplace(0, 1): -p'(x) = exp(-x)/2 on x > 0, the branch the derivation continues.
    pos = GRID[GRID > 0]
    assert np.allclose(closed_form_correction("relu", laplace(), pos), np.exp(-pos) / 2)


def test_mixture_converges_within_its_bootstrap_band():
    errs = _errors(normal(), "mixture", [500, 5000, 50000], bootstrap=40)
    assert errs[0][0] > errs[1][0] > errs[2][0]
    for err, half, cover in errs:
        assert err <= 2 * half  # the sup error is of the band's size
        assert cover >= 0.8


def test_kde_converges_and_its_band_shrinks():
    errs = _errors(logistic(), "kde", [1000, 10000, 100000], bootstrap=60)
    assert errs[0][0] > errs[1][0] > errs[2][0]
    assert errs[0][1] > errs[1][1] > errs[2][1]
    # The percentile band holds the estimator's variance, not its smoothing bias.
    assert all(cover >= 0.5 for *_, cover in errs)


def test_mixture_sees_a_laplace_law_is_not_normal():
    """The measured correction under Laplace input differs from the Gaussian closed form."""
    rng = np.random.default_rng(3)
    a = rng.laplace(scale=1 / np.sqrt(2), size=20000)  # variance 1, as the standard normal
    m = measured_correction(a, "relu", grid=GRID, method="kde", bootstrap=40)
    gauss = closed_form_correction("relu", None, GRID)
    assert m.covers(gauss).mean() < 0.5


def test_other_bases_use_their_branch_derivative():
    """ELU: -(p/f')' on x < 0 is (x + 1) p(x) exp(-x) (alpha = 1), checked against a KDE."""
    rng = np.random.default_rng(1)
    grid = np.linspace(-2.05, 1.95, 21)  # off the kink at 0, where the correction jumps
    m = measured_correction(rng.standard_normal(40000), "elu", grid=grid, bootstrap=40)
    phi = np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi)
    exact = np.where(grid < 0, (grid + 1) * phi * np.exp(-grid), grid * phi)
    assert np.allclose(closed_form_correction("elu", None, grid), exact, atol=1e-12)
    assert m.covers(exact).mean() >= 0.6
    assert np.max(np.abs(m.value - exact)) < 0.1


def test_derivative_bandwidth_is_the_normal_reference_rule():
    a = np.random.default_rng(0).normal(scale=2.0, size=50000)
    assert derivative_bandwidth(a) == pytest.approx(2.0 * (4 / (5 * 50000)) ** (1 / 7), rel=0.02)


def test_describe_matches_scipy_moments_on_a_skewed_law():
    from scipy import stats

    a = np.random.default_rng(2).exponential(size=20000) - 1.0
    d = describe(a)
    assert d["skewness"] == pytest.approx(2.0, rel=0.1)
    assert d["excess_kurtosis"] == pytest.approx(6.0, rel=0.25)
    assert d["below_zero"] == pytest.approx(1 - np.exp(-1), abs=0.01)
    assert d["std"] == pytest.approx(np.std(a, ddof=1))
    assert d["anderson_p"] <= 0.01
    assert d["anderson"] > stats.anderson(np.random.default_rng(2).standard_normal(5000),
                                          "norm", method="interpolate").statistic


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"samples": [1.0, 2.0]}, ValueError, "at least 10"),
        ({"samples": [1.0] * 20}, ValueError, "all values are equal"),
        ({"samples": [np.nan] * 20}, ValueError, "nan or inf"),
        ({"samples": "abc"}, TypeError, "array of real numbers"),
        ({"method": "histogram"}, ValueError, "method must be one of kde, mixture"),
        ({"level": 1.5}, ValueError, "level must be in"),
        ({"bootstrap": -1}, ValueError, "bootstrap must be"),
        ({"grid": [1.0, 0.0]}, ValueError, "strictly increasing"),
        ({"bandwidth": 0.0}, ValueError, "bandwidth must be"),
        ({"method": "mixture", "components": 0}, ValueError, "components must be"),
    ],
)
def test_bad_input_is_refused_by_name(kwargs, error, match):
    args = {"samples": np.random.default_rng(0).standard_normal(100), **kwargs}
    with pytest.raises(error, match=match):
        measured_correction(args.pop("samples"), "relu", bootstrap=args.pop("bootstrap", 0),
                            **args)


def test_mixture_without_scikit_learn_says_how_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r"eafo-sym\[experiment\]"):
        measured_correction(np.random.default_rng(0).standard_normal(100), method="mixture",
                            components=1, bootstrap=0)
