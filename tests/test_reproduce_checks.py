"""The checks of :mod:`eafo_sym.reproduce.checks`: a wrong result is a FAIL, the table, selection."""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp

from eafo_sym import reproduce as rep
from eafo_sym.cli import build_parser, main
from eafo_sym.reproduce import checks


def test_wrong_taylor_coefficient_is_a_fail(tmp_path, monkeypatch, capsys):
    real = checks.entropy_taylor

    def off_by_a_bit(*args, **kwargs):
        c = real(*args, **kwargs)
        return [c[0] + sp.Rational(1, 1000), *c[1:]]

    monkeypatch.setattr(checks, "entropy_taylor", off_by_a_bit)
    code = main(["reproduce", "--out", str(tmp_path), "--no-figures", "--only", "taylor"])
    assert code == 1
    stdout = capsys.readouterr().out
    assert "| FAIL |" in stdout and "0/1 checks pass" in stdout
    data = json.loads((tmp_path / "summary.json").read_text())
    (r,) = data["results"]
    # The finite differences miss c_1 by 1e-3, and the series no longer matches the quadrature.
    assert r["status"] == "FAIL" and (r["error"] == "inf" or r["error"] > 9e-4)


def test_wrong_wafbc_is_a_fail(tmp_path, monkeypatch):
    real = checks.worst_activation

    def tanh_instead(dist, *a, **kw):
        w = real(dist, *a, **kw)
        import dataclasses

        return dataclasses.replace(w, expr=sp.tanh(checks.x))

    monkeypatch.setattr(checks, "worst_activation", tanh_instead)
    report = rep.reproduce(
        tmp_path, figures=False, checks=[c for c in rep.CHECKS if c.key == "wafbc_normal"],
        progress=None,
    )
    assert not report.passed
    assert report.results[0].status == "FAIL" and math.isinf(report.results[0].error)


def test_exception_in_a_check_is_a_fail_row(tmp_path):
    def broken(out=None):
        raise ZeroDivisionError("boom")

    report = rep.reproduce(
        tmp_path, figures=False, checks=[rep.Check("broken", "Broken", broken)], progress=None
    )
    (r,) = report.results
    assert r.status == "FAIL" and "ZeroDivisionError: boom" in r.check
    assert "FAIL" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["results"][0]["error"] == "inf"


def test_select_keeps_table_order_and_names_unknown_keys():
    assert checks.select() is checks.CHECKS
    assert [c.key for c in checks.select(["codegen", "wafbc_normal", "codegen"])] == [
        "wafbc_normal",
        "codegen",
    ]
    with pytest.raises(ValueError, match=r"unknown check\(s\) nope, nix; known: wafbc_normal"):
        checks.select(["taylor", "nope", "nix"])


def test_every_check_row_is_a_documented_check_function():
    keys = [c.key for c in checks.CHECKS]
    assert len(keys) == len(set(keys))
    for c in checks.CHECKS:
        assert c.run is getattr(checks, f"check_{c.key}") and c.run.__doc__ and c.title


def test_only_help_lists_the_table_keys(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"keys: {', '.join(c.key for c in checks.CHECKS)}" in help_text


def test_run_check_judges_error_against_tolerance():
    def near(out=None):
        return checks.Outcome("f = x", "by hand", error=2e-9, tol=1e-9, data={"a": 1})

    r = checks.run_check(checks.Check("near", "Near miss", near), None)
    assert (r.key, r.title, r.passed, r.status, r.error_text) == ("near", "Near miss", False, "FAIL", "2.0e-09")
    assert r.as_dict()["data"] == {"a": 1} and r.seconds >= 0
    assert list(r.as_dict()) == [
        "key", "title", "derivation", "check", "error", "tol", "passed", "seconds", "note", "data", "status",
    ]  # fmt: skip
    nan = checks.run_check(
        checks.Check("nan", "NaN", lambda out=None: checks.Outcome("f", "c", math.nan, 1.0)), None
    )
    assert not nan.passed
