"""The report of :mod:`eafo_sym.reproduce.report`: printed text, summary files, output folder."""

from __future__ import annotations

import json
import math

import pytest

from eafo_sym.outputs import MARKER, OutputRefusedError
from eafo_sym.reproduce.checks import CheckResult
from eafo_sym.reproduce.report import Report, prepare_out


def _result(key: str, error: float, passed: bool, note: str = "") -> CheckResult:
    return CheckResult(
        derivation="a | b", check="c", error=error, tol=1e-9, note=note,
        key=key, title=key.title(), passed=passed, seconds=0.25,
    )  # fmt: skip


def test_text_has_table_notes_and_verdict():
    report = Report(
        [_result("one", 0.0, True, note="mind the sign"), _result("two", math.inf, False)],
        ["code/crrelu_numpy.py", "figures/wafbc.png"],
        3.04,
        "out",
    )
    lines = report.text().splitlines()
    assert lines[2] == "| One | `a \\| b` | c | 0.0e+00 (1e-09) | PASS |"  # a pipe is escaped
    assert lines[3] == "| Two | `a \\| b` | c | inf (1e-09) | FAIL |"
    assert lines[5] == "note (one): mind the sign"
    assert lines[-1] == (
        "1/2 checks pass in 3.0 s; wrote out/summary.md, summary.json, figures/, code/"
    )
    assert not report.passed and report.n_passed == 1
    no_files = Report([_result("one", 0.0, True)], [], 1.0, "o")
    assert no_files.passed and no_files.text().endswith("wrote o/summary.md, summary.json\n")


def test_write_lists_the_summaries_and_spells_inf(tmp_path):
    report = Report([_result("two", math.inf, False)], ["figures/wafbc.png"], 1.0, str(tmp_path))
    with prepare_out(tmp_path) as out:
        report.write(out)
    assert report.files == ["figures/wafbc.png", "summary.md", "summary.json"]
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["passed"] is False and data["results"][0]["error"] == "inf"
    assert data["files"] == report.files
    md = (tmp_path / "summary.md").read_text()
    assert md.startswith("# eafo-sym reproduce\n\n0/1 checks pass") and "- `summary.json`" in md


def test_prepare_out_creates_and_refuses(tmp_path):
    with prepare_out(tmp_path / "a" / "b") as made:
        assert made.owner == "eafo-sym reproduce"
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == [MARKER]  # no write probe
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        prepare_out(tmp_path / "file")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.md").write_text("mine")
    with pytest.raises(OutputRefusedError, match="--force"):
        prepare_out(tmp_path / "foreign")
    prepare_out(tmp_path / "foreign", force=True).close()
    assert (tmp_path / "foreign" / "notes.md").read_text() == "mine"


def test_skipped_rows_are_counted_apart():
    skipped = CheckResult(
        derivation="(not run)", check="skipped", error=math.nan, tol=0.0, note="no jax",
        key="jax", title="JAX", passed=False, seconds=0.0, skipped=True,
    )  # fmt: skip
    report = Report([_result("one", 0.0, True), skipped], [], 1.0, "o")
    assert report.passed and report.n_skipped == 1
    assert report.text().splitlines()[-1] == "1/2 checks pass, 1 skipped in 1.0 s; wrote o/summary.md, summary.json"
    assert "1/2 checks pass, 1 skipped; wall time" in report.markdown()
    assert not Report([_result("one", 0.0, False), skipped], [], 1.0, "o").passed
