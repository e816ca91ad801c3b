"""Tests of ``eafo-sym experiment`` and its helpers (issue 6): smoke run, statistics, bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats")
torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from eafo_sym.cli import main  # noqa: E402
from eafo_sym.experiment import data, report, stats, train  # noqa: E402
from eafo_sym.experiment.models import (  # noqa: E402
    CORE_ACTIVATIONS,
    available_activations,
    build,
    default_activations,
)

ROW_KEYS = {
    "activation": str,
    "model": str,
    "seed": int,
    "test_accuracy": float,
    "val_accuracy": float,
    "final_loss": float,
    "epochs": int,
    "seconds": float,
    "threads": int,
    "torch_version": str,
}


def _timm_works() -> bool:
    try:
        import timm.models.vision_transformer  # noqa: F401
    except Exception:  # ImportError, or torchvision built for another torch (RuntimeError)
        return False
    return True


# --- the smoke run through the CLI -------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    # One thread: torch may already be loaded (with busy-waiting OpenMP) by other tests, and
    # two spinning threads on a shared CI machine can make even this tiny run crawl.
    argv = ["experiment", "--smoke", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv) == 0
    return out


def test_smoke_writes_valid_rows(smoke_out):
    rows = [json.loads(line) for line in (smoke_out / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 2  # models mlp, vit x activations crrelu, gelu x seeds 0, 1
    assert {(r["model"], r["activation"], r["seed"]) for r in rows} == {
        (m, a, s) for m in ("mlp", "vit") for a in ("crrelu", "gelu") for s in (0, 1)
    }
    for r in rows:
        for key, typ in ROW_KEYS.items():
            assert isinstance(r[key], typ), (key, r[key])
        assert 0.0 <= r["test_accuracy"] <= 1.0 and 0.0 <= r["val_accuracy"] <= 1.0
        assert math.isfinite(r["final_loss"]) and r["final_loss"] > 0
        assert r["threads"] == 1 and r["device"] == "cpu" and r["profile"] == "smoke"
    # CRReLU's learnable epsilon is reported per layer and has moved from 0.01.
    eps = [v for r in rows if r["activation"] == "crrelu" for v in r["act_params"]["epsilon"]]
    assert eps and all(math.isfinite(v) for v in eps)
    assert report.read_rows(smoke_out / "rows.jsonl") == rows


def test_smoke_writes_split_summary_plot_meta(smoke_out):
    split = json.loads((smoke_out / "split.json").read_text())
    parts = [set(split[k]) for k in ("train", "val", "test")]
    assert sum(map(len, parts)) == 1797 and set.union(*parts) == set(range(1797))
    assert (smoke_out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (smoke_out / "summary.md").read_text()
    assert "| mlp | crrelu | 2 |" in summary and "Paired differences against gelu" in summary
    meta = json.loads((smoke_out / "meta.json").read_text())
    assert meta["profile"] == "smoke" and meta["seeds"] == 2
    assert meta["command"].startswith("eafo-sym experiment --models mlp,vit")


def test_report_only_rewrites_summary_without_training(smoke_out, tmp_path, capsys):
    (smoke_out / "summary.md").unlink()
    assert main(["experiment", "--report-only", "--out", str(smoke_out)]) == 0
    assert "| vit | gelu | 2 |" in (smoke_out / "summary.md").read_text()
    capsys.readouterr()
    assert main(["experiment", "--report-only", "--out", str(tmp_path)]) == 2  # no rows.jsonl
    assert "rows.jsonl" in capsys.readouterr().err


def test_training_is_deterministic_given_the_seed():
    digits = data.load()
    cfg = train.CONFIGS["smoke"]["mlp"]
    a, b = (train.train_one(digits, "mlp", "crrelu", 3, cfg) for _ in range(2))
    c = train.train_one(digits, "mlp", "crrelu", 4, cfg)
    for r in (a, b, c):
        r.pop("seconds"), r.pop("cpu_seconds")
    assert a == b
    assert a["final_loss"] != c["final_loss"]


# --- data, models ------------------------------------------------------------------------------


def test_split_is_fixed_stratified_and_disjoint():
    digits = data.load()
    again = data.load()
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(digits.splits[k], again.splits[k])
    assert [len(digits.splits[k]) for k in ("train", "val", "test")] == [1077, 360, 360]
    counts = np.bincount(digits.y[digits.splits["test"]], minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~10% of 360 per class
    xtr, _ = digits.part("train")
    assert xtr.shape[1:] == (1, 8, 8) and xtr.dtype == np.float32
    assert abs(float(xtr.mean())) < 1e-5 and abs(float(xtr.std()) - 1) < 1e-4
    with pytest.raises(ValueError, match="split fractions"):
        data.split_indices(digits.y, val=0.6, test=0.5)


def test_default_activations_cover_the_issue_and_the_derived_ones():
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


# --- statistics against hand-checkable numbers and scipy directly ----------------------------


def test_mean_std_by_hand():
    s = stats.mean_std([0.9, 0.92, 0.94])
    assert s.mean == pytest.approx(0.92) and s.std == pytest.approx(0.02) and s.n == 3
    assert math.isnan(stats.mean_std([0.5]).std)
    with pytest.raises(ValueError):
        stats.mean_std([])


def test_paired_ci_by_hand():
    # Differences 1, 2, 3: mean 2, sd 1. Student's t with 2 dof has the closed-form cdf
    # F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so its 0.975 quantile solves t / sqrt(2 + t^2) = 0.95.
    q = 0.95
    t975 = q * math.sqrt(2 / (1 - q * q))
    assert t975 == pytest.approx(4.3027, abs=1e-4)  # the printed table value
    p = stats.paired_ci([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    half = t975 / math.sqrt(3)
    assert p.diffs == (1.0, 2.0, 3.0) and p.mean == 2.0 and p.std == 1.0
    assert p.low == pytest.approx(2 - half, abs=1e-12)
    assert p.high == pytest.approx(2 + half, abs=1e-12)
    # t = 2 / (1 / sqrt 3) = 2 sqrt 3 with 2 dof; the t(2) cdf has the closed form
    # F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so the two-sided p is 2 (1 - F(t)).
    t = 2 * math.sqrt(3)
    assert p.p_value == pytest.approx(2 * (1 - (0.5 + t / (2 * math.sqrt(2 + t * t)))))


def test_paired_ci_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.02, 7), rng.normal(0.89, 0.02, 7)
    p = stats.paired_ci(a, b, confidence=0.9)
    ref = scipy_stats.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert (p.low, p.high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert p.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_paired_ci_edge_cases():
    same = stats.paired_ci([0.9, 0.9], [0.9, 0.9])
    assert same.mean == 0 and same.low == 0 and same.high == 0 and math.isnan(same.p_value)
    with pytest.raises(ValueError, match="at least 2"):
        stats.paired_ci([1.0], [0.0])
    with pytest.raises(ValueError, match="equal length"):
        stats.paired_ci([1.0, 2.0], [0.0])


def test_paired_vs_matches_seeds_by_value():
    rows = [
        {"model": "vit", "activation": "gelu", "seed": s, "test_accuracy": v}
        for s, v in [(0, 0.90), (1, 0.91), (2, 0.92), (3, 0.5)]
    ] + [
        {"model": "vit", "activation": "crrelu", "seed": s, "test_accuracy": v}
        for s, v in [(2, 0.95), (0, 0.91), (1, 0.93)]  # seed 3 missing, order shuffled
    ]
    p = stats.paired_vs(rows)[("vit", "crrelu")]
    assert p.diffs == pytest.approx((0.01, 0.02, 0.03))
    assert ("vit", "gelu") not in stats.paired_vs(rows)
    with pytest.raises(ValueError, match="duplicate"):
        stats.summarize(rows + rows[:1])


def test_read_rows_rejects_bad_json(tmp_path):
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"a": 1}\n\nnot json\n')
    with pytest.raises(ValueError, match="rows.jsonl:3"):
        report.read_rows(bad)


# --- bad input: one stderr line, exit code 2 ---------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--activations", "crrelu,swishh"], "unknown activation 'swishh'"),
        (["--seeds", "0"], "--seeds must be positive"),
        (["--seeds", "-3"], "--seeds must be positive"),
        (["--models", "resnet"], "unknown model 'resnet'"),
        (["--epochs", "0"], "--epochs must be positive"),
        (["--threads", "0"], "--threads must be positive"),
        (["--activations", "crrelu,relu"], "--baseline 'gelu' is not among the activations"),
    ],
)
def test_bad_input_exits_2(argv, message, tmp_path, capsys):
    assert main(["experiment", "--smoke", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "rows.jsonl").exists()


def test_cuda_without_gpu_exits_2(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["experiment", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_bad_list_syntax_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "--activations", ","])
    assert exc.value.code == 2


# --- timm (optional) ---------------------------------------------------------------------------


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


# --- import hygiene ----------------------------------------------------------------------------


def test_command_module_does_not_import_torch():
    code = (
        "import sys, eafo_sym, eafo_sym.experiment, eafo_sym.commands.experiment, "
        "eafo_sym.experiment.stats, eafo_sym.experiment.report; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
