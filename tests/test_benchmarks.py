"""The benchmark scripts still run (their timings are not tested: the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_crrelu.py"


@pytest.mark.slow
def test_benchmark_smoke_run_writes_its_tables(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "crrelu_bench.json").read_text())
    (goals,) = data["goals"].values()
    assert set(goals) == {
        "eager gen / paper plain",
        "eager fused / paper plain",
        "eager fused / F.gelu",
        "compiled gen / F.gelu eager",
        "compiled floor / F.gelu eager",
    }
    assert all(v > 0 for v in goals.values())
    # Memory is measured, not assumed: the generated module saves one input size.
    assert data["saved_input_sizes"]["gen eager"] == pytest.approx(1.0, abs=1e-3)  # x and 0-dim eps
    assert data["saved_input_sizes"]["gen fused"] == pytest.approx(1.0, abs=1e-3)
    assert data["saved_input_sizes"]["paper plain"] > 1.0
    md = (tmp_path / "crrelu_bench.md").read_text()
    assert "compiled floor / F.gelu eager" in md


def test_benchmarks_refuse_to_replace_results_without_force(tmp_path):
    for script, table in (("bench_crrelu.py", "crrelu_bench.md"),
                          ("bench_modules.py", "modules_bench.md")):
        (tmp_path / table).write_text("a hand-kept table\n")
        out = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / script), "--smoke", "--out", str(tmp_path)],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert out.returncode == 2 and "pass --force" in out.stderr, (script, out.stderr)
        assert (tmp_path / table).read_text() == "a hand-kept table\n"


def test_benchmark_rejects_zero_rounds(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "0", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert out.returncode == 2
    assert "--rounds must be at least 1" in out.stderr


def test_module_benchmark_smoke_run(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_modules.py"), "--smoke",
         "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "modules_bench.md").read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and ln.endswith("x |")]
    assert len(rows) == 12  # one row per base activation with a torch.nn twin
    assert all(ln.count("x |") == 2 for ln in rows)  # generated and fused, per size


def test_import_benchmark_smoke_run_and_refusal_to_overwrite(tmp_path):
    argv = [sys.executable, str(ROOT / "benchmarks" / "bench_import.py"), "--smoke",
            "--out", str(tmp_path)]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "import_bench.md").read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| `import")]
    assert len(rows) == 3 and all(ln.endswith("x |") for ln in rows)
    # What the runtime loads is measured too: no SymPy, no SciPy, no derivation modules.
    assert "(SymPy/SciPy; eafo_sym modules): [] " in md
    assert "eafo_sym.catalog" not in md and "eafo_sym.symbolic" not in md
    again = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 2 and "--force" in again.stderr
    assert (tmp_path / "import_bench.md").read_text() == md


@pytest.mark.slow
def test_design_benchmark_smoke_run(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_design.py"), "--smoke", "--out",
         str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "design_bench.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| `relu`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[-1] == "True" and float(cells[3]) > 0
    # A second run does not replace the table without --force.
    again = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_design.py"), "--smoke", "--out",
         str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert again.returncode == 2 and "pass --force" in again.stderr


def test_dynamic_benchmark_smoke_run(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_dynamic.py"), "--smoke",
         "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "dynamic_bench.json").read_text())
    assert set(data["ratios"]["2^10"]) == {"eager", "compiled"}
    assert all(r > 0 for r in data["ratios"]["2^10"].values())
    assert "dynamic / static" in (tmp_path / "dynamic_bench.md").read_text()
