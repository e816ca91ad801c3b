"""Observation hooks: per-layer pre-activation statistics, outputs unchanged."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eafo_sym.nn import CRReLU  # noqa: E402
from eafo_sym.observe import is_activation, observe  # noqa: E402


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(5, 16), CRReLU(), torch.nn.Linear(16, 16), torch.nn.GELU(),
        torch.nn.Linear(16, 1),
    )


def test_records_every_activation_and_leaves_outputs_unchanged():
    model = _model()
    x = torch.randn(256, 5)
    expected = model(x)
    with observe(model) as seen:
        out = model(x)
        model(x)
    assert torch.equal(out, expected)
    assert list(seen) == ["1", "3"]
    assert [r.kind for r in seen.values()] == ["CRReLU", "GELU"]
    assert len(seen["1"].batches) == 2
    pre = model[0](x).detach().double().numpy().ravel()
    stats = seen["1"].last()
    assert stats["mean"] == pytest.approx(pre.mean())
    assert stats["std"] == pytest.approx(pre.std(ddof=1))
    assert stats["below_zero"] == pytest.approx(np.mean(pre < 0))
    assert {"skewness", "excess_kurtosis", "anderson", "anderson_p"} <= set(stats)
    # The hooks are gone afterwards.
    assert not model[1]._forward_pre_hooks
    assert [row["layer"] for row in seen.table()] == ["1", "3"]


def test_samples_are_bounded_and_drawn_from_the_inputs():
    model = _model()
    with observe(model, samples=1000, per_batch=300) as seen:
        for _ in range(5):
            model(torch.randn(64, 5))
    kept = seen["1"].samples()
    assert kept.shape == (1000,)
    assert len(seen["1"].batches) == 5


def test_only_and_bad_arguments():
    model = _model()
    with observe(model, only=lambda m: isinstance(m, torch.nn.GELU)) as seen:
        model(torch.randn(8, 5))
    assert list(seen) == ["3"]
    for bad, error, match in [
        ("model", TypeError, "torch.nn.Module"),
        (model, ValueError, "samples must be a positive int"),
        (torch.nn.Linear(2, 2), ValueError, "no activation layer"),
    ]:
        kwargs = {"samples": 0} if bad is model else {}
        with pytest.raises(error, match=match), observe(bad, **kwargs):
            pass


def test_is_activation():
    assert is_activation(torch.nn.ReLU()) and is_activation(CRReLU())
    assert not is_activation(torch.nn.MultiheadAttention(4, 2))
    assert not is_activation(torch.nn.Sequential())
