"""The package :mod:`eafo_sym.reproduce` and ``eafo-sym reproduce``: files, progress, exit codes
and the output folder (the checks themselves: ``test_reproduce_checks.py`` and
``test_reproduce_artefacts.py``)."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout

import pytest
import sympy as sp

from eafo_sym import reproduce as rep
from eafo_sym.cli import main
from eafo_sym.outputs import MARKER

KEYS = [c.key for c in rep.CHECKS]
PAPER = ["wafbc_normal", "wafbc_logistic", "wafbc_laplace", "coordinates", "relu_branch",
         "taylor", "crrelu", "eps_sign"]  # fmt: skip
ARTEFACTS = ["nn_modules", "fused", "numpy", "jax"]


def _cli(argv):
    so, se = io.StringIO(), io.StringIO()
    with redirect_stdout(so), redirect_stderr(se):
        code = main(argv)
    return code, so.getvalue(), se.getvalue()


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One full run through the CLI, shared by the tests that only read its output."""
    out = tmp_path_factory.mktemp("repro") / "out"
    code, stdout, stderr = _cli(["reproduce", "--out", str(out)])
    return out, code, stdout, stderr


def test_the_table_lists_the_paper_and_every_artefact():
    assert KEYS == PAPER + ARTEFACTS


def test_full_run_writes_files(full_run):
    out, code, stdout, stderr = full_run
    for name in ("summary.md", "summary.json", MARKER):
        assert (out / name).is_file()
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figs == sorted(name for name, _ in rep.FIGURES)
    assert all((out / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figs)
    # The NumPy source the check ran goes into --out (never into the package), named in the table.
    code_file = out / "code" / "activations_numpy.py"
    assert "@generated" in code_file.read_text()
    data = json.loads((out / "summary.json").read_text())
    row = next(r for r in data["results"] if r["key"] == "numpy")
    import hashlib

    digest = hashlib.sha256(code_file.read_bytes()).hexdigest()[:12]
    assert row["derivation"].startswith(f"code/activations_numpy.py sha256 {digest}")
    assert f"`code/activations_numpy.py sha256 {digest}" in stdout
    marker = json.loads((out / MARKER).read_text())
    assert marker["owner"] == "eafo-sym reproduce"
    assert set(marker["files"]) >= {"summary.md", "summary.json", "code/activations_numpy.py"}


def test_summary_json_lists_every_check_consistently(full_run):
    out, code, stdout, _ = full_run
    data = json.loads((out / "summary.json").read_text())
    assert [r["key"] for r in data["results"]] == KEYS
    assert data["passed"] is (code == 0)
    for r in data["results"]:
        assert r["status"] in ("PASS", "FAIL", "SKIP") and r["derivation"]
        if r["status"] == "PASS":
            assert r["error"] <= r["tol"]
        if r["status"] == "SKIP":
            assert r["note"]
        if r["status"] == "FAIL" and r["key"] in ARTEFACTS:
            assert r["note"].startswith("failing: ") and r["data"]["failing"]
    for r in data["results"]:
        if r["key"] in PAPER:
            assert r["status"] == "PASS", r


@pytest.mark.xfail(
    strict=True,
    reason="the artefact checks find a known defect of the generated code: EafoSoftplus's "
    "d/dbeta at x = +inf is nan (x*sigmoid(beta*x)/beta - softplus(beta*x)/beta**2 is "
    "inf - inf there), where the limit is 0",
)
def test_full_run_passes(full_run):
    out, code, stdout, _ = full_run
    assert code == 0, stdout


def test_table_and_progress(full_run):
    out, code, stdout, stderr = full_run
    assert "| Result | Our derivation | Check | Error (tol) | Status |" in stdout
    statuses = stdout.count("| PASS |") + stdout.count("| FAIL |") + stdout.count("| SKIP |")
    assert statuses == len(KEYS)
    assert f"/{len(KEYS)} checks pass" in stdout
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


def test_a_second_run_reuses_its_own_folder(tmp_path):
    args = ["reproduce", "--out", str(tmp_path / "o"), "--no-figures", "--only", "crrelu"]
    assert _cli(args)[0] == 0
    assert _cli(args)[0] == 0


# --- the output folder ---------------------------------------------------------------


def test_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["reproduce", "--out", str(blocker), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "eafo-sym reproduce: error:" in err
    assert main(["reproduce", "--out", str(blocker / "sub"), "--quiet"]) == 2
    assert blocker.read_text() == "x"


def test_empty_out_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "--out", "", "--quiet"]) == 2
    assert "must not be empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_check_exits_2(tmp_path, capsys):
    assert main(["reproduce", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "unknown check" in capsys.readouterr().err


def test_a_foreign_folder_is_refused_before_any_work(tmp_path, capsys):
    folder = tmp_path / "mine"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "activations_numpy.py").write_text("# my own code\n")
    (folder / "summary.md").write_text("my notes\n")
    assert main(["reproduce", "--out", str(folder), "--quiet", "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert "is not empty and was not written by eafo-sym reproduce" in err and "--force" in err
    assert (folder / "summary.md").read_text() == "my notes\n"
    assert sorted(p.name for p in folder.iterdir()) == ["code", "summary.md"]


def test_a_hand_edited_file_in_our_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "o"
    args = ["reproduce", "--out", str(folder), "--quiet", "--no-figures", "--only", "numpy"]
    _cli(args)
    (folder / "code" / "activations_numpy.py").write_text("# edited by hand\n")
    code = main(args)
    assert code == 1  # the check that writes the file fails; the report is written
    data = json.loads((folder / "summary.json").read_text())
    assert "OutputRefusedError" in data["results"][0]["check"]
    assert (folder / "code" / "activations_numpy.py").read_text() == "# edited by hand\n"
    capsys.readouterr()
    assert main([*args, "--force"]) in (0, 1)
    assert "@generated" in (folder / "code" / "activations_numpy.py").read_text()


def test_links_are_never_followed(tmp_path, capsys):
    """The old write probe and summary.md were followed: a file outside --out lost its contents."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "o"
    args = ["reproduce", "--out", str(folder), "--quiet", "--no-figures", "--only", "crrelu"]
    _cli(args)
    (folder / ".eafo-write-test").symlink_to(victim)
    (folder / "summary.md").unlink()
    (folder / "summary.md").symlink_to(victim)
    assert main(args) == 2
    assert "summary.md is a symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious\n"
    assert main([*args, "--force"]) == 0  # replaces the link itself
    assert victim.read_text() == "precious\n"
    assert not (folder / "summary.md").is_symlink()


def test_reproduce_function_writes_nothing_outside(tmp_path):
    report = rep.reproduce(tmp_path / "o", figures=False, checks=rep.select(["crrelu"]),
                           progress=None)
    assert report.passed and report.files == ["summary.md", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [MARKER, "summary.json",
                                                                 "summary.md"]


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
