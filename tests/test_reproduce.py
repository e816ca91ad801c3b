"""The package :mod:`eafo_sym.reproduce` and ``eafo-sym reproduce``: files, progress, exit codes
and the output folder (the checks themselves: ``test_reproduce_checks.py``)."""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp

from eafo_sym import reproduce as rep
from eafo_sym.cli import main

KEYS = [c.key for c in rep.CHECKS]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One full run through the CLI, shared by the tests that only read its output."""
    out = tmp_path_factory.mktemp("repro") / "out"
    import io
    from contextlib import redirect_stderr, redirect_stdout

    so, se = io.StringIO(), io.StringIO()
    with redirect_stdout(so), redirect_stderr(se):
        code = main(["reproduce", "--out", str(out)])
    return out, code, so.getvalue(), se.getvalue()


def test_full_run_passes_and_writes_files(full_run):
    out, code, stdout, stderr = full_run
    assert code == 0, stdout
    for name in ("summary.md", "summary.json"):
        assert (out / name).is_file()
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figs == sorted(name for name, _ in rep.FIGURES)
    assert all((out / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figs)
    assert (out / "code" / "crrelu_numpy.py").is_file()
    # The generated source goes into --out, never into the package.
    assert "@generated" in (out / "code" / "crrelu_numpy.py").read_text()


def test_summary_json_lists_every_check(full_run):
    out, *_ = full_run
    data = json.loads((out / "summary.json").read_text())
    assert data["passed"] is True
    assert [r["key"] for r in data["results"]] == KEYS
    for r in data["results"]:
        assert r["status"] == "PASS"
        assert r["error"] <= r["tol"]
        assert r["derivation"]


def test_table_and_progress(full_run):
    out, _, stdout, stderr = full_run
    assert "| Result | Our derivation | Check | Error (tol) | Status |" in stdout
    assert stdout.count("| PASS |") == len(KEYS)
    assert f"{len(KEYS)}/{len(KEYS)} checks pass" in stdout
    # One progress line per step on stderr, none on stdout.
    assert stderr.count("] ") >= len(KEYS)
    assert "[ 1/" not in stdout
    # The sign finding is stated, in the table notes and in summary.md.
    assert "+0.01" in stdout and "opposite sign" in (out / "summary.md").read_text()


def test_derived_sign_is_negative(full_run):
    out, *_ = full_run
    data = json.loads((out / "summary.json").read_text())
    sign = next(r for r in data["results"] if r["key"] == "eps_sign")
    assert sign["data"]["dH_plus"] > 0 > sign["data"]["dH_minus"]
    assert "< 0" in sign["derivation"]


def test_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["reproduce", "--out", str(blocker), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "eafo-sym reproduce: error:" in err
    assert main(["reproduce", "--out", str(blocker / "sub"), "--quiet"]) == 2


def test_unknown_check_exits_2(tmp_path, capsys):
    assert main(["reproduce", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "unknown check" in capsys.readouterr().err


def test_numeric_helpers():
    from eafo_sym import x, y
    from eafo_sym.laws import normal

    c1, c2 = rep.richardson_coefficients(lambda e: math.exp(e) - 1)
    assert abs(c1 - 1) < 1e-8 and abs(c2 - 0.5) < 1e-6
    h, m = rep.y_space_entropy("sigmoid", normal())
    assert abs(m - 1) < 1e-10
    from eafo_sym import output_entropy

    assert abs(h - output_entropy("sigmoid", normal())) < 1e-9
    q = rep.output_density(3 * x, normal())
    assert sp.simplify(q - normal(0, 3).pdf.subs(x, y)) == 0
