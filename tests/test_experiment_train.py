"""One training run, :mod:`eafo_sym.experiment.train`: deterministic given its seed."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from eafo_sym.experiment import data, train  # noqa: E402


def test_training_is_deterministic_given_the_seed():
    digits = data.load()
    cfg = train.CONFIGS["smoke"]["mlp"]
    a, b = (train.train_one(digits, "mlp", "crrelu", 3, cfg) for _ in range(2))
    c = train.train_one(digits, "mlp", "crrelu", 4, cfg)
    for r in (a, b, c):
        r.pop("seconds"), r.pop("cpu_seconds")
    assert a == b
    assert a["final_loss"] != c["final_loss"]

