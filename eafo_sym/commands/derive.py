"""``eafo-sym derive``: print the EAFO derivation of one base activation for one input law."""

from __future__ import annotations

import argparse

NAME = "derive"
ORDER = 10
HELP = (
    "derive the functional derivative on the base's interval (default ReLU's branch), the "
    "WAFBC, the Taylor coefficients along the correction and the corrected activation"
)
EXAMPLE = (
    "eafo-sym derive --latex   |   eafo-sym derive --dist laplace --param b=2   |   "
    "eafo-sym derive --base softplus"
)


#: Bounds of the integer options (``--order 20`` takes a few seconds, 50 a minute).
BOUNDS = {"order": (1, 20)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ._common import add_dist_arguments

    p.add_argument("--base", default="relu", metavar="NAME_OR_FORMULA",
                   help="base activation: a registry name or a formula in x (default: relu)")
    add_dist_arguments(p)
    p.add_argument("--latex", action="store_true", help="print formulas as LaTeX")
    p.add_argument(
        "--order",
        type=int,
        default=3,
        help="number of Taylor coefficients, 1 to 20 (default: 3)",
    )


def _base(text: str, dist):
    """``(label, what derive_correction takes)``: a registry name stays a name."""
    from .. import catalog
    from ._common import activation_from_text

    if text in catalog.names():
        return text, text
    f = activation_from_text(text, dist)
    return text, f


def run(args: argparse.Namespace) -> int:
    import sympy as sp

    from ..symbolic.eafo import derive_correction
    from ..symbolic.wafbc import worst_activation
    from ._common import check_bounds, dist_from_args

    check_bounds(args, BOUNDS)
    dist = dist_from_args(args)
    show = sp.latex if args.latex else sp.sstr
    label, base = _base(args.base, dist)
    relu = label == "relu"
    d = derive_correction(base, dist, taylor_order=args.order, paper_eps=0.01 if relu else None)
    w = worst_activation(dist, 0, 1)
    where = "ReLU's branch" if relu else f"the interval of {label}"
    taylor = [f"  c_{k} = {show(c)}  ({_value(c)})" for k, c in enumerate(d.taylor, 1)]
    if not taylor:
        taylor = ["  (none: the base turns, and the series in eps is not the entropy's; "
                  f"turning points {', '.join(map(sp.sstr, d.turning_points))})"]
    lines = [
        f"input law: {dist}",
        *([] if relu else [f"base: {sp.sstr(d.base)}"]),
        "",
        f"functional derivative dH/df on {where} {d.interval} (x-space):",
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
        f"Taylor coefficients of H[{'x' if relu else 'f'} + eps*h] on {d.interval}, "
        f"h = {sp.sstr(d.shape)}:",
        *taylor,
        "",
        f"EAFO step on the {'branch' if relu else 'interval'}: f - eta*dH/df =",
        f"  {show(d.step)}",
        "CRReLU (eps learnable):" if relu else "corrected activation (eps learnable):",
        f"  {show(d.expr)}",
        "",
        f"sign: {d.note}",
    ]
    print("\n".join(lines))
    return 0


def _value(c) -> str:
    """The coefficient as a number (an Integral SymPy left unevaluated by quadrature)."""
    import sympy as sp

    if c.has(sp.Integral):
        from ..symbolic.taylor import integral_value

        return f"{integral_value(c):.10g}"
    return f"{float(c):.10g}"
