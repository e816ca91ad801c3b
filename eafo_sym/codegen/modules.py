"""Callables from closed forms: torch ``nn.Module`` classes and NumPy functions.

Both print source with the assemblers of :mod:`eafo_sym.codegen.assemblers` and execute
it, so what runs here is byte for byte what ``eafo-sym codegen`` writes to a file.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Iterable, Mapping

import sympy as sp

from ..symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from .assemblers.arrays import cse_lines
from .forms import ActivationForm
from .printers.numpy import EafoSciPyPrinter

__all__ = ["to_torch", "to_numpy"]


def _exec(source: str, filename: str, namespace: dict) -> dict:
    """Run generated source, registered in linecache so tracebacks show the lines."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own printed code
    return namespace


def to_torch(
    expr: sp.Expr,
    params: Mapping[sp.Symbol, float] | None = None,
    name: str = "activation",
    *,
    learnable: Iterable[sp.Symbol] | None = None,
) -> type:
    """An ``nn.Module`` class computing ``expr`` with an analytic, input-only-saving backward.

    Args:
        expr: Closed form in :data:`eafo_sym.x` and the parameter symbols.
        params: Parameter symbols with default values (the constructor's
            keyword arguments). Numbers in ``expr`` stay constants.
        name: Snake-case name; the class is its CamelCase form.
        learnable: Parameters that become ``nn.Parameter`` (default all); the
            others are buffers.

    Returns:
        The module class; ``cls()`` builds it with the defaults.

    >>> import pytest; torch = pytest.importorskip("torch")
    >>> from eafo_sym import x, eps
    >>> CRReLU = to_torch(sp.Max(0, x) + eps * x * sp.exp(-x**2 / 2), {eps: 0.01}, "crrelu")
    >>> m = CRReLU()
    >>> [n for n, _ in m.named_parameters()]
    ['epsilon']
    >>> m(torch.tensor([-1.0, 0.0, 2.0])).detach()
    tensor([-0.0061,  0.0000,  2.0027])
    """
    import torch  # noqa: F401 - the generated code needs it; fail here if absent

    from .assemblers.torch import torch_source  # here: to_numpy must not import torch

    form = ActivationForm(
        name, sp.sympify(expr), dict(params or {}),
        None if learnable is None else frozenset(learnable),
    )
    src = torch_source([form], command=f"eafo_sym.codegen.to_torch(..., name={name!r})")
    filename = f"<eafo_sym.codegen generated {name}>"
    ns = _exec(src, filename, {"__name__": f"eafo_sym.codegen._generated.{name}"})
    return ns[form.class_name]


def to_numpy(
    expr: sp.Expr, params: Mapping[sp.Symbol, float] | None = None
) -> Callable[..., object]:
    """A NumPy/SciPy function ``f(x, **params)`` for ``expr``, in the stable printed form.

    Floating-point warnings (overflow in intermediate ``x**2`` and the like)
    are silenced: the stable form already gives the limit there.

    >>> import numpy as np
    >>> from eafo_sym import x, eps
    >>> f = to_numpy(sp.Max(0, x) + eps * x * sp.exp(-x**2 / 2), {eps: 0.01})
    >>> f(np.array([-np.inf, -1.0, 2.0, np.inf]))
    array([ 0.        , -0.00606531,  2.00270671,         inf])
    >>> f(np.array([1.0]), epsilon=0.0)
    array([1.])
    """
    import numpy

    form = ActivationForm("f", sp.sympify(expr), dict(params or {}))
    lines, (body,) = cse_lines([form.forward], EafoSciPyPrinter(), indent="        ")
    args = ", ".join(["x", *(f"{p}={float(d)!r}" for p, d in form.params.items())])
    src = "\n".join(
        [
            f"def f({args}):",
            "    with numpy.errstate(all='ignore'):",
            "        x = numpy.asarray(x, dtype=float) if not hasattr(x, 'dtype') else x",
            *lines,
            f"        return {body}" if X in form.forward.free_symbols
            else f"        return numpy.zeros_like(x) + ({body})",
            "",
        ]
    )
    import math

    import scipy.special

    ns = _exec(src, "<eafo_sym.codegen to_numpy>",
               {"numpy": numpy, "scipy": scipy, "math": math})
    fn = ns["f"]
    fn.__doc__ = f"Generated from ``{sp.sstr(expr)}``.\n\nSource::\n\n{src}"
    return fn
