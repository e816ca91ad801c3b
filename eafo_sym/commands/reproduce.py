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


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags: --out, --no-figures, --quiet, --only."""
    p.add_argument(
        "--out",
        default="eafo-output",
        metavar="DIR",
        help="output folder for figures/, code/, summary.md and summary.json "
        "(default: ./eafo-output)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr (the table still prints)"
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="KEY",
        help="run only these checks (keys: wafbc_normal, wafbc_logistic, wafbc_laplace, "
        "coordinates, relu_branch, taylor, crrelu, eps_sign, codegen)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the checks; 0 if all pass, 1 otherwise (OSError for an unwritable --out)."""
    import sys

    from ..reproduce import CHECKS, prepare_out, reproduce

    checks = CHECKS
    if args.only:
        known = {c.key: c for c in CHECKS}
        unknown = [k for k in args.only if k not in known]
        if unknown:
            raise ValueError(
                f"unknown check(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        checks = tuple(known[k] for k in known if k in set(args.only))
    prepare_out(args.out)  # fail (exit 2) before minutes of work, not after
    report = reproduce(
        args.out,
        figures=not args.no_figures,
        checks=checks,
        progress=None if args.quiet else sys.stderr,
    )
    n_pass = sum(r.passed for r in report.results)
    sys.stdout.write(report.table() + "\n\n")
    for r in report.results:
        if r.note:
            sys.stdout.write(f"note ({r.key}): {r.note}\n")
    sys.stdout.write(
        f"{n_pass}/{len(report.results)} checks pass in {report.seconds:.1f} s; "
        f"wrote {report.out}/summary.md, summary.json"
        + (", figures/" if not args.no_figures else "")
        + (", code/" if any(f.startswith("code/") for f in report.files) else "")
        + "\n"
    )
    return 0 if report.passed else 1
