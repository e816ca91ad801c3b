"""Scale-invariant entropy criteria, the ranking (``eafo_sym.numeric.ranking``) and ``eafo-sym rank``."""

import math

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from eafo_sym import catalog as activations
from eafo_sym import x
from eafo_sym.cli import main
from eafo_sym.laws import laplace, logistic, normal, student_t
from eafo_sym.numeric.entropy import output_entropy
from eafo_sym.numeric.ranking import (
    format_table,
    negentropy,
    output_moments,
    rank_activations,
    standardized_entropy,
)

HALF_LOG_2PIE = 0.5 * math.log(2 * math.pi * math.e)


@pytest.mark.parametrize("name, a", [("tanh", 0.1), ("gelu", 3.0), ("softplus", 0.1)])
def test_standardized_entropy_is_scale_invariant(name, a):
    f = activations.resolve(name)
    raw = output_entropy(f, normal())
    scaled = output_entropy(sp.nsimplify(a) * f, normal())
    assert scaled - raw == pytest.approx(math.log(a), abs=1e-8)  # the reviewers' point
    assert standardized_entropy(sp.nsimplify(a) * f, normal()) == pytest.approx(
        standardized_entropy(f, normal()), abs=1e-8
    )


def test_negentropy_identity_and_sign():
    for name in ["tanh", "sigmoid", "elu"]:
        j = negentropy(name, normal())
        assert j >= 0
        assert j == pytest.approx(HALF_LOG_2PIE - standardized_entropy(name, normal()), abs=1e-12)
    # A linear map of a Gaussian is Gaussian: zero negentropy.
    assert negentropy(2 * x + 1, normal(1, 3)) == pytest.approx(0.0, abs=1e-9)
    # Identity on a Laplace input: J = 1/2 log(2 pi e * 2 b^2) - (1 + log 2b), scipy for h.
    b = 1.5
    ref = (
        0.5 * math.log(2 * math.pi * math.e * stats.laplace(scale=b).var())
        - stats.laplace(scale=b).entropy()
    )
    assert negentropy(x, laplace(0, b)) == pytest.approx(float(ref), abs=1e-9)


@pytest.mark.parametrize("dist", [normal(0.3, 2), logistic(0, 1), student_t(5)])
def test_moments_against_monte_carlo(dist):
    m, v = output_moments("elu", dist)
    rng = np.random.default_rng(11)
    xs = dist.scipy.rvs(size=400000, random_state=rng)
    ys = np.where(xs > 0, xs, np.expm1(xs))
    se_m = ys.std() / math.sqrt(ys.size)
    assert abs(m - ys.mean()) < 5 * se_m
    se_v = np.sqrt(np.mean((ys - ys.mean()) ** 4) - ys.var() ** 2) / math.sqrt(ys.size)
    assert abs(v - ys.var()) < 5 * se_v


def test_relu_moments_closed_form():
    m, v = output_moments("relu", normal())
    assert m == pytest.approx(1 / math.sqrt(2 * math.pi), abs=1e-11)
    assert v == pytest.approx(0.5 - 1 / (2 * math.pi), abs=1e-11)


def test_heavy_tail_infinite_variance_is_nan_and_last():
    rows = rank_activations(["relu", "tanh"], student_t(2), criterion="standardized")
    assert [r["name"] for r in rows] == ["tanh", "relu"]
    assert math.isnan(rows[1]["value"]) and math.isinf(rows[1]["std"])


def test_ranking_rules():
    rows = rank_activations(["tanh", "relu", "sigmoid", "gelu"], criterion="standardized")
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["name"] == "relu" and rows[0]["value"] == -math.inf
    assert rows[0]["dimension"] == pytest.approx(0.5)
    vals = [r["value"] for r in rows[1:]]
    assert vals == sorted(vals)
    neg = rank_activations(["tanh", "relu", "sigmoid", "gelu"], criterion="negentropy")
    assert [r["name"] for r in neg] == [r["name"] for r in rows]  # same order, derived identity
    raw = rank_activations(["tanh", "sigmoid"], criterion="entropy")
    # sigmoid is squashed into (0, 1): best by raw entropy, worst once standardised.
    assert [r["name"] for r in raw] == ["sigmoid", "tanh"]
    assert [r["name"] for r in rows[1:] if r["name"] in ("tanh", "sigmoid")] == ["tanh", "sigmoid"]


def test_ranking_is_invariant_to_input_scale_under_standardized():
    a = rank_activations(["relu", "leaky_relu", "sigmoid"], normal(0, 1))
    b = rank_activations([x, sp.Abs(x), x**3 + x], {"n": normal(0, 1)})
    assert [r["rank"] for r in a] == [1, 2, 3]
    assert {r["name"] for r in b} == {"x", "Abs(x)", "x**3 + x"}


def test_ranking_bad_input():
    with pytest.raises(ValueError, match="criterion"):
        rank_activations(["relu"], criterion="bayes")
    with pytest.raises(TypeError, match="dists"):
        rank_activations(["relu"], dists={"n": 3})
    with pytest.raises(ValueError, match="unknown activation"):
        rank_activations(["swishh"])


def test_format_table_has_a_row_per_activation():
    text = format_table(rank_activations(["relu", "tanh"]))
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].split()[2] == "relu" and "-inf" in lines[1]


def test_cli_rank(capsys):
    assert (
        main(
            [
                "rank",
                "--dist",
                "laplace",
                "--criterion",
                "negentropy",
                "--activation",
                "relu",
                "tanh",
                "x**3 + x",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "laplace" in out and "x**3 + x" in out and "mixed-measure" in out


def test_cli_rank_errors(capsys):
    assert main(["rank", "--activation", "nosuch"]) == 2
    assert "unknown activation" in capsys.readouterr().err
    assert main(["rank", "--digits", "99"]) == 2
    with pytest.raises(SystemExit):
        main(["rank", "--criterion", "bayes"])
