"""What ``eafo-sym design`` writes: the derivation notebook, the module files, the report.

Everything goes through :class:`eafo_sym.outputs.OutputDir` (a folder that is
ours or refused, atomic writes, nothing replaced without ``force``). The
notebook is always executed (nbclient) before it is written, so what lands in
the folder has its outputs and has passed its own assertions; a notebook that
fails is not written and the error names the cell.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sympy as sp

from ..codegen.forms import ActivationForm
from ..laws import PARAMETER_SYMBOLS, parametric
from ..symbolic.eafo import PAPER_EPS, derive_correction
from ..symbolic.symbols import eps
from .core import Design
from .notebook import design_notebook, execute

__all__ = ["MODULE_FILES", "module_form", "report_json", "report_markdown", "write_design"]

#: Backend -> file name of its module in the output folder.
MODULE_FILES = {"torch": "module_torch.py", "numpy": "module_numpy.py",
                "jax": "module_jax.py", "cpp": "module_cpp.cpp"}


def _identifier(label: str) -> str:
    clean = "".join(ch if ch.isalnum() else "_" for ch in label.lower()).strip("_")
    while "__" in clean:
        clean = clean.replace("__", "_")
    return clean if clean and clean[0].isalpha() and len(clean) <= 24 else "custom"


def module_form(d: Design) -> ActivationForm:
    """The activation to print: ``base + eps*shape``, eps learnable, the law's parameters buffers.

    Under a location-scale law the correction is derived again with the law's
    parameters as symbols (:func:`eafo_sym.laws.parametric`), so the module
    carries ``mu`` and the scale as buffers with this law's values, scaled so that
    at those values it is the design's ``base + eps*shape``; where that derivation
    fails (a Laplace law's kink at a symbolic ``mu``, a mixture), the numbers are
    printed in.
    """
    name = "eafo_" + _identifier(d.label)
    params: dict[sp.Symbol, float] = {eps: PAPER_EPS}
    expr = d.corrected
    law = d.law
    if law.location_param and law.scale_param and not law.components:
        fixed = {k: v for k, v in law.params.items()
                 if k not in (law.location_param, law.scale_param)}
        try:
            c = derive_correction(d.correction.base, parametric(law.name, **fixed),
                                  interval=d.correction.interval, taylor_order=0, y_space=False)
        except (ValueError, NotImplementedError, TypeError):
            c = None
        if c is not None:
            bound = c.shape.subs({s: sp.nsimplify(v, rational=True) for s, v in c.params.items()})
            values = {PARAMETER_SYMBOLS[k]: law.params[k]
                      for k in (law.location_param, law.scale_param)}
            # The shape is defined up to a positive constant: take the design's at these
            # values, so that the module's eps is the report's eps.
            scale = sp.simplify(d.shape / bound.subs(values))
            if scale.is_number and scale.is_positive:
                expr = d.base + eps * scale * bound
                params.update({s: float(v) for s, v in values.items()})
    return ActivationForm(name, expr, params, frozenset({eps}),
                          f"{d.label} + eps * EAFO correction under {law}", "")


def module_source(d: Design, backend: str, command: str) -> str:
    """The module file for one backend (a row of :data:`eafo_sym.codegen.backends.BACKENDS`).

    The torch module keeps the law's parameters as registered buffers (in its
    ``state_dict``, moved with it), eps as its one ``nn.Parameter``.
    """
    from ..codegen.backends import resolve

    if backend == "torch":
        from ..codegen.assemblers.torch import torch_source

        return torch_source([module_form(d)], command, buffers=True)
    return resolve(backend).source([module_form(d)], command)


def _float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def report_json(d: Design) -> dict:
    """The formulas (LaTeX and plain), the sign findings and the checks, JSON-ready."""
    c = d.correction

    def both(expr: Any) -> dict | None:
        return None if expr is None else {"plain": sp.sstr(expr), "latex": sp.latex(expr)}

    return {
        "base": both(d.base),
        "label": d.label,
        "law": str(d.law),
        "metric": d.metric,
        "interval": [sp.sstr(v) for v in c.interval],
        "pieces": [
            {"a": sp.sstr(p.a), "b": sp.sstr(p.b), "expr": sp.sstr(p.expr), "flat": p.flat,
             "branches": [[sp.sstr(a), sp.sstr(b)] for a, b in p.branches]}
            for p in d.pieces
        ],
        "turning_points": [sp.sstr(t) for t in c.turning_points],
        "dH_df": both(c.dH_df),
        "dH_dg": both(c.dH_dg),
        "weight": both(c.weight),
        "coefficient": both(c.coefficient),
        "shape": both(d.shape),
        "corrected": both(d.corrected),
        "point_terms": [{"at": sp.sstr(t.at), "weight": sp.sstr(t.weight), "kind": t.kind}
                        for t in c.point_terms],
        "descent_sign": c.descent_sign,
        "entropy_slope": None if c.entropy_slope is None else sp.sstr(c.entropy_slope),
        "note": c.note,
        "taylor": [{"k": k, "plain": sp.sstr(t), "value": _float(sp.N(t, 15))}
                   for k, t in enumerate(d.taylor, 1)],
        "eps_range": list(d.eps_range),
        "entropy_change_at_0.01": d.entropy_change,
        "whole_line": None if d.whole_line is None else d.whole_line.as_dict(),
        "iterates": [sp.sstr(f) for f in d.iterates],
        "checks": [ch.as_dict() for ch in d.checks],
        "passed": d.passed,
    }


def report_markdown(d: Design) -> str:
    """``design.md``: the same content as :func:`report_json`, for people."""
    r = report_json(d)
    lines = [
        f"# EAFO design: {d.label} under {d.law}",
        "",
        f"- base: `{r['base']['plain']}`; entropy taken on {tuple(r['interval'])}; "
        f"metric: {d.metric}",
        f"- functional derivative dH/df: `{r['dH_df']['plain']}`",
        f"- correction: dH/df * weight = c * shape with c = `{r['coefficient']['plain']}`, "
        f"weight = `{r['weight']['plain']}`, shape = `{r['shape']['plain']}`",
        f"- corrected activation: `{r['corrected']['plain']}`",
        f"- descent sign of eps: {r['descent_sign']}; {r['note']}",
        f"- eps keeping it increasing where the base is: {d.eps_range[0]:.6g} < eps < "
        f"{d.eps_range[1]:.6g}",
    ]
    w = d.whole_line
    if w is not None:
        lines.append(f"- whole line at eps = {w.eps:g}: atoms {list(w.base_atoms)} -> "
                     f"{list(w.corrected_atoms)}; H = {w.base_entropy:.10g} -> "
                     f"{w.corrected_entropy:.10g}; continuous part {w.base_continuous:.10g} -> "
                     f"{w.corrected_continuous:.10g}")
    for t in r["point_terms"]:
        lines.append(f"- point term ({t['kind']}) at x = {t['at']}: weight `{t['weight']}`")
    for t in r["taylor"]:
        lines.append(f"- c_{t['k']} = `{t['plain']}`")
    lines += ["", "| check | value | reference | error | tolerance | passed |",
              "|---|---|---|---|---|---|"]
    for ch in r["checks"]:
        lines.append(f"| {ch['name']} | {ch['value']:.12g} | {ch['reference']:.12g} | "
                     f"{ch['error']:.3g} | {ch['tolerance']:.3g} | {ch['passed']} |")
    lines += ["", "Formulas in LaTeX:", "", f"$$\\frac{{\\delta H}}{{\\delta f}} = "
              f"{r['dH_df']['latex']}$$", "", f"$$f_\\epsilon = {r['corrected']['latex']}$$", ""]
    return "\n".join(lines)


def write_design(
    d: Design,
    out: str | Path,
    *,
    backends: Sequence[str] = ("torch", "numpy"),
    force: bool = False,
    command: str = "eafo-sym design",
    base_text: str | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[str]:
    """Write the notebook (executed), the module files and ``design.md``/``design.json``.

    Args:
        d: The design.
        out: The output folder (created, or one this command wrote before).
        backends: Code backends for the module files.
        force: Replace files that are not ours.
        command: The command line written into generated headers.
        base_text: How the notebook names the base (default its label).
        progress: Called with a line before each step.

    Returns:
        The names of the files written.

    Raises:
        eafo_sym.outputs.OutputRefusedError: The folder is not ours and not ``force``.
        RuntimeError: The notebook failed when executed (the message names the cell).
    """
    from ..codegen.backends import resolve
    from ..outputs import OutputDir

    for b in backends:
        resolve(b)
    written = []
    with OutputDir.open(out, owner="eafo-sym design", force=force) as folder:
        progress("writing design.md and design.json")
        folder.write_text("design.json", json.dumps(report_json(d), indent=2) + "\n")
        folder.write_text("design.md", report_markdown(d))
        written += ["design.json", "design.md"]
        for b in backends:
            progress(f"generating the {b} module")
            folder.write_text(MODULE_FILES[b], module_source(d, b, command))
            written.append(MODULE_FILES[b])
        progress("executing the derivation notebook")
        nb = execute(design_notebook(d, base_text or d.label), cwd=str(Path(out)))
        import nbformat

        folder.write_text("design.ipynb", nbformat.writes(nb) + "\n")
        written.append("design.ipynb")
    return written
