"""Benchmark: one ``eafo-sym design`` per typical base, notebook execution included (not a test).

The goal of a design is under 30 s for a typical base on a 2-core machine. Each
base is designed from a cold derivation cache (a fresh ``EAFO_SYM_CACHE_DIR``),
then written as ``eafo-sym design`` writes it: design.md/json, the torch and
NumPy modules and the executed derivation notebook (whose kernel re-runs the
design, from the warm cache). Wall and CPU seconds per stage, since the machine
may be shared. Writes ``benchmarks/results/design_bench.md`` (``--force`` to
replace it). Run::

    python benchmarks/bench_design.py --force
    python benchmarks/bench_design.py --smoke --out /tmp/b
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: The bases timed: registry names and a formula (Mish written out), all under normal().
BASES = ("relu", "gelu", "silu", "softplus", "x*tanh(log(1+exp(x)))")
GOAL_S = 30.0


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def run_one(base: str, work: Path) -> dict:
    """Design and write one base from a cold cache; seconds per stage."""
    from eafo_sym.design import design
    from eafo_sym.design.files import write_design
    from eafo_sym.laws import normal

    d, design_wall, design_cpu = _timed(lambda: design(base, normal()))
    _, write_wall, write_cpu = _timed(lambda: write_design(
        d, work / "out", backends=("torch", "numpy"), base_text=base))
    return {"base": base, "passed": d.passed, "design_wall": design_wall,
            "design_cpu": design_cpu, "write_wall": write_wall, "write_cpu": write_cpu,
            "total_wall": design_wall + write_wall}


def table(rows: list[dict]) -> str:
    lines = [f"| base | design wall s (cpu) | write + notebook wall s (cpu) | total wall s | "
             f"total / {GOAL_S:g} s goal | checks passed |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['base']}` | {r['design_wall']:.1f} ({r['design_cpu']:.1f}) | "
                     f"{r['write_wall']:.1f} ({r['write_cpu']:.1f}) | {r['total_wall']:.1f} | "
                     f"{r['total_wall'] / GOAL_S:.2f} | {r['passed']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="ReLU only")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder of the table")
    ap.add_argument("--force", action="store_true", help="replace an existing table")
    args = ap.parse_args(argv)
    out = args.out / "design_bench.md"
    if out.exists() and not args.force:
        ap.error(f"{out} exists; pass --force to replace it")
    rows = []
    for base in BASES[:1] if args.smoke else BASES:
        with tempfile.TemporaryDirectory() as tmp:
            # A cold cache for each base; the notebook's kernel inherits it (warm by then).
            os.environ["EAFO_SYM_CACHE_DIR"] = str(Path(tmp) / "cache")
            row = run_one(base, Path(tmp))
        print(f"{base}: {row['total_wall']:.1f} s wall", file=sys.stderr, flush=True)
        rows.append(row)
    text = ("# eafo-sym design: seconds per base under normal(), cold derivation cache\n\n"
            + table(rows) + "\nCommand: `python benchmarks/bench_design.py"
            + (" --smoke`" if args.smoke else " --force`") + "\n")
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
