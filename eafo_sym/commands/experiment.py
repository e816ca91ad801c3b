"""``eafo-sym experiment``: the CPU study of CRReLU, the ``eafo_*`` family and their baselines.

Trains an MLP, a tiny ViT and a small ConvNeXt (and timm's ViT where timm
imports) on scikit-learn's digits and on MNIST-1D with every activation and
several seeds, ablates CRReLU's eps, measures each layer's output entropy and
its pre-activations' distance from normal, and times every backend; writes
``rows.jsonl``, ``summary.md``, the plots, ``data.json`` and ``meta.json``
under ``--out`` (the study is :mod:`eafo_sym.experiment`). torch is imported
only inside :func:`run`.
"""

from __future__ import annotations

import argparse

NAME = "experiment"
HELP = "the CPU study: models x data sets x activations x seeds, ablations, entropy, cost"
EXAMPLE = "eafo-sym experiment --only main --data mnist1d --models mlp --seeds 5 --jobs 2"
ORDER = 90
#: Training takes as long as the plan says: no wall-time or memory budget unless asked for.
TIMEOUT = None
MEMORY = None
#: Bounds of the integer options (torch cannot start 100000 threads; seeds feed 32-bit RNGs).
BOUNDS = {
    "seeds": (1, 1000),
    "epochs": (1, 100_000),
    "threads": (1, 256),
    "jobs": (1, 256),
    "split_seed": (0, 2**32 - 1),
}


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return list(dict.fromkeys(items))  # drop repeats, keep order


def _specs(text: str) -> list[str]:
    """Comma-separated activation specs; commas inside a spec's brackets stay in it."""
    items, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items = [i.strip() for i in [*items, cur] if i.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return list(dict.fromkeys(items))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``eafo-sym experiment``."""
    p.add_argument(
        "--only",
        type=_csv,
        default=None,
        metavar="PART,PART",
        help="parts of the study among main, ablations, cost (default: all three)",
    )
    p.add_argument(
        "--data",
        type=_csv,
        default=None,
        metavar="D,D",
        help="data sets among digits, mnist1d (default: both)",
    )
    p.add_argument(
        "--models",
        type=_csv,
        default=None,
        metavar="M,M",
        help="models among mlp, vit, convnext, timm_vit (default: all, timm_vit where "
        "timm imports)",
    )
    p.add_argument(
        "--activations",
        type=_specs,
        default=None,
        metavar="A,A",
        help="names in eafo_sym.nn.ACTIVATIONS (options as in crrelu[eps=-0.1,frozen]), or "
        "'default' / 'all' (default: the paper's baselines, crrelu, every eafo_* and the "
        "dynamic modules; with --smoke: gelu,crrelu)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds 0..N-1 per cell, N from 1 to 1000 (default 5; --smoke: 2)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="override the profile's epochs (1 to 100000)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default: a new results/runs/study-<UTC time>)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the finished rows of --out and run only the missing cells",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite the results of an earlier run in the output folder",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cpu (the committed configuration) or cuda (wider models, more epochs)",
    )
    p.add_argument(
        "--smoke", action="store_true", help="a tiny configuration in seconds (for tests)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="cells run in parallel worker processes, 1 to 256 (default 1)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per job, 1 to 256 (default: the cores divided among the jobs)",
    )
    p.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the data splits, 0 to 2**32-1 (default 0)",
    )
    p.add_argument("--baseline", default="gelu", help="activation for the paired comparison")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rewrite summary.md and the plots from --out's rows.jsonl",
    )


def run(args: argparse.Namespace) -> int:
    """Run the study's cells and write the results."""
    from ..experiment import run as experiment
    from ._common import check_bounds

    check_bounds(args, BOUNDS)
    if args.report_only:
        if args.out is None:
            raise ValueError("--report-only needs --out: the folder whose rows to report")
        print(experiment.rewrite_report(args.out, baseline=args.baseline))
        return 0
    plan = experiment.plan(
        data=args.data,
        models=args.models,
        activations=args.activations,
        only=args.only,
        seeds=args.seeds,
        epochs=args.epochs,
        out=args.out,
        device=args.device,
        smoke=args.smoke,
        jobs=args.jobs,
        threads=args.threads,
        split_seed=args.split_seed,
        baseline=args.baseline,
        resume=args.resume,
        force=args.force,
    )
    result = experiment.run_experiment(plan, progress=not args.no_progress)
    print(result.summary)
    print(
        f"{result.ran} cells in {result.seconds:.1f} s ({len(result.rows)} rows in all); "
        f"wrote {result.folder}/rows.jsonl, summary.md and the plots"
    )
    if result.failures:
        raise ValueError(
            f"{len(result.failures)} cells failed (first: {result.failures[0]}); "
            f"rerun with --resume --out {result.folder} to retry them"
        )
    return 0
