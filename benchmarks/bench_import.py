"""Benchmark: what importing the runtime modules costs beyond ``import torch`` (not a test).

``eafo_sym.nn`` and ``eafo_sym.fused`` are what a training script imports: they must read
everything they need (classes, parameter tables) from the generated files, import no SymPy
and derive nothing. Each command below runs in a fresh interpreter, the commands interleaved
in a random order per round; the median wall time over the rounds is kept, and the goal is a
median ``import eafo_sym.fused`` under 0.5 s beyond the median ``import torch``.

Writes ``benchmarks/results/import_bench.md``. Run::

    python benchmarks/bench_import.py              # 15 rounds (--force: replace the table)
    python benchmarks/bench_import.py --smoke --out /tmp/b
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent

#: Name -> code run by ``python -c``; the last two report the modules they loaded.
COMMANDS = {
    "import torch": "import torch",
    "import eafo_sym.nn": "import eafo_sym.nn",
    "import eafo_sym.fused": "import eafo_sym.fused",
}
GOAL_S = 0.5
_PROBE = (
    "import sys, eafo_sym.fused; "
    "print(sorted({m.split('.')[0] for m in sys.modules} & {'sympy', 'scipy'}), "
    "sorted(m for m in sys.modules if m.startswith('eafo_sym')))"
)


def wall(code: str) -> float:
    """Seconds for a fresh interpreter to run ``code``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - start


def measure(rounds: int, seed: int = 0) -> dict[str, list[float]]:
    """Wall times per command, interleaved in a random order each round."""
    rng = random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        order = list(COMMANDS)
        rng.shuffle(order)
        for name in order:
            times[name].append(wall(COMMANDS[name]))
    return times


def report(times: dict[str, list[float]], loaded: str) -> str:
    """The Markdown table: median, beyond torch and ratio to torch, per command."""
    base = statistics.median(times["import torch"])
    lines = [
        "# Import cost of the runtime modules",
        "",
        f"Fresh interpreter per run; rounds: {len(times['import torch'])}, interleaved at random; "
        "median wall time.",
        "",
        "| command | median (s) | beyond import torch (s) | ratio to import torch |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, ts in times.items():
        m = statistics.median(ts)
        lines.append(f"| `{name}` | {m:.3f} | {m - base:+.3f} | {m / base:.2f}x |")
    extra = statistics.median(times["import eafo_sym.fused"]) - base
    verdict = "met" if extra < GOAL_S else "NOT met"
    lines += [
        "",
        f"Goal: `import eafo_sym.fused` under {GOAL_S} s beyond `import torch`: {verdict} "
        f"({extra:+.3f} s).",
        "",
        f"Loaded by `import eafo_sym.fused` (SymPy/SciPy; eafo_sym modules): {loaded}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15, help="runs of each command (default 15)")
    p.add_argument("--smoke", action="store_true", help="one round: checks that the script runs")
    p.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite an existing table")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    table = args.out / "import_bench.md"
    if table.exists() and not args.force:
        p.error(f"{table} exists; pass --force to overwrite it")
    rounds = 1 if args.smoke else args.rounds
    loaded = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    md = report(measure(rounds), loaded)
    args.out.mkdir(parents=True, exist_ok=True)
    table.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
