"""The training benchmark still runs and reports every ratio (its timings are not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_training.py"


@pytest.mark.slow
def test_training_benchmark_smoke_run(tmp_path):
    argv = [sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path)]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "training_bench.json").read_text())
    assert {"compiled", "eager nn", "peak memory"} <= set(data["ratios"])
    assert all(v > 0 for v in data["ratios"].values())
    assert set(data["times_s"]) >= {"gelu", "crrelu (nn)", "gelu compiled", "crrelu (nn) compiled"}
    md = (tmp_path / "training_bench.md").read_text()
    assert "| compiled |" in md and "<= 1.05x" in md
    again = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 2 and "--force" in again.stderr


def test_training_benchmark_rejects_zero_rounds(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--rounds", "0", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and "at least 1" in out.stderr
