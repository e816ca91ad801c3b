"""The models of :mod:`eafo_sym.experiment.models`: generated activations in an MLP, a ViT, a
ConvNeXt and timm's ViT; activation specs for the ablations; the dynamic-module hook."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from eafo_sym.cli import main  # noqa: E402
from eafo_sym.experiment import models, report, train  # noqa: E402
from eafo_sym.experiment.models import (  # noqa: E402
    CORE_ACTIVATIONS,
    available_activations,
    build,
    default_activations,
    parse_spec,
)


def _timm_works() -> bool:
    try:
        import timm.models.vision_transformer  # noqa: F401
    except Exception:  # ImportError, or torchvision built for another torch (RuntimeError)
        return False
    return True


def test_default_activations_cover_the_paper_list_and_every_derived_one():
    import eafo_sym.nn as generated

    acts = default_activations()
    assert acts[: len(CORE_ACTIVATIONS)] == list(CORE_ACTIVATIONS)
    assert {a for a in generated.ACTIVATIONS if a.startswith("eafo_")} <= set(acts)
    assert set(acts) <= set(available_activations())
    assert len(acts) == len(set(acts))


def test_dynamic_modules_join_when_they_import_and_say_why_not_otherwise():
    table, reason = models.dynamic_activations()
    if reason is None:
        assert table and set(table) <= set(default_activations())
    else:
        assert table == {} and "eafo_sym.dynamic" in reason


@pytest.mark.parametrize("model", ["mlp", "vit", "convnext"])
@pytest.mark.parametrize("shape", [(8, 8), (40,)])
def test_models_use_the_generated_activation_modules(model, shape):
    import eafo_sym.nn as generated

    size = train.CONFIGS["smoke"]["digits" if len(shape) == 2 else "mnist1d"][model].size
    net = build(model, "crrelu", shape=shape, **size)
    acts = [m for m in net.modules() if isinstance(m, generated.ACTIVATIONS["crrelu"])]
    assert acts and all(m.epsilon.item() == pytest.approx(0.01) for m in acts)
    assert all(getattr(m, "_study_activation", False) for m in acts)
    assert net(torch.zeros(3, 1, *shape)).shape == (3, 10)


def test_convnext_has_the_depthwise_conv_and_the_activation_in_the_bottleneck():
    net = build("convnext", "gelu", shape=(40,), stem=4, dim=16, depth=2, kernel=5)
    block = net.blocks[0]
    assert block.dwconv.groups == 16 and block.dwconv.kernel_size == (5,)
    assert block.pwconv1.out_features == 4 * 16 == block.pwconv2.in_features
    assert isinstance(block.norm, torch.nn.LayerNorm)
    seen = []
    block.act.register_forward_hook(lambda m, a, out: seen.append(out.shape))
    net(torch.zeros(2, 1, 40))
    assert seen == [(2, 10, 64)]  # channels last, inside the 4x bottleneck


def test_specs_set_and_freeze_eps():
    assert parse_spec("crrelu[eps=-0.1,frozen]") == ("crrelu", {"eps": -0.1, "frozen": True})
    net = build("mlp", "crrelu[eps=-0.1,frozen]", width=8, depth=2)
    eps = [m.epsilon for m in net.modules() if hasattr(m, "epsilon")]
    assert len(eps) == 2 and all(e.item() == pytest.approx(-0.1) and not e.requires_grad
                                 for e in eps)  # fmt: skip
    for bad, message in [
        ("crrelu[eps=1e400x]", "eps must be a number"),
        ("crrelu[speed=2]", "unknown option"),
        ("gelu[eps=0.1]", "no epsilon"),
        ("crrelu[[", "not of the form"),
        ("__import__('os')", "not of the form"),
        ("swishh", "unknown activation 'swishh'"),
    ]:
        with pytest.raises(ValueError, match=message):
            models.act_layer(bad)


def test_the_fused_backend_builds_the_same_function():
    from eafo_sym import fused

    if not fused.available():
        pytest.skip(f"fused kernels unavailable: {fused.unavailable_reason()}")
    torch.manual_seed(0)
    eager = build("mlp", "crrelu", width=8, depth=1)
    torch.manual_seed(0)
    fast = build("mlp", "crrelu", width=8, depth=1, backend="fused")
    assert type(fast.net[2]) is fused.ACTIVATIONS["crrelu"]
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(fast(x), eager(x))
    with pytest.raises(ValueError, match="unknown activation backend"):
        models.act_layer("gelu", backend="cuda")


def test_timm_vit_with_a_generated_act_layer(tmp_path, capsys):
    if not _timm_works():
        # Without a working timm the model is refused up front, with the reason.
        argv = ["experiment", "--smoke", "--models", "timm_vit", "--out", str(tmp_path)]
        assert main(argv) == 2
        assert "timm_vit needs timm" in capsys.readouterr().err
        pytest.skip("timm (with a torchvision matching this torch) is not importable")
    argv = ["experiment", "--smoke", "--models", "timm_vit", "--data", "digits", "--only", "main",
            "--no-progress", "--threads", "1"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path)]) == 0
    rows = report.read_rows(tmp_path / "rows.jsonl")
    assert len(rows) == 4 and all(0 <= r["test_accuracy"] <= 1 for r in rows)
    assert all(r["act_params"]["epsilon"] for r in rows if r["activation"] == "crrelu")
