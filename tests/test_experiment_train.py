"""One training run, :mod:`eafo_sym.experiment.train`: deterministic given its seed, with layer
measurements and an exact count of what autograd saves."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from eafo_sym.experiment import data, models, train  # noqa: E402

_TIMING = ("seconds", "cpu_seconds", "epoch_seconds", "peak_rss_mib", "peak_rss_growth_mib")


def test_training_is_deterministic_given_the_seed():
    digits = data.load("digits")
    cfg = train.CONFIGS["smoke"]["digits"]["mlp"]
    a, b = (train.train_one(digits, "mlp", "crrelu", 3, cfg, measure=False) for _ in range(2))
    c = train.train_one(digits, "mlp", "crrelu", 4, cfg, measure=False)
    for r in (a, b, c):
        for k in _TIMING:
            r.pop(k)
    assert a == b
    assert a["final_loss"] != c["final_loss"]


def test_a_frozen_eps_stays_put_and_a_learned_one_moves():
    digits = data.load("digits")
    cfg = train.CONFIGS["smoke"]["digits"]["mlp"]
    frozen = train.train_one(digits, "mlp", "crrelu[frozen]", 0, cfg, measure=False)
    learned = train.train_one(digits, "mlp", "crrelu", 0, cfg, measure=False)
    assert frozen["act_params"]["epsilon"] == [0.01]
    assert learned["act_params"]["epsilon"][0] != 0.01


def test_measurements_cover_every_activation_layer():
    digits = data.load("digits")
    cfg = train.CONFIGS["smoke"]["digits"]["vit"]
    row = train.train_one(digits, "vit", "relu", 0, cfg)
    layers = row["layers"]
    assert [lay["layer"] for lay in layers] == ["blocks.0.mlp.1"]
    for lay in layers:
        assert math.isfinite(lay["entropy"]) and 0 <= lay["frac_below_zero"] <= 1
        assert 0 <= lay["ks_distance"] <= 1 and lay["abs_skew"] >= 0
    assert row["observe_hook"]["available"] in (True, False)
    if not row["observe_hook"]["available"]:
        assert "eafo_sym.observe" in row["observe_hook"]["reason"]


def test_normality_of_normal_and_of_skewed_inputs():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 8, generator=g, dtype=torch.float64).numpy()
    near = train._normality(z)
    assert near["ks_distance"] < 0.03 and near["abs_skew"] < 0.15
    far = train._normality(z**2)  # chi-squared(1): skewness sqrt(8), excess kurtosis 12
    assert far["ks_distance"] > 0.15 and far["abs_skew"] > 2 and far["excess_kurtosis"] > 6


def test_saved_tensor_count_is_exact():
    # The generated ReLU saves its input, and nothing else, for the backward.
    x = torch.randn(64, 100, requires_grad=True)
    relu = torch.nn.Sequential(models.act_layer("relu")())
    assert train.saved_tensor_mib(relu, x) == pytest.approx(x.nbytes / 2**20)
    two = torch.nn.Sequential(models.act_layer("relu")(), models.act_layer("gelu")())
    assert train.saved_tensor_mib(two, x) == pytest.approx(2 * x.nbytes / 2**20)
