"""The study's report, :mod:`eafo_sym.experiment.report`: rows on disk and the numbers the
summary states, on rows made up so that the answer is known."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from eafo_sym.experiment import report
from eafo_sym.outputs import OutputDir


def test_read_rows_rejects_bad_json(tmp_path):
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"a": 1}\n\nnot json\n')
    with pytest.raises(ValueError, match="rows.jsonl:3"):
        report.read_rows(bad)


def _rows(effect: dict[str, float], seeds: int = 6, slope: float = -0.05):
    """Main rows: accuracy = 0.8 + effect + seed noise; entropy = (accuracy - 0.8) / slope."""
    rng = np.random.default_rng(0)
    out = []
    for a, e in effect.items():
        for s in range(seeds):
            acc = 0.8 + e + 0.002 * rng.standard_normal()
            h = 3.0 + (acc - 0.8) / slope
            out.append({
                "part": "main", "data": "d", "model": "m", "activation": a, "seed": s,
                "test_accuracy": acc, "test_loss": 1 - acc,
                "layers": [{"entropy": h, "ks_distance": 0.1, "abs_skew": 0.2,
                            "excess_kurtosis": 0.3, "frac_below_zero": 0.5}],
                "act_params": {"epsilon": [-0.02, 0.03]} if a == "crrelu" else {},
            })  # fmt: skip
    return out


def test_resolved_differences_survive_holm_and_small_ones_do_not():
    rows = _rows({"gelu": 0.0, "crrelu": 0.05, "relu": 0.0005, "elu": -0.04})
    acc = {e["activation"]: e for e in report.analyse(rows)["accuracy"]["d/m"]}
    assert "mean_diff" not in acc["gelu"]  # the reference
    assert acc["crrelu"]["resolved"] and acc["crrelu"]["wins"] == 6
    assert acc["elu"]["resolved"] and acc["elu"]["losses"] == 6
    assert not acc["relu"]["resolved"]
    for e in (acc["crrelu"], acc["relu"], acc["elu"]):
        assert e["p_holm"] >= e["p"] and e["ci_low"] < e["mean_diff"] < e["ci_high"]
    text = report.summary_markdown(report.analyse(rows))
    assert re.search(r"resolved against gelu \(Holm p < 0.05\): crrelu \(\+4\.9\d pp\), "
                     r"elu \(-[34]\.\d\d pp\)\.", text)
    assert "| relu |" in text and "**+0.05**" not in text


def test_the_premise_verdict_follows_the_sign_of_the_correlation():
    effect = {"gelu": 0.0, "crrelu": 0.05, "relu": 0.02, "elu": -0.04}
    down = report.analyse(_rows(effect, slope=-0.05))["premise"]["d/m"]
    up = report.analyse(_rows(effect, slope=+0.05))["premise"]["d/m"]
    assert down["verdict"] == "supported" and down["rho"] < -0.9 and down["n"] == 24
    assert up["verdict"] == "contradicted" and up["rho"] > 0.9
    assert "**Verdict**: the premise is supported in 1 of 1" in report.summary_markdown(
        report.analyse(_rows(effect, slope=-0.05))
    )


def test_learned_eps_is_compared_with_the_derived_descent_sign():
    from eafo_sym import derive_crrelu

    assert derive_crrelu().descent_sign == report.DESCENT_SIGN
    eps = report.analyse(_rows({"gelu": 0.0, "crrelu": 0.0}))["eps"]
    assert all(e["activation"] == "crrelu" for e in eps)
    assert [(e["layer"], e["agree_with_descent_sign"], e["n"]) for e in eps] == [(0, 6, 6),
                                                                                 (1, 0, 6)]


def test_cost_ratios_are_to_gelu_of_the_same_backend():
    rows = [
        {"part": "cost", "data": "d", "model": "m", "activation": a, "seed": 0, "backend": b,
         "epoch_seconds": [9.0, t, t], "peak_rss_growth_mib": 1.0, "saved_tensor_mib": sv}
        for a, b, t, sv in [("gelu", "eager", 2.0, 1.0), ("crrelu", "eager", 3.0, 1.5),
                            ("gelu", "fused", 1.0, 1.0), ("crrelu", "fused", 1.5, 1.0)]
    ]  # fmt: skip
    cost = {(c["activation"], c["backend"]): c for c in report.analyse(rows)["cost"]}
    assert cost[("crrelu", "eager")]["time_ratio"] == 1.5
    assert cost[("crrelu", "fused")]["time_ratio"] == 1.5
    assert cost[("crrelu", "eager")]["saved_ratio"] == 1.5
    assert cost[("gelu", "eager")]["first_epoch_s"] == 9.0


def test_write_report_writes_through_the_output_folder(tmp_path):
    rows = _rows({"gelu": 0.0, "crrelu": 0.05})
    with OutputDir.open(tmp_path / "out", owner="eafo-sym experiment") as out:
        text = report.write_report(out, rows)
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"summary.md", "summary.json", "accuracy.png", "entropy_accuracy.png",
            "cost.png"} <= files  # fmt: skip
    assert (tmp_path / "out" / "summary.md").read_text() == text
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["premise"]["d/m"]["verdict"] == "supported"
