"""``eafo-sym design``: an EAFO design for any base and law, to a notebook and modules."""

from __future__ import annotations

import argparse
import sys

NAME = "design"
ORDER = 12
HELP = (
    "derive, check and write the EAFO correction of any base activation under any input "
    "law: an executed derivation notebook, module files and design.md/design.json"
)
EXAMPLE = "eafo-sym design --base 'x*tanh(log(1+exp(x)))' --dist student_t --param nu=5 --out d"

#: Bounds of the integer options.
BOUNDS = {"steps": (1, 5)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..codegen.backends import BACKENDS
    from ._common import add_dist_arguments

    p.add_argument("--base", required=True, metavar="NAME_OR_FORMULA",
                   help="a registry name (relu, silu, ...) or a formula in x")
    add_dist_arguments(p)
    p.add_argument("--metric", choices=["x", "y", "auto"], default="auto",
                   help="coordinate of the step (default auto: y where the base inverts)")
    p.add_argument("--steps", type=int, default=1, help="iterated EAFO steps, 1 to 5")
    p.add_argument("--out", default="design", help="output folder (default: ./design)")
    p.add_argument("--backend", action="append", choices=sorted(BACKENDS),
                   help="module file(s) to write, repeatable (default: torch and numpy)")
    p.add_argument("--force", action="store_true", help="replace files that are not ours")


def run(args: argparse.Namespace) -> int:
    from ..design import design
    from ..design.files import write_design
    from ._common import check_bounds, dist_from_args

    check_bounds(args, BOUNDS)
    law = dist_from_args(args)

    def progress(msg: str) -> None:
        print(f"[design] {msg}", file=sys.stderr, flush=True)

    progress(f"deriving the correction of {args.base} under {law}")
    d = design(args.base, law, metric=args.metric, steps=args.steps)
    failed = [c.name for c in d.checks if not c.passed]
    progress(f"{len(d.checks)} checks, {len(failed)} failed")
    files = write_design(d, args.out, backends=args.backend or ["torch", "numpy"],
                         force=args.force, base_text=args.base, progress=progress)
    print(f"shape: {d.shape}")
    print(f"sign: {d.correction.note}")
    print(f"wrote {', '.join(files)} into {args.out}")
    if failed:
        print(f"checks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
