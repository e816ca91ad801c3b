"""Torch module files: forward, analytic backward, autograd Function and module per activation.

What gets printed for one activation ``f(x; p1, p2, ...)``:

- ``<name>_fwd(x, p1, ...)``: the forward, in the stable form of
  :mod:`eafo_sym.codegen.stable`;
- ``<name>_bwd_x(x, ..., grad_output)`` and ``<name>_bwd(...)``: the analytic
  gradient with respect to ``x`` only, and with respect to ``x`` and every
  parameter (parameter gradients summed to the parameter's shape);
- a ``torch.autograd.Function`` that saves only ``x`` and the 0-dim parameters
  and recomputes the rest in backward (timm's ``activations_me`` pattern);
- an ``nn.Module`` whose constructor takes the parameters as keyword
  arguments with their defaults, so ``Cls()`` works (timm's ``act_layer``).

The file ends with two tables: ``ACTIVATIONS`` (registry name -> class) and
``PARAMETERS`` (registry name -> parameter names in argument order), which the runtime
(:mod:`eafo_sym.fused`) reads instead of deriving anything.

The functions are straight-line code from :mod:`eafo_sym.codegen.emit` (shared
subexpressions computed once, dead temporaries reused in place). The helpers they call
(``_finite``, ``_zero_wins_``, ``_reduce_to``) and ``get_act_layer`` are pasted from the
template :mod:`eafo_sym.codegen.templates.nn`. Output is deterministic: no timestamps,
activations sorted by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import sympy as sp

from ...symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from .. import templates
from ..emit import decaying_exp_as_exp2, emit, piecewise_as_blend
from ..files import DEFAULT_COMMAND
from ..forms import GRAD_OUTPUT, ActivationForm, common_subexpressions
from ..printers.base import float_literal
from ..printers.torch import EafoTorchPrinter
from .common import doc_expr, header

__all__ = ["nn_module_source", "torch_source"]

#: The docstring of a torch module file that ``to_torch`` prints.
_DOC = (
    "Torch activation modules printed from SymPy closed forms by eafo_sym.codegen.\n\n"
    "Each class has an analytic backward that saves only its input. ``ACTIVATIONS``\n"
    "maps registry names to classes and ``get_act_layer(name)`` looks them up\n"
    "(timm's ``act_layer`` convention: every class constructs with no arguments).\n"
)


def _emit_torch(exprs: Sequence[sp.Expr], pr) -> tuple[list[str], list[str]]:
    """CSE, then straight-line code with in-place reuse of dead temporaries."""
    exprs = [decaying_exp_as_exp2(piecewise_as_blend(e, X)) for e in exprs]
    repl, reduced = common_subexpressions(exprs, "_t", hoist_guards=False)
    return emit(repl, reduced, pr, X)


def _as_x_like(expr: sp.Expr, printed: str) -> str:
    """A forward or x-gradient with x's shape and dtype, also when it is constant in x."""
    if X in expr.free_symbols:
        return f"({printed}).to(x.dtype)"
    if expr.is_number:
        return f"torch.full_like(x, {float_literal(expr)})"
    return f"(torch.zeros_like(x) + ({printed})).to(x.dtype)"


