"""The checks of :mod:`eafo_sym.reproduce.checks`: a wrong result is a FAIL, the table, selection."""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp

from eafo_sym import reproduce as rep
from eafo_sym import x
from eafo_sym.cli import build_parser, main
from eafo_sym.laws import normal
from eafo_sym.reproduce import checks


def _taylor_with(monkeypatch, change):
    real = checks.entropy_taylor

    def changed(*args, **kwargs):
        return change(list(real(*args, **kwargs)))

    monkeypatch.setattr(checks, "entropy_taylor", changed)
    return checks.run_check(checks.Check("taylor", "Taylor", checks.check_taylor), None)


def test_the_taylor_coefficients_pass_as_derived(monkeypatch):
    r = _taylor_with(monkeypatch, lambda c: c)
    assert r.passed and r.error < 1e-9
    assert len(r.data["relative_errors"]) == 4


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_a_one_percent_error_in_any_taylor_coefficient_fails(monkeypatch, k):
    def one_percent_off(c):
        c[k - 1] = c[k - 1] * sp.Rational(101, 100)
        return c

    r = _taylor_with(monkeypatch, one_percent_off)
    assert not r.passed and r.status == "FAIL"
    assert r.data["relative_errors"][k - 1] == pytest.approx(0.01, rel=1e-6)
    assert max(e for i, e in enumerate(r.data["relative_errors"]) if i != k - 1) < 1e-9


@pytest.mark.parametrize(
    "change",
    [
        lambda c: [*c[:2], c[2] * sp.Rational(115, 100), c[3]],  # c_3 15 % off
        lambda c: [*c[:3], sp.S.Zero],  # c_4 = 0
        lambda c: [c[0] + sp.Rational(1, 1000), *c[1:]],
    ],
    ids=["c3 +15%", "c4 = 0", "c1 + 1e-3"],
)
def test_wrong_taylor_coefficients_fail_through_the_cli(tmp_path, monkeypatch, capsys, change):
    real = checks.entropy_taylor
    monkeypatch.setattr(checks, "entropy_taylor", lambda *a, **k: change(list(real(*a, **k))))
    code = main(["reproduce", "--out", str(tmp_path), "--no-figures", "--only", "taylor"])
    assert code == 1
    stdout = capsys.readouterr().out
    assert "| FAIL |" in stdout and "0/1 checks pass" in stdout
    (r,) = json.loads((tmp_path / "summary.json").read_text())["results"]
    assert r["status"] == "FAIL" and r["error"] > 1e-3


def test_the_contour_integral_is_exact_for_a_known_series():
    """h = x: Delta(eta) = log(1 + eta)/2, so c_k = (-1)^(k+1) / (2k)."""
    got = checks.taylor_by_contour(x, normal(), 6)
    want = [(-1) ** (k + 1) / (2 * k) for k in range(1, 7)]
    assert got == pytest.approx(want, rel=1e-12)
    delta = checks.branch_entropy_change(x, normal(), 0.3)
    assert delta.real == pytest.approx(math.log(1.3) / 2, rel=1e-12) and delta.imag == 0


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


def test_a_skipped_check_is_a_skip_row_and_does_not_fail_the_report(tmp_path, capsys):
    def cannot(out=None):
        raise checks.Skip("jax is not installed: the printed JAX functions need it")

    def fine(out=None):
        return checks.Outcome("f = x", "by hand", 0.0, 1e-9)

    report = rep.reproduce(
        tmp_path, figures=False, progress=None,
        checks=[rep.Check("fine", "Fine", fine), rep.Check("cannot", "Cannot", cannot)],
    )  # fmt: skip
    skip = report.results[1]
    assert (skip.status, skip.skipped, skip.passed, skip.error_text) == ("SKIP", True, False, "-")
    assert skip.note == "jax is not installed: the printed JAX functions need it"
    assert report.passed and report.n_passed == 1 and report.n_skipped == 1
    assert "1/2 checks pass, 1 skipped" in report.text()
    assert "| Cannot | `(not run)` | skipped | - (0e+00) | SKIP |" in report.table()
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["passed"] is True and data["results"][1]["status"] == "SKIP"


def test_select_keeps_table_order_and_names_unknown_keys():
    assert checks.select() is checks.CHECKS
    assert [c.key for c in checks.select(["numpy", "wafbc_normal", "numpy"])] == [
        "wafbc_normal",
        "numpy",
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


def test_simplifies_to_zero_is_cached_by_content():
    from eafo_sym.reproduce.memo import cached_call, package_digest

    e = sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1
    assert cached_call(checks.simplifies_to_zero, e) is True
    assert cached_call(checks.simplifies_to_zero, e + x) is False
    assert len(package_digest()) == 16
    calls = []

    def stand_in(v):  # defined outside eafo_sym: never cached
        calls.append(v)
        return v

    assert [cached_call(stand_in, 1), cached_call(stand_in, 1)] == [1, 1] and calls == [1, 1]
