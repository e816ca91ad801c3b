"""The run loop, :mod:`eafo_sym.experiment.run`, through ``eafo-sym experiment``: a smoke run,
its files, the report-only path, and one stderr line + exit code 2 for bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from eafo_sym.cli import main  # noqa: E402
from eafo_sym.experiment import report, run  # noqa: E402
from eafo_sym.experiment.models import default_activations  # noqa: E402

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


# --- the plan: defaults, and the results of an earlier run ------------------------------------


def test_plan_fills_in_the_profile_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # where results/digits is committed
    smoke = run.plan(smoke=True, out=str(tmp_path))
    assert (smoke.models, smoke.activations, smoke.seeds) == (("mlp", "vit"), ("crrelu", "gelu"), 2)
    assert smoke.profile == "smoke" and smoke.folder == tmp_path and len(smoke.cells) == 8
    with pytest.raises(ValueError, match="results/digits already holds"):
        run.plan()  # the committed results are never overwritten without force
    full = run.plan(force=True)
    assert full.activations == tuple(default_activations()) and full.seeds == 5
    assert full.folder.as_posix() == "results/digits" and full.profile == "cpu"
    assert full.command_line().startswith("eafo-sym experiment --models mlp,vit --activations crrelu,")
    assert "--out" not in full.command_line() and smoke.command_line().endswith(f"--smoke --out {tmp_path}")


def test_earlier_results_need_force(tmp_path, capsys):
    (tmp_path / "rows.jsonl").write_text('{"kept": true}\n')
    assert main(["experiment", "--smoke", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already holds the results of a run" in err and "--force" in err and err.count("\n") == 1
    assert (tmp_path / "rows.jsonl").read_text() == '{"kept": true}\n'
    assert run.plan(smoke=True, out=str(tmp_path), force=True).folder == tmp_path


def test_report_only_needs_rows(tmp_path):
    (tmp_path / "rows.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="holds no rows"):
        run.rewrite_report(tmp_path)


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



# --- import hygiene ----------------------------------------------------------------------------


def test_command_module_does_not_import_torch():
    code = (
        "import sys, eafo_sym, eafo_sym.experiment, eafo_sym.commands.experiment, "
        "eafo_sym.experiment.stats, eafo_sym.experiment.report, eafo_sym.experiment.run; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

