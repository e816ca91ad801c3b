"""The models of :mod:`eafo_sym.experiment.models`: generated activations in MLP, ViT, timm's ViT."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from eafo_sym.cli import main  # noqa: E402
from eafo_sym.experiment import report, train  # noqa: E402
from eafo_sym.experiment.models import (  # noqa: E402
    CORE_ACTIVATIONS,
    available_activations,
    build,
    default_activations,
)


def _timm_works() -> bool:
    try:
        import timm.models.vision_transformer  # noqa: F401
    except Exception:  # ImportError, or torchvision built for another torch (RuntimeError)
        return False
    return True


def test_default_activations_cover_the_core_list_and_the_derived_ones():
    import eafo_sym.nn as generated

    acts = default_activations()
    assert acts[: len(CORE_ACTIVATIONS)] == list(CORE_ACTIVATIONS)
    assert set(acts) <= set(available_activations()) == set(generated.ACTIVATIONS)
    assert len(acts) == len(set(acts))


@pytest.mark.parametrize("model", ["mlp", "vit"])
def test_models_use_the_generated_activation_modules(model):
    import eafo_sym.nn as generated

    net = build(model, "crrelu", **train.CONFIGS["smoke"][model].size)
    acts = [m for m in net.modules() if isinstance(m, generated.ACTIVATIONS["crrelu"])]
    assert acts and all(m.epsilon.item() == pytest.approx(0.01) for m in acts)
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_timm_vit_with_a_generated_act_layer(tmp_path, capsys):
    if not _timm_works():
        # Without a working timm the model is refused up front, with the reason.
        assert main(["experiment", "--smoke", "--models", "timm_vit", "--out", str(tmp_path)]) == 2
        assert "timm_vit needs timm" in capsys.readouterr().err
        pytest.skip("timm (with a torchvision matching this torch) is not importable")
    argv = ["experiment", "--smoke", "--models", "timm_vit", "--no-progress", "--threads", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    rows = report.read_rows(tmp_path / "rows.jsonl")
    assert len(rows) == 4 and all(0 <= r["test_accuracy"] <= 1 for r in rows)
    assert all(r["act_params"]["epsilon"] for r in rows if r["activation"] == "crrelu")

