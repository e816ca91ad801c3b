"""``eafo-sym experiment``: CRReLU against GELU, ReLU and ReLU's corrections on CPU.

Trains an MLP and a tiny vision transformer on scikit-learn's 8x8 digits with
every requested activation (the modules :mod:`eafo_sym.nn` generates from the
SymPy closed forms) and several seeds, and writes ``rows.jsonl``,
``summary.md``, ``accuracy.png``, ``split.json`` and ``meta.json`` under
``--out`` (the run loop is :mod:`eafo_sym.experiment.run`). torch is imported
only inside :func:`run`.
"""

from __future__ import annotations

import argparse

NAME = "experiment"
HELP = "train small models on the digits with each activation and several seeds (needs torch)"
EXAMPLE = "eafo-sym experiment --models mlp,vit --activations crrelu,gelu,relu --seeds 5"
ORDER = 90
#: Training takes as long as the plan says: no wall-time or memory budget unless asked for.
TIMEOUT = None
MEMORY = None
#: Bounds of the integer options (torch cannot start 100000 threads; seeds feed 32-bit RNGs).
BOUNDS = {
    "seeds": (1, 1000),
    "epochs": (1, 100_000),
    "threads": (1, 256),
    "split_seed": (0, 2**32 - 1),
}


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return list(dict.fromkeys(items))  # drop repeats, keep order


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``eafo-sym experiment``."""
    p.add_argument(
        "--models",
        type=_csv,
        default=None,
        metavar="M,M",
        help="models among mlp, vit, timm_vit (timm_vit needs timm) (default: mlp,vit)",
    )
    p.add_argument(
        "--activations",
        type=_csv,
        default=None,
        metavar="A,A",
        help="names in eafo_sym.nn.ACTIVATIONS, or 'default' / 'all' "
        "(default: crrelu,gelu,relu,elu,celu,prelu,leaky_relu,silu and every other "
        "derived activation; with --smoke: crrelu,gelu)",
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
    p.add_argument("--out", default=None, help="output folder (default: results/digits)")
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
        "--smoke", action="store_true", help="one tiny configuration in seconds (for tests)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch CPU threads, 1 to 256 (default 2)",
    )
    p.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the data split, 0 to 2**32-1 (default 0)",
    )
    p.add_argument("--baseline", default="gelu", help="activation for the paired comparison")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rewrite summary.md and accuracy.png from --out's rows.jsonl",
    )


def run(args: argparse.Namespace) -> int:
    """Train every (model, activation, seed) cell and write the results."""
    from ..experiment import run as experiment
    from ._common import check_bounds

    check_bounds(args, BOUNDS)
    if args.report_only:
        out = experiment.output_folder(args.out, smoke=args.smoke, device=args.device)
        print(experiment.rewrite_report(out, baseline=args.baseline))
        return 0
    plan = experiment.plan(
        models=args.models,
        activations=args.activations,
        seeds=args.seeds,
        epochs=args.epochs,
        out=args.out,
        device=args.device,
        smoke=args.smoke,
        threads=args.threads,
        split_seed=args.split_seed,
        baseline=args.baseline,
        force=args.force,
    )
    result = experiment.run_experiment(plan, progress=not args.no_progress)
    print(result.summary)
    print(
        f"{len(result.rows)} runs in {result.seconds:.1f} s; "
        f"wrote {result.folder}/rows.jsonl, summary.md, accuracy.png"
    )
    return 0