def _torch_block(f: ActivationForm, pr) -> str:
    """Source of the functions, the autograd Function and the module for one activation."""
    n, cls = f.name, f.class_name
    params = [str(p) for p in f.params]
    args = ", ".join(["x", *params])
    out: list[str] = []

    # Forward.
    lines, (fwd,) = _emit_torch([f.forward], pr)
    out += [
        f"def {n}_fwd({args}):",
        f'    """{cls} forward: ``{doc_expr(f.expr)}``."""',
        *lines,
        f"    return {_as_x_like(f.forward, fwd)}",
        "",
        "",
    ]

    def grad_x_line(printed: str) -> str:
        d = f.gradients[X]
        if d == 0:
            return "torch.zeros_like(x)"
        return f"({printed}).to(x.dtype)"

    # Backward, x only. grad_output is multiplied in before emitting, so that the
    # product reuses a temporary too.
    lines, (gx,) = _emit_torch([GRAD_OUTPUT * f.gradients[X]], pr)
    out += [
        f"def {n}_bwd_x({args}, grad_output):",
        f'    """{cls} input gradient ``grad_output * df/dx``."""',
        *lines,
        f"    return {grad_x_line(gx)}",
        "",
        "",
    ]
    if f.params:
        exprs = [f.gradients[v] for v in [X, *f.params]]
        lines, printed = _emit_torch([GRAD_OUTPUT * e for e in exprs], pr)
        rets = [grad_x_line(printed[0])]
        for p, e, s in zip(params, exprs[1:], printed[1:], strict=True):
            rets.append(f"torch.zeros_like({p})" if e == 0 else f"_reduce_to({s}, {p})")
        out += [
            f"def {n}_bwd({args}, grad_output):",
            f'    """{cls} gradients with respect to x and {", ".join(params)}."""',
            *lines,
            f"    return {', '.join(rets)}",
            "",
            "",
        ]
    # autograd.Function: saves x (and 0-dim parameters) only.
    out += [
        f"class _{cls}Function(torch.autograd.Function):",
        f'    """{cls} with an analytic backward that saves only the input."""',
        "",
        "    @staticmethod",
        f"    def forward(ctx, {args}):",
        f"        ctx.save_for_backward({args},)",
        f"        return {n}_fwd({args})",
        "",
        "    @staticmethod",
        "    @torch.autograd.function.once_differentiable",
        "    def backward(ctx, grad_output):",
        f"        {args}, = ctx.saved_tensors",
    ]
    if f.params:
        out += [
            "        if any(ctx.needs_input_grad[1:]):",
            f"            return {n}_bwd({args}, grad_output)",
            f"        return ({n}_bwd_x({args}, grad_output),{' None,' * len(params)})",
        ]
    else:
        out += [f"        return {n}_bwd_x(x, grad_output)"]
    out += ["", ""]

    # The module.
    sig = ", ".join(f"{p}: float = {float(d)!r}" for p, d in f.params.items())
    sig = f"self, {sig}, inplace: bool = False" if sig else "self, inplace: bool = False"
    learn = {str(p) for p in f.learnable_params}
    doc = [
        f'    """{f.description or cls}.',
        "",
        f"    ``f(x) = {doc_expr(f.expr)}``",
        "",
        "    Forward and backward are printed from the closed form and its SymPy",
        "    derivatives; backward saves only the input.",
    ]
    if f.note:
        doc += ["", f"    {f.note}"]
    if f.params:
        doc += ["", "    Args:"]
        for p, d in f.params.items():
            kind = "learnable (nn.Parameter)" if p.name in learn else "fixed (buffer)"
            doc.append(f"        {p}: initial value, {kind}; default {float(d)!r}.")
        doc.append("        inplace: accepted for timm's ``act_layer(inplace=...)``; ignored.")
    else:
        doc += [
            "",
            "    Args:",
            "        inplace: accepted for timm's ``act_layer(inplace=...)``; ignored.",
        ]
    doc.append('    """')
    out += [f"class {cls}(torch.nn.Module):", *doc, "", f"    def __init__({sig}) -> None:"]
    out.append("        super().__init__()")
    for p in params:
        if p in learn:
            out.append(f"        self.{p} = torch.nn.Parameter(torch.tensor(float({p})))")
        else:
            out.append(f"        self.register_buffer({p!r}, torch.tensor(float({p})))")
    out += [
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        f"        return _{cls}Function.apply({', '.join(['x', *('self.' + p for p in params)])})",
    ]
    if f.params:
        rep = ", ".join(f"{p}={{float(self.{p}.detach()):g}}" for p in params)
        out += ["", "    def extra_repr(self) -> str:", f'        return f"{rep}"']
    return "\n".join(out) + "\n"


def torch_source(
    forms: Iterable[ActivationForm],
    command: str = DEFAULT_COMMAND,
    doc: str | None = None,
    *,
    printer: type = EafoTorchPrinter,
) -> str:
    """A standalone torch module file for ``forms`` (imports only torch and math).

    Args:
        forms: The activations; sorted by name in the output.
        command: The command line written into the header.
        doc: The generated module's docstring (default: one for a file of any activations).
        printer: The expression printer.

    Returns:
        The file's text. The same input gives byte-identical text.

    >>> from eafo_sym import x
    >>> src = torch_source([ActivationForm("relu", sp.Max(0, x))])
    >>> src.splitlines()[0]
    '# @generated by eafo-sym codegen -- do not edit.'
    >>> "class ReLU(torch.nn.Module):" in src and "def get_act_layer(name):" in src
    True
    """
    forms = sorted(forms, key=lambda f: f.name)
    names = [f.class_name for f in forms]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"two activations map to the same class name: {', '.join(dup)}")
    pr = printer()
    parts = header(forms, command, "#", "# ruff: noqa")
    parts += [f'"""{doc or _DOC}"""', "", "import math", "", "import torch", ""]
    all_names = sorted(["ACTIVATIONS", "PARAMETERS", "get_act_layer", *names])
    parts += ["__all__ = [" + ", ".join(repr(n) for n in all_names) + "]", ""]
    text = "\n".join(parts) + "\n" + templates.section("nn.py", "helpers")
    for f in forms:
        text += "\n\n" + _torch_block(f, pr)
    text += "\n\n#: Registry name -> class, as in eafo_sym.catalog.\n"
    text += "ACTIVATIONS: dict[str, type] = {\n"
    text += "".join(f"    {f.name!r}: {f.class_name},\n" for f in forms) + "}\n\n"
    text += "#: Registry name -> parameter names, in the order the functions above take them.\n"
    text += "PARAMETERS: dict[str, tuple[str, ...]] = {\n"
    text += "".join(f"    {f.name!r}: {tuple(map(str, f.params))!r},\n" for f in forms) + "}\n\n"
    text += "\n" + templates.section("nn.py", "lookup")
    # Blank lines between top-level blocks: two, as ruff format would leave them.
    return re.sub(r"\n{3,}(?=\S)", "\n\n\n", text)


def nn_module_source(
    forms: Iterable[ActivationForm],
    command: str = DEFAULT_COMMAND,
    *,
    printer: type = EafoTorchPrinter,
) -> str:
    """:func:`torch_source` with the docstring of ``eafo_sym/nn.py`` (the template's).

    What ``eafo-sym codegen`` writes, for every registered activation or the ones named.
    """
    return torch_source(forms, command, templates.docstring("nn.py"), printer=printer)
