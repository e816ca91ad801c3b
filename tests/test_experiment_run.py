"""The study's run loop, :mod:`eafo_sym.experiment.run` and :mod:`.cells`, through
``eafo-sym experiment``: a smoke run and its files, resuming, an interrupted run, parallel
jobs that give the same rows, and one stderr line + exit code 2 for bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("mnist1d")

from eafo_sym import __version__  # noqa: E402
from eafo_sym.cli import main  # noqa: E402
from eafo_sym.experiment import cells, data, models, report, run  # noqa: E402
from eafo_sym.outputs import MARKER  # noqa: E402

SMALL = ["--smoke", "--models", "mlp", "--no-progress", "--threads", "1"]
ROW_KEYS = {
    "part": str, "data": str, "model": str, "activation": str, "seed": int, "backend": str,
    "test_accuracy": float, "test_loss": float, "val_accuracy": float, "final_loss": float,
    "epochs": int, "seconds": float, "threads": int, "torch_version": str,
    "package_version": str, "generated_code_sha256": str, "data_sha256": str,
}  # fmt: skip
_TIMING = ("seconds", "cpu_seconds", "epoch_seconds", "peak_rss_mib", "peak_rss_growth_mib")


def _untimed(rows):
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in rows]


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke") / "study"
    assert main(["experiment", *SMALL, "--out", str(out)]) == 0
    return out


def test_smoke_rows_cover_every_part_with_provenance(smoke_out):
    rows = report.read_rows(smoke_out / "rows.jsonl")
    keys = [cells.row_key(r) for r in rows]
    main_keys = {("main", d, "mlp", a, s, "eager") for d in ("digits", "mnist1d")
                 for a in ("gelu", "crrelu") for s in (0, 1)}  # fmt: skip
    abl = {("ablations", "mnist1d", "mlp", a, s, "eager")
           for a in ("crrelu[eps=-0.1]", "crrelu[frozen]") for s in (0, 1)}  # fmt: skip
    cost = {("cost", "mnist1d", "mlp", a, 0, b) for a in ("gelu", "crrelu")
            for b in ("eager", "fused")}  # fmt: skip
    assert set(keys) == main_keys | abl | cost and len(keys) == len(set(keys))
    checksums = {d: data.load(d).checksum for d in ("digits", "mnist1d")}
    for r in rows:
        for key, typ in ROW_KEYS.items():
            assert isinstance(r[key], typ), (key, r[key])
        assert 0.0 <= r["test_accuracy"] <= 1.0 and math.isfinite(r["final_loss"])
        assert r["package_version"] == __version__
        assert r["generated_code_sha256"] == cells.generated_code_sha256()
        assert r["data_sha256"] == checksums[r["data"]]
        assert r["profile"] == "smoke" and r["threads"] == 1
        assert ("layers" in r) == (r["part"] != "cost")
    frozen = [r for r in rows if r["activation"] == "crrelu[frozen]"]
    assert all(r["act_params"]["epsilon"] == [0.01] for r in frozen)
    # The rows are in the plan's order.
    assert keys == [c.key for c in run.plan(smoke=True, models=["mlp"], out="x").cells]


def test_smoke_writes_the_report_data_and_meta(smoke_out):
    for name in ("accuracy.png", "entropy_accuracy.png", "cost.png"):
        assert (smoke_out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (smoke_out / "summary.md").read_text()
    assert "### digits/mlp" in summary and "## The premise" in summary and "## Cost" in summary
    analysis = json.loads((smoke_out / "summary.json").read_text())
    assert set(analysis["accuracy"]) == {"digits/mlp", "mnist1d/mlp"}
    info = json.loads((smoke_out / "data.json").read_text())
    assert info["mnist1d"]["sha256"] == data.load("mnist1d").checksum
    assert info["mnist1d"]["generation_args"]["seed"] == 42
    meta = json.loads((smoke_out / "meta.json").read_text())
    assert meta["command"].startswith("eafo-sym experiment --only main,ablations,cost")
    assert meta["cells"] == meta["ran_this_call"] == 16 and meta["failures"] == []
    dynamic_missing = models.dynamic_activations()[1] is not None
    assert any("dynamic" in s["what"] for s in meta["skipped"]) == dynamic_missing
    assert (smoke_out / MARKER).exists()


def test_report_only_rewrites_the_summary_without_training(smoke_out, tmp_path, capsys):
    before = (smoke_out / "summary.md").read_text()
    assert main(["experiment", "--report-only", "--out", str(smoke_out)]) == 0
    assert (smoke_out / "summary.md").read_text() == before
    capsys.readouterr()
    assert main(["experiment", "--report-only", "--out", str(tmp_path)]) == 2  # no rows.jsonl
    assert "rows.jsonl" in capsys.readouterr().err


def test_resume_runs_only_the_missing_cells(tmp_path):
    out = tmp_path / "r"
    base = [*SMALL, "--only", "main", "--data", "digits", "--out", str(out)]
    assert main(["experiment", *base, "--seeds", "1"]) == 0
    first = report.read_rows(out / "rows.jsonl")
    assert main(["experiment", *base, "--seeds", "2", "--resume"]) == 0
    rows = report.read_rows(out / "rows.jsonl")
    assert len(rows) == 4 and [r for r in rows if r["seed"] == 0] == first  # kept, not rerun
    meta = json.loads((out / "meta.json").read_text())
    assert meta["ran_this_call"] == 2 and meta["cells"] == 4


def test_an_interrupted_run_keeps_its_finished_rows(tmp_path, monkeypatch):
    p = run.plan(smoke=True, models=["mlp"], data=["digits"], only=["main"], out=str(tmp_path / "i"),
                 threads=1)  # fmt: skip
    real, calls = cells.run_cell, []

    def flaky(cell, threads=1):
        calls.append(cell)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(cell, threads)

    monkeypatch.setattr(cells, "run_cell", flaky)
    with pytest.raises(KeyboardInterrupt):
        run.run_experiment(p, progress=False)
    kept = report.read_rows(tmp_path / "i" / "rows.jsonl")
    assert [cells.row_key(r) for r in kept] == [c.key for c in p.cells[:2]]
    monkeypatch.setattr(cells, "run_cell", real)
    resumed = run.plan(smoke=True, models=["mlp"], data=["digits"], only=["main"],
                       out=str(tmp_path / "i"), threads=1, resume=True)  # fmt: skip
    result = run.run_experiment(resumed, progress=False)
    assert result.ran == 2 and result.rows[:2] == kept and len(result.rows) == 4


def test_parallel_jobs_give_the_same_rows_in_the_same_order():
    # The cell function is what a Dask or Ray cluster would map; here the local process pool.
    todo = [cells.Cell("main", "digits", "mlp", a, s, profile="smoke")
            for a in ("gelu", "crrelu") for s in (0, 1)]  # fmt: skip
    serial = cells.execute(todo, jobs=1, threads=1)
    parallel = cells.execute(todo, jobs=2, threads=1)
    assert _untimed(cells.merge_rows(parallel, todo)) == _untimed(serial)
    assert _untimed(cells.merge_rows(list(reversed(serial)), todo)) == _untimed(serial)


def test_a_failing_cell_is_reported_and_the_others_finish():
    todo = [cells.Cell("main", "digits", "mlp", "gelu", 0, profile="smoke"),
            cells.Cell("main", "digits", "nope", "gelu", 0, profile="smoke")]  # fmt: skip
    errors = []
    rows = cells.execute(todo, jobs=1, on_error=lambda c, e: errors.append((c.model, str(e))))
    assert len(rows) == 1 and errors and errors[0][0] == "nope"


# --- the plan: defaults, and the results of an earlier run ------------------------------------


def test_plan_writes_to_a_new_folder_by_default(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # where results/ is committed
    full = run.plan(jobs=2)
    assert full.folder.as_posix().startswith("results/runs/study-")
    assert not (full.folder / "rows.jsonl").exists()
    assert full.seeds == 5 and full.threads == max(1, (__import__("os").cpu_count() or 1) // 2)
    assert full.data == ("digits", "mnist1d") and {"mlp", "vit", "convnext"} <= set(full.models)
    parts = {c.part for c in full.cells}
    assert parts == {"main", "ablations", "cost"}
    assert {c.activation for c in full.cells if c.part == "ablations"} == set(
        run.plan(jobs=2).ablations
    ) and len(full.ablations) == 5
    assert {c.backend for c in full.cells if c.part == "cost"} == {"eager", "fused", "compile"}


def test_earlier_results_need_resume_or_force(tmp_path, capsys):
    (tmp_path / "rows.jsonl").write_text('{"kept": true}\n')
    assert main(["experiment", "--smoke", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already holds the results of a run" in err and "--force" in err and err.count("\n") == 1
    assert (tmp_path / "rows.jsonl").read_text() == '{"kept": true}\n'
    # Not ours (no marker): even --resume refuses to adopt it.
    assert main(["experiment", *SMALL, "--only", "main", "--data", "digits", "--resume",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "not empty and was not written by eafo-sym experiment" in capsys.readouterr().err
    assert (tmp_path / "rows.jsonl").read_text() == '{"kept": true}\n'


# --- bad input: one stderr line, exit code 2 ---------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--activations", "crrelu,swishh"], "unknown activation 'swishh'"),
        (["--activations", "gelu,crrelu[eps=x]"], "eps must be a number"),
        (["--seeds", "0"], "--seeds must be positive"),
        (["--seeds", "-3"], "--seeds must be positive"),
        (["--models", "resnet"], "unknown model 'resnet'"),
        (["--data", "cifar"], "unknown data set 'cifar'"),
        (["--only", "main,speed"], "unknown part 'speed'"),
        (["--epochs", "0"], "--epochs must be positive"),
        (["--threads", "0"], "--threads must be positive"),
        (["--jobs", "0"], "--jobs must be positive"),
        (["--activations", "crrelu,relu"], "--baseline 'gelu' is not among the activations"),
        (["--resume", "--force"], "pick one"),
    ],
)
def test_bad_input_exits_2(argv, message, tmp_path, capsys):
    assert main(["experiment", "--smoke", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "rows.jsonl").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resume"], "--resume needs --out"),
        (["--report-only"], "--report-only needs --out"),
    ],
)
def test_flags_that_need_a_folder_exit_2(argv, message, capsys):
    assert main(["experiment", "--smoke", *argv]) == 2
    assert message in capsys.readouterr().err


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
        "eafo_sym.experiment.stats, eafo_sym.experiment.report, eafo_sym.experiment.run, "
        "eafo_sym.experiment.cells, eafo_sym.experiment.entropy; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
