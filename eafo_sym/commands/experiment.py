"""``eafo-sym experiment``: CRReLU against GELU, ReLU and ReLU's corrections on CPU.

Trains an MLP and a tiny vision transformer on scikit-learn's 8x8 digits with
every requested activation (the modules :mod:`eafo_sym.nn` generates from the
SymPy closed forms) and several seeds, and writes ``rows.jsonl``,
``summary.md``, ``accuracy.png``, ``split.json`` and ``meta.json`` under
``--out``. torch is imported only inside :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

NAME = "experiment"
HELP = "train small models on the digits with each activation and several seeds (needs torch)"
EXAMPLE = "eafo-sym experiment --models mlp,vit --activations crrelu,gelu,relu --seeds 5"
ORDER = 90

_PROFILE_OUT = {
    "cpu": "results/digits",
    "cuda": "results/digits_cuda",
    "smoke": "results/digits_smoke",
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
        "--seeds", type=int, default=None, help="seeds 0..N-1 per cell (default 5; --smoke: 2)"
    )
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--out", default=None, help="output folder (default: results/digits)")
    p.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cpu (the committed configuration) or cuda (wider models, more epochs)",
    )
    p.add_argument(
        "--smoke", action="store_true", help="one tiny configuration in seconds (for tests)"
    )
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the data split (default 0)")
    p.add_argument("--baseline", default="gelu", help="activation for the paired comparison")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rewrite summary.md and accuracy.png from --out's rows.jsonl",
    )


def _report_only(args: argparse.Namespace) -> int:
    from ..experiment import report

    out = Path(args.out or _PROFILE_OUT["smoke" if args.smoke else args.device])
    rows = report.read_rows(out / "rows.jsonl")  # OSError if missing: exit 2
    if not rows:
        raise ValueError(f"{out / 'rows.jsonl'} holds no rows")
    profile = rows[0].get("profile", "cpu")
    title = "Digits" if profile == "cpu" else f"Digits ({profile} profile)"
    text = report.summary_markdown(rows, baseline=args.baseline, title=title)
    (out / "summary.md").write_text(text, encoding="utf-8")
    report.plot(rows, out / "accuracy.png", baseline=args.baseline)
    print(text)
    return 0


def _resolve(args: argparse.Namespace) -> tuple[list[str], list[str], int, str]:
    from ..experiment import models

    profile = "smoke" if args.smoke else args.device
    seeds = args.seeds if args.seeds is not None else (2 if args.smoke else 5)
    if seeds <= 0:
        raise ValueError(f"--seeds must be positive, got {seeds}")
    model_names = args.models or ["mlp", "vit"]
    for m in model_names:
        if m not in models.MODELS:
            raise ValueError(f"unknown model {m!r}; known: {', '.join(models.MODELS)}")
    acts = args.activations or (["crrelu", "gelu"] if args.smoke else ["default"])
    if acts == ["default"]:
        acts = models.default_activations()
    elif acts == ["all"]:
        acts = models.available_activations()
    for a in acts:
        models.act_layer(a)  # ValueError naming the known ones
    if args.baseline not in acts:
        raise ValueError(
            f"--baseline {args.baseline!r} is not among the activations ({', '.join(acts)}); "
            "the paired comparison needs it"
        )
    return model_names, acts, seeds, profile


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _command_line(args: argparse.Namespace, models: list[str], acts: list[str], seeds: int) -> str:
    """The fully spelled-out command that reproduces a run (written to meta.json)."""
    parts = ["eafo-sym", NAME, "--models", ",".join(models), "--activations", ",".join(acts)]
    parts += ["--seeds", str(seeds), "--device", args.device, "--threads", str(args.threads)]
    parts += ["--split-seed", str(args.split_seed)]
    if args.smoke:
        parts.append("--smoke")
    if args.epochs is not None:
        parts += ["--epochs", str(args.epochs)]
    if args.out:
        parts += ["--out", str(args.out)]
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Train every (model, activation, seed) cell and write the results."""
    if args.report_only:
        return _report_only(args)
    if args.threads <= 0:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    if args.epochs is not None and args.epochs <= 0:
        raise ValueError(f"--epochs must be positive, got {args.epochs}")
    if args.seeds is not None and args.seeds <= 0:
        raise ValueError(f"--seeds must be positive, got {args.seeds}")
    # OpenMP threads that busy-wait make small models 10-50x slower on a shared
    # CPU (measured here: 680 ms instead of 30 ms a step). Only effective if
    # torch is not loaded yet, hence before the import.
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        raise ValueError(
            "eafo-sym experiment needs torch: pip install 'eafo_sym[experiment]'"
        ) from None
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but torch sees no CUDA device")

    from dataclasses import replace

    from tqdm.auto import tqdm

    from .. import nn as generated_nn
    from ..experiment import data, models, report, train

    model_names, acts, seeds, profile = _resolve(args)
    if "timm_vit" in model_names:
        models.build("timm_vit", acts[0])  # fail now, not after an hour of other models
    out = Path(args.out or _PROFILE_OUT[profile])
    out.mkdir(parents=True, exist_ok=True)

    configs = {}
    for m in model_names:
        cfg = train.CONFIGS[profile][m]
        if args.epochs is not None:
            cfg = replace(
                cfg, epochs=args.epochs, warmup_epochs=min(cfg.warmup_epochs, args.epochs)
            )
        configs[m] = cfg

    digits = data.load(split_seed=args.split_seed)
    (out / "split.json").write_text(
        json.dumps(
            {
                "split_seed": args.split_seed,
                "pixel_mean": digits.mean,
                "pixel_std": digits.std,
                **{k: v.tolist() for k, v in digits.splits.items()},
            }
        )
        + "\n",
        encoding="utf-8",
    )

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    cells = [(m, a, s) for m in model_names for a in acts for s in range(seeds)]
    rows = []
    t0 = time.perf_counter()
    try:
        with (
            open(out / "rows.jsonl", "w", encoding="utf-8") as fh,
            tqdm(
                cells, desc="experiment", unit="run", file=sys.stderr, disable=args.no_progress
            ) as bar,
        ):
            for m, a, s in bar:
                bar.set_postfix_str(f"{m} {a} seed {s}")
                row = train.train_one(digits, m, a, s, configs[m], device=args.device)
                row["profile"] = profile
                rows.append(row)
                fh.write(json.dumps(row) + "\n")
                fh.flush()  # a cut-off run still leaves its finished rows
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)
    wall = time.perf_counter() - t0

    title = "Digits" if profile == "cpu" else f"Digits ({profile} profile)"
    (out / "summary.md").write_text(
        report.summary_markdown(rows, baseline=args.baseline, title=title), encoding="utf-8"
    )
    report.plot(rows, out / "accuracy.png", baseline=args.baseline)
    meta = {
        "command": _command_line(args, model_names, acts, seeds),
        "profile": profile,
        "models": model_names,
        "activations": acts,
        "seeds": seeds,
        "configs": {m: c.__dict__ for m, c in configs.items()},
        "wall_seconds": round(wall, 1),
        "threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch_version": torch.__version__,
        # Which generated activation code produced these numbers (nn.py is regenerated
        # by eafo-sym codegen; a rounding-level change there shifts losses in late digits).
        "nn_py_sha256": _sha256(Path(generated_nn.__file__)),
        "python": platform.python_version(),
        "selection": "final epoch (no early stopping or model selection)",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(report.summary_markdown(rows, baseline=args.baseline, title=title))
    print(f"{len(rows)} runs in {wall:.1f} s; wrote {out}/rows.jsonl, summary.md, accuracy.png")
    return 0
