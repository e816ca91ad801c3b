"""``python -m eafo_sym.fused --build``: build the fused kernels ahead of time.

Prints where the library is (after the build's start and end lines, if it had to be built)
and exits 0; where the kernels cannot be built, prints the cause in one line on stderr and
exits 1. ``--where`` prints the build directory of this environment without building.
"""

from __future__ import annotations

import argparse
import sys

from . import BuildError, load
from .build import build_directory


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    ap = argparse.ArgumentParser(
        prog="python -m eafo_sym.fused", description="Build or locate the fused CPU kernels."
    )
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--build", action="store_true", help="build (if needed) and load them")
    what.add_argument(
        "--where", action="store_true", help="print this environment's build directory"
    )
    ap.add_argument("--verbose", action="store_true", help="show the compiler's output")
    args = ap.parse_args(argv)
    if args.where:
        print(build_directory())
        return 0
    try:
        load(verbose=args.verbose)
    except BuildError as err:
        print(f"eafo_sym.fused: {err}", file=sys.stderr)
        return 1
    print(f"eafo_sym.fused: the kernels are ready in {build_directory()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
