"""The derivation notebook of a design, built with nbformat and executed with nbclient.

The notebook re-runs :func:`eafo_sym.design.design` for its base and law,
shows the formulas, asserts the checks and recomputes ``-(p/f')'`` itself
from SciPy's density, and plots the corrected activation, its derivative and
the output densities for several ``eps``.
"""

from __future__ import annotations

from typing import Any

from .core import Design

__all__ = ["design_notebook", "execute", "law_source"]


def law_source(law: Any) -> str:
    """Python source that rebuilds ``law`` (``from_name`` with exact parameters)."""
    args = ", ".join(f"{k}=sp.Rational({str(v)!r})" for k, v in law.params.items())
    return f"from_name({law.name!r}{', ' if args else ''}{args})"


def design_notebook(d: Design, base_text: str) -> Any:
    """The notebook (an ``nbformat`` v4 node) for ``d``; ``base_text`` is how it names the base."""
    import nbformat.v4 as v4

    if d.law.components:
        raise ValueError("the design notebook rebuilds its law by name: mixtures are not supported")
    law = law_source(d.law)
    md, code = v4.new_markdown_cell, v4.new_code_cell
    cells = [
        md(f"# EAFO design: `{d.label}` under `{d.law}`\n\n"
           "One EAFO step (docs/mathematics.md §6) on this base activation under this input "
           "law: the functional derivative of the output entropy, the correction shape and "
           "its sign, the Taylor coefficients of the entropy along it, each closed form "
           "checked against an independent number, and plots."),
        code("import numpy as np\nimport sympy as sp\nimport matplotlib\nmatplotlib.use('Agg')\n"
             "import matplotlib.pyplot as plt\nfrom eafo_sym.design import design\n"
             "from eafo_sym.laws import from_name\nfrom eafo_sym.numeric.evaluate import numeric\n"
             f"from eafo_sym import x, eps\n\nlaw = {law}\n"
             f"d = design({base_text!r}, law)\nc = d.correction\nprint(d.base, '|', law)"),
        md("## Pieces, branches and the functional derivative\n\nFlat pieces carry no "
           "gradient; a turning point splits a piece into monotone branches, and the "
           "correction is then taken in the metric weighted by f'^2."),
        code("for p in d.pieces:\n    print((p.a, p.b), p.expr, 'flat' if p.flat else p.branches)\n"
             "print('turning points:', c.turning_points)\nc.dH_df"),
        md("The correction: weight * dH/df = c * shape, with c > 0."),
        code("assert c.coefficient.is_positive\nc.coefficient, c.weight, d.shape"),
        md("### Independent check: -(p/f')' from SciPy's density\n\n"
           "A central difference of p/f' at points inside each non-flat piece."),
        code("pdf, fp = law.scipy.pdf, numeric(sp.diff(d.base, x))\n"
             "closed = numeric(c.coefficient * d.shape / c.weight)\n"
             "worst = 0.0\nfor ch in d.checks:\n    if ch.name.startswith('gradient at x = '):\n"
             "        t = float(ch.name.split('= ')[1]); h = 1e-5 * max(1, abs(t))\n"
             "        ref = -(pdf(t + h) / fp(t + h) - pdf(t - h) / fp(t - h)) / (2 * h)\n"
             "        worst = max(worst, abs(float(closed(t)) - ref) / max(abs(ref), 1e-12))\n"
             "assert worst < 1e-4, worst\nprint('gradient checks agree')"),
        md("## The sign of eps that lowers the entropy\n\nThe complete first variation, "
           "point terms at kinks and interval ends included (docs/mathematics.md §8)."),
        code("print(c.note)\nprint('point terms:', c.point_terms)\nc.descent_sign"),
        md("## Taylor coefficients, checked\n\nEach c_k of H[f + eps*shape] - H[f] against a "
           "fit of the entropy change integrated by quadrature (no series)."),
        code("for ch in d.checks:\n    assert ch.passed, ch\n"
             "print([ch.name for ch in d.checks if ch.name.startswith('c_')])\n"
             "list(d.taylor)"),
        md("## Monotonicity and the corrected activation\n\nThe corrected activation stays "
           "increasing wherever the base is for eps in this range (scanned on the law's bulk)."),
        code("lo, hi = d.eps_range\nassert lo < 0 < hi\nd.corrected"),
        md("## Plots: the corrected activation, its derivative, the output densities"),
        code("ts = np.linspace(*law.scipy.ppf([0.001, 0.999]), 400)\n"
             "values = [e for e in (0.0, 0.5 * lo, 0.5 * hi) if np.isfinite(e)]\n"
             "fig, ax = plt.subplots(1, 3, figsize=(13, 3.5))\n"
             "rng = np.random.default_rng(0)\n"
             "samples = law.scipy.rvs(size=20000, random_state=rng)\n"
             "for e in values:\n    fe = d.corrected.subs(eps, sp.nsimplify(e))\n"
             "    y = np.broadcast_to(numeric(fe)(ts), ts.shape)\n"
             "    ax[0].plot(ts, y, label=f'eps={e:.3g}')\n"
             "    ax[1].plot(ts, np.broadcast_to(numeric(sp.diff(fe, x))(ts), ts.shape))\n"
             "    ax[2].hist(numeric(fe)(samples), bins=120, density=True, histtype='step')\n"
             "ax[0].legend(); ax[0].set_title('f_eps'); ax[1].set_title(\"f_eps'\")\n"
             "ax[2].set_title('output density'); ax[2].set_yscale('log')\n"
             "plt.close(fig)\nfig"),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def execute(nb: Any, cwd: str | None = None, timeout: int = 600) -> Any:
    """Run every cell with nbclient (the current environment's ``python3`` kernel).

    Raises:
        RuntimeError: A cell failed; the message names it and the error.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": cwd}} if cwd else {})
    try:
        client.execute()
    except CellExecutionError as exc:
        first = str(exc).strip().splitlines()
        raise RuntimeError(f"the design notebook failed: {first[-1] if first else exc}") from None
    return nb
