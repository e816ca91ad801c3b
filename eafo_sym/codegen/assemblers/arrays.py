"""NumPy/SciPy and JAX function files: ``<name>(x, ...)`` and ``<name>_grad(x, ...)``.

One file layout for every array library whose printer (:mod:`eafo_sym.codegen.printers`)
derives from :class:`~eafo_sym.codegen.printers.base.ArrayFixes`: the printer's ``modules``
are imported, and each activation gets its value and its derivative in x as plain functions
of arrays, with shared subexpressions computed once. ``ACTIVATIONS`` maps registry names to
``(function, derivative)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp

from ...symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from ..files import DEFAULT_COMMAND
from ..forms import ActivationForm, common_subexpressions
from .common import doc_expr, header

__all__ = ["array_source", "cse_lines"]


def cse_lines(
    exprs: Sequence[sp.Expr], printer, indent: str = "    "
) -> tuple[list[str], list[str]]:
    """Shared subexpressions as assignment lines, and the printed reduced expressions."""
    repl, reduced = common_subexpressions(exprs, "_t")
    lines = [f"{indent}{s} = {printer.doprint(e)}" for s, e in repl]
    return lines, [printer.doprint(e) for e in reduced]


def _array_function(f: ActivationForm, printer, suffix: str, expr: sp.Expr) -> list[str]:
    params = [f"{p}={float(d)!r}" for p, d in f.params.items()]
    lines, (e,) = cse_lines([expr], printer)
    what = "value" if not suffix else "derivative d/dx"
    return [
        f"def {f.name}{suffix}({', '.join(['x', *params])}):",
        f'    """{f.class_name} {what}; f(x) = ``{doc_expr(f.expr)}``."""',
        *lines,
        f"    return {e}",
        "",
        "",
    ]


def array_source(
    forms: Iterable[ActivationForm], command: str = DEFAULT_COMMAND, *, printer: type
) -> str:
    """A standalone file of array functions for ``forms``, printed by ``printer``.

    >>> from eafo_sym import x
    >>> from eafo_sym.codegen.printers.numpy import EafoSciPyPrinter
    >>> src = array_source([ActivationForm("relu", sp.Max(0, x))], printer=EafoSciPyPrinter)
    >>> "def relu_grad(x):" in src and "import scipy.special" in src
    True
    """
    forms = sorted(forms, key=lambda f: f.name)
    pr = printer()
    parts = header(forms, command, "#", "# ruff: noqa")
    parts += [
        f'"""{printer.backend} activations printed from SymPy closed forms by eafo_sym.codegen."""'
    ]
    parts += ["", "import math", "", *(f"import {m}" for m in printer.modules), "", ""]
    for f in forms:
        parts += _array_function(f, pr, "", f.forward)
        parts += _array_function(f, pr, "_grad", f.gradients[X])
    parts += ["#: Registry name -> (function, derivative).", "ACTIVATIONS = {"]
    parts += [f"    {f.name!r}: ({f.name}, {f.name}_grad)," for f in forms]
    parts += ["}", ""]
    return "\n".join(parts)
