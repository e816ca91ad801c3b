"""``eafo-sym entropy``: the differential entropy of an activation's output."""

from __future__ import annotations

import argparse

NAME = "entropy"
ORDER = 20
HELP = "print the differential entropy h(f(X)) of an activation's output"
EXAMPLE = (
    "eafo-sym entropy --activation gelu --dist student_t --param nu=5\n"
    "  eafo-sym entropy --activation 'x*sigmoid(x)' --dist laplace --param b=2"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ._common import add_dist_arguments

    p.add_argument(
        "--activation",
        required=True,
        metavar="NAME_OR_FORMULA",
        help="a registered name (relu, gelu, crrelu, ...) or a formula in x, e.g. 'x*tanh(x)'",
    )
    add_dist_arguments(p)
    p.add_argument(
        "--method",
        choices=["numeric", "symbolic"],
        default="numeric",
        help="quadrature (default) or a SymPy closed form (injective activations only)",
    )


def run(args: argparse.Namespace) -> int:
    import math
    import warnings

    import sympy as sp

    from ..numeric.entropy import EntropyIntegrationWarning, output_entropy, output_law
    from ..symbolic.symbols import x
    from ._common import activation_from_text, dist_from_args

    dist = dist_from_args(args)
    f = activation_from_text(args.activation, dist)
    with warnings.catch_warnings():
        # Floating-point warnings of the integrands are folded into the quadrature's
        # error estimate; an inaccurate quadrature warns (one line, through the CLI).
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("always", EntropyIntegrationWarning)
        if args.method == "symbolic":
            value = output_entropy(f, dist, method="symbolic")
            print(f"h(f(X)) = {sp.sstr(value)} = {float(value):.12g}")
        else:
            law = output_law(f, dist) if f.has(x) else None
            value = law.entropy if law is not None else output_entropy(f, dist)
            print(f"h(f(X)) = {value:.12g}" if math.isfinite(value) else f"h(f(X)) = {value}")
            if law is not None and law.atoms:
                atoms = ", ".join(f"{m:.6g} at {v:g}" for v, m in law.atoms)
                print(f"atoms: {atoms}; continuous part: mass {law.continuous_mass:.6g}, "
                      f"entropy {law.continuous_entropy:.12g}")
    print(f"activation: {sp.sstr(f)}; input: {dist}")
    return 0
