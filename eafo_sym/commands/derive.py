"""``eafo-sym derive``: print the paper's derivation for one input law."""

from __future__ import annotations

import argparse

NAME = "derive"
ORDER = 10
HELP = (
    "derive the functional derivative on ReLU's branch, the WAFBC, the Taylor "
    "coefficients along the CRReLU direction and CRReLU itself"
)
EXAMPLE = "eafo-sym derive --latex   |   eafo-sym derive --dist laplace --param b=2"


#: Bounds of the integer options (``--order 20`` takes a few seconds, 50 a minute).
BOUNDS = {"order": (1, 20)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ._common import add_dist_arguments

    add_dist_arguments(p)
    p.add_argument("--latex", action="store_true", help="print formulas as LaTeX")
    p.add_argument(
        "--order",
        type=int,
        default=3,
        help="number of Taylor coefficients, 1 to 20 (default: 3)",
    )


def run(args: argparse.Namespace) -> int:
    import sympy as sp

    from ..symbolic.eafo import derive_correction
    from ..symbolic.wafbc import worst_activation
    from ._common import check_bounds, dist_from_args

    check_bounds(args, BOUNDS)
    dist = dist_from_args(args)
    show = sp.latex if args.latex else sp.sstr
    d = derive_correction("relu", dist, taylor_order=args.order, paper_eps=0.01)
    w = worst_activation(dist, 0, 1)
    lines = [
        f"input law: {dist}",
        "",
        f"functional derivative dH/df on ReLU's branch {d.interval} (x-space):",
        f"  {show(d.dH_df)}",
        "y-space dH/dg at g = f^-1:",
        f"  {show(d.dH_dg) if d.dH_dg is not None else '(no inverse found)'}",
        "  agreement dH/df(x) = -dH/dg(f(x)): "
        + ("verified" if d.coordinates_agree else "NOT verified"),
        "",
        "worst activation with boundary conditions f(-oo)=0, f(oo)=1 (WAFBC):",
        f"  {show(w.expr)}",
        f"  output entropy log(y_b - y_a) = {show(w.entropy)}; second variation <= 0: {w.concave}",
        "",
        f"Taylor coefficients of H[x + eps*h] on {d.interval}, h = {sp.sstr(d.shape)}:",
        *(f"  c_{k} = {show(c)}  ({float(c):.10g})" for k, c in enumerate(d.taylor, 1)),
        "",
        "EAFO step on the branch: f - eta*dH/df =",
        f"  {show(d.step)}",
        "CRReLU (eps learnable):",
        f"  {show(d.expr)}",
        "",
        f"sign: {d.note}",
    ]
    print("\n".join(lines))
    return 0
