"""Benchmark: a small ViT's training step with CRReLU against the same model with GELU (not a test).

The activation of every MLP block is ``torch.nn.GELU`` or CRReLU; everything else is the same
model with the same weights and data. Measured side by side in one run, the variants
alternating step by step in a random order; a ratio is the median over rounds of the
ratio within a round (the steps compared saw the same machine load):

- ``torch.compile``: ``eafo_sym.nn.CRReLU`` compiled against ``torch.nn.GELU`` compiled;
- eager: ``eafo_sym.fused.CRReLU`` against ``torch.nn.GELU`` (SKIP with the reason where the
  fused kernels do not build), and ``eafo_sym.nn.CRReLU`` for reference;
- peak memory of one eager training step (CPU allocations, torch.profiler's memory events;
  ``torch.cuda.max_memory_allocated`` on CUDA), each against GELU's.

Goals: compiled step at most 1.05x GELU's, eager fused at most 1.05x, peak memory at most
1.02x. Writes ``training_bench.md`` and ``training_bench.json``. Run::

    python benchmarks/bench_training.py                  # (--force: replace the tables)
    python benchmarks/bench_training.py --smoke --out /tmp/b
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch

from eafo_sym import fused
from eafo_sym import nn as gen

RESULTS = Path(__file__).resolve().parent / "results"
GOALS = {"compiled": 1.05, "eager fused": 1.05, "peak memory": 1.02}


class Block(torch.nn.Module):
    """Pre-norm transformer block; ``act`` is the MLP's activation."""

    def __init__(self, dim: int, heads: int, act: type) -> None:
        super().__init__()
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)
        self.attn = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(dim, 4 * dim), act(), torch.nn.Linear(4 * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViT(torch.nn.Module):
    """A small vision transformer: patch embedding, blocks, mean pooling, linear head."""

    def __init__(self, act: type, image=32, patch=4, dim=192, depth=4, heads=3, classes=10):
        super().__init__()
        self.embed = torch.nn.Conv2d(3, dim, patch, stride=patch)
        self.pos = torch.nn.Parameter(torch.zeros(1, (image // patch) ** 2, dim))
        self.blocks = torch.nn.Sequential(*[Block(dim, heads, act) for _ in range(depth)])
        self.head = torch.nn.Sequential(torch.nn.LayerNorm(dim), torch.nn.Linear(dim, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.blocks(x).mean(1))


def _step(model, opt, images, labels):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    opt.step()


def _models(size: dict, device: str) -> dict:
    """Same initial weights for every variant: GELU's model's state_dict is loaded into each."""
    torch.manual_seed(0)
    ref = ViT(torch.nn.GELU, **size).to(device)
    variants = {"gelu": torch.nn.GELU, "crrelu (nn)": gen.CRReLU, "crrelu (fused)": fused.CRReLU}
    out = {}
    for name, act in variants.items():
        m = ViT(act, **size).to(device)
        m.load_state_dict(ref.state_dict(), strict=False)  # CRReLU's epsilon keeps its default
        out[name] = m
    return out


def _peak_bytes(fn, device: str) -> int:
    """Peak bytes allocated while ``fn`` runs, relative to its start."""
    if device == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]"
    )
    peak = level = 0
    for _, nbytes in events:
        level += nbytes
        peak = max(peak, level)
    return peak


def _time(steps: dict, rounds: int, repeats: int, device: str) -> dict[str, list[float]]:
    """Per round, the best of ``repeats`` steps of each variant; the variants alternate step
    by step in a random order, so that the steps compared see the same machine load."""
    seen: dict[str, list[float]] = {k: [] for k in steps}
    rng = random.Random(0)
    for _ in range(rounds):
        best = dict.fromkeys(steps, float("inf"))
        for _ in range(repeats):
            order = list(steps)
            rng.shuffle(order)
            for k in order:
                if device == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                steps[k]()
                if device == "cuda":
                    torch.cuda.synchronize()
                best[k] = min(best[k], time.perf_counter() - t)
        for k, v in best.items():
            seen[k].append(v)
    return seen


def _ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over rounds of the ratio a/b measured in the same round."""
    return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a tiny model, one round: checks it runs")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite existing tables")
    a = p.parse_args(argv)
    if a.rounds < 1 or a.repeats < 1 or a.batch < 1:
        p.error("--rounds, --repeats and --batch must be at least 1")
    table = a.out / "training_bench.md"
    if table.exists() and not a.force:
        p.error(f"{table} exists; pass --force to overwrite it")
    size = dict(image=16, patch=4, dim=32, depth=1, heads=2) if a.smoke else {}
    rounds, repeats, batch = (1, 1, 4) if a.smoke else (a.rounds, a.repeats, a.batch)
    torch.set_num_threads(min(torch.get_num_threads(), 16))

    models = _models(size, a.device)
    torch.manual_seed(1)
    image = size.get("image", 32)
    images = torch.randn(batch, 3, image, image, device=a.device)
    labels = torch.randint(0, 10, (batch,), device=a.device)
    fused_ok = a.device == "cpu" and fused.available()
    fused_note = "" if fused_ok else (
        "the fused kernels are CPU-only" if a.device != "cpu" else "the fused kernels do not build"
    )

    def step_of(model):
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        return lambda: _step(model, opt, images, labels)

    eager = {k: step_of(m) for k, m in models.items() if fused_ok or k != "crrelu (fused)"}
    compiled = {
        f"{k} compiled": step_of(torch.compile(models[k])) for k in ("gelu", "crrelu (nn)")
    }
    for s in [*eager.values(), *compiled.values()]:
        s()  # warm-up: compilation, the fused build, allocator
        s()
    rounds_s = _time({**eager, **compiled}, rounds, repeats, a.device)
    times = {k: statistics.median(v) for k, v in rounds_s.items()}
    peaks = {k: _peak_bytes(s, a.device) for k, s in eager.items()}

    ratios = {"compiled": _ratio(rounds_s, "crrelu (nn) compiled", "gelu compiled"),
              "eager nn": _ratio(rounds_s, "crrelu (nn)", "gelu"),
              "peak memory (nn)": peaks["crrelu (nn)"] / peaks["gelu"]}
    if fused_ok:
        ratios["eager fused"] = _ratio(rounds_s, "crrelu (fused)", "gelu")
        ratios["peak memory"] = peaks["crrelu (fused)"] / peaks["gelu"]
    else:
        ratios["peak memory"] = ratios["peak memory (nn)"]
    command = "python benchmarks/bench_training.py" + (" --smoke" if a.smoke else "")
    md = [
        "# A small ViT's training step: CRReLU against GELU",
        "",
        f"`{command}` on {a.device}, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, batch {batch}, model {size or 'default (32x32, patch 4, dim 192, depth 4)'}; "
        f"per round the best of {repeats} steps, the variants alternating step by step; "
        f"times: median over {rounds} rounds; ratios: median of the ratios within a round.",
        "",
        "| variant | step (ms) | peak memory (MiB) |",
        "|---|---|---|",
    ]
    for k in times:
        peak = f"{peaks[k] / 2**20:.1f}" if k in peaks else "-"
        md.append(f"| {k} | {times[k] * 1e3:.2f} | {peak} |")
    md += ["", "| ratio (CRReLU / GELU) | measured | goal |", "|---|---|---|"]
    for k, v in ratios.items():
        goal = GOALS.get(k)
        md.append(f"| {k} | {v:.3f}x | {f'<= {goal}x' if goal else '-'} |")
    if not fused_ok:
        md += ["", f"eager fused: SKIP ({fused_note})"]
    a.out.mkdir(parents=True, exist_ok=True)
    table.write_text("\n".join(md) + "\n")
    data = {"times_s": times, "rounds_s": rounds_s, "peak_bytes": peaks, "ratios": ratios,
            "goals": GOALS, "device": a.device, "fused": fused_ok or fused_note,
            "command": command}
    (a.out / "training_bench.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
