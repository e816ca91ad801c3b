"""``eafo-sym rank``: rank activations by an output-entropy criterion."""

from __future__ import annotations

import argparse
import sys

NAME = "rank"
HELP = "rank activations by output entropy (standardised, negentropy or the paper's raw entropy)"
EXAMPLE = "eafo-sym rank --dist laplace --criterion negentropy --activation relu gelu tanh"
ORDER = 40
#: Bounds of the integer options.
BOUNDS = {"digits": (0, 15)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags: --dist/--param, --criterion, --activation, --digits."""
    from ..numeric.ranking import CRITERIA
    from ._common import add_dist_arguments

    add_dist_arguments(p)
    p.add_argument(
        "--criterion",
        choices=CRITERIA,
        default="standardized",
        help="standardized: h(Y) - log std(Y) (scale invariant, default); negentropy: "
        "h(Gaussian, same variance) - h(Y); entropy: the paper's h(Y)",
    )
    p.add_argument(
        "--activation",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="registry names or formulas in x (default: the paper's baselines and CRReLU)",
    )
    p.add_argument(
        "--digits",
        type=int,
        default=4,
        help="decimals in the table, 0 to 15 (default 4)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the ranking table; atoms (ReLU) are ranked by the mixed-measure rule."""
    from ..numeric.ranking import format_table, rank_activations
    from ._common import activation_from_text, check_bounds, dist_from_args

    check_bounds(args, BOUNDS)
    dist = dist_from_args(args)
    names = None
    if args.activation:
        from .. import catalog

        known = catalog.names()
        names = [a if a in known else activation_from_text(a, dist) for a in args.activation]
    rows = rank_activations(names, {args.dist: dist}, criterion=args.criterion)
    sys.stdout.write(format_table(rows, args.digits) + "\n")
    sys.stdout.write(
        f"criterion: {args.criterion} ({'higher' if args.criterion == 'negentropy' else 'lower'} "
        "is better by the paper's premise); an atom gives -inf entropy and ranks first, ties "
        "broken by the mixed-measure entropy (column mixed_std)\n"
    )
    return 0
