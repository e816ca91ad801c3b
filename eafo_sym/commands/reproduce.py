"""``eafo-sym reproduce``: re-derive every result of the paper and check each numerically."""

from __future__ import annotations

import argparse

NAME = "reproduce"
ORDER = 5
HELP = (
    "re-derive every result of the paper, check each numerically, regenerate code and "
    "figures, print a PASS/FAIL table (exit 1 if a check fails)"
)
EXAMPLE = "eafo-sym reproduce --out eafo-output"
#: A first run derives everything and builds the fused kernels (minutes); later runs take seconds.
TIMEOUT = 900.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags: --out, --force, --no-figures, --quiet, --only."""
    from ..reproduce.checks import CHECKS

    p.add_argument(
        "--out",
        default="eafo-output",
        metavar="DIR",
        help="output folder for figures/, code/, summary.md and summary.json "
        "(default: ./eafo-output); it must be new, empty or an earlier reproduce's",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that is not an earlier reproduce's, and replace files "
        "changed by hand there (links are replaced, never followed)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr (the table still prints)"
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="KEY",
        help=f"run only these checks (keys: {', '.join(c.key for c in CHECKS)})",
    )


def run(args: argparse.Namespace) -> int:
    """Run the checks; 0 if all pass (or skip), 1 otherwise (OSError for an unusable --out)."""
    import sys

    from ..reproduce import reproduce, select

    report = reproduce(
        args.out,
        figures=not args.no_figures,
        checks=select(args.only),
        progress=None if args.quiet else sys.stderr,
        force=args.force,
    )
    sys.stdout.write(report.text())
    return 0 if report.passed else 1
