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
from ..forms import GRAD_OUTPUT, ActivationForm, common_subexpressions, direction
from ..interfaces import ALIASES, INTERFACES
from ..printers.base import float_literal
from ..printers.torch import EafoTorchModulePrinter
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
    """CSE, then straight-line code with in-place reuse of dead temporaries (if ``pr`` may)."""
    exprs = [decaying_exp_as_exp2(piecewise_as_blend(e, X)) for e in exprs]
    repl, reduced = common_subexpressions(exprs, "_t", hoist_guards=False)
    return emit(repl, reduced, pr, X, in_place=pr.in_place)


def _as_x_like(expr: sp.Expr, printed: str) -> str:
    """A forward or x-gradient with x's shape and dtype, also when it is constant in x."""
    if X in expr.free_symbols:
        return f"({printed}).to(x.dtype)"
    if expr.is_number:
        return f"torch.full_like(x, {float_literal(expr)})"
    return f"(torch.zeros_like(x) + ({printed})).to(x.dtype)"


def _function_defs(f: ActivationForm, pr, gradient_of: int | None = None) -> list[str]:
    """The printed functions: forward, gradients, derivative along a direction, second order.

    ``gradient_of``: how many of the parameters (the first ones) ``<name>_bwd`` returns
    gradients for (default all); the autograd helpers give the others None, so a parameter
    that is never trained (a dynamic activation's running law) costs nothing in backward.
    """
    n, cls = f.name, f.class_name
    params = [str(p) for p in f.params]
    trained = params if gradient_of is None else params[:gradient_of]
    args = ", ".join(["x", *params])
    dirs = ", ".join(str(direction(v)) for v in f.variables)
    out: list[str] = []

    def define(signature: str, doc: str, exprs: Sequence[sp.Expr], returns, *, tuple_out=False,
               printer=pr):
        lines, printed = _emit_torch(exprs, printer)
        rets = [ret(e, s) for ret, e, s in zip(returns, exprs, printed, strict=True)]
        value = ", ".join(rets)
        if tuple_out and len(rets) == 1:
            value = f"({value},)"
        out.extend([f"def {signature}:", f'    """{doc}"""', *lines, f"    return {value}", "", ""])

    def x_like(e: sp.Expr, s: str) -> str:
        return "torch.zeros_like(x)" if e == 0 else _as_x_like(e, s)

    def reduced(p: str):
        return lambda e, s: f"torch.zeros_like({p})" if e == 0 else f"_reduce_to({s}, {p})"

    def row(e: sp.Expr, s: str) -> str:
        # Elementwise; the autograd helpers sum it to the parameter's shape.
        return "torch.zeros_like(x)" if e == 0 else f"({s})"

    define(f"{n}_fwd({args})", f"{cls} forward: ``{doc_expr(f.expr)}``.", [f.forward],
           [lambda e, s: _as_x_like(e, s)])
    define(f"{n}_fwd_script({args})",
           f"{cls} forward with no in-place write: what TorchScript runs and differentiates.",
           [f.forward], [lambda e, s: _as_x_like(e, s)], printer=type(pr)(in_place=False))
    # grad_output is multiplied in before emitting, so that the product reuses a temporary.
    define(f"{n}_bwd_x({args}, grad_output)", f"{cls} input gradient ``grad_output * df/dx``.",
           [GRAD_OUTPUT * f.gradients[X]], [x_like])
    if trained:
        define(f"{n}_bwd({args}, grad_output)",
               f"{cls} gradients with respect to x and {', '.join(trained)}.",
               [GRAD_OUTPUT * f.gradients[v] for v in f.variables[:1 + len(trained)]],
               [x_like, *(reduced(p) for p in trained)])
    tangent = sp.Add(*(direction(v) * f.gradients[v] for v in f.variables))
    define(f"{n}_jvp({args}, {dirs})",
           f"{cls} derivative along a direction: ``sum_v _d_v * df/dv`` (v = x, parameters).",
           [tangent], [x_like])
    rows = [
        GRAD_OUTPUT * sp.Add(*(f.hessian[u, v] * direction(v) for v in f.variables))
        for u in f.variables
    ]
    define(f"{n}_hvp({args}, {dirs}, grad_output)",
           f"{cls} ``grad_output * sum_v _d_v * d2f/du dv`` for u = x and each parameter "
           "(elementwise).",
           rows, [x_like, *([row] * len(params))], tuple_out=True)
    return out


def _function_class(f: ActivationForm) -> list[str]:
    """The autograd Functions, and the record of their printed derivatives for the helpers.

    ``setup_context``, ``backward``, ``jvp`` and a ``vmap`` rule (``_<Class>Traced``, what
    torch.compile and torch.export trace, has no jvp: Dynamo cannot trace a Function that
    defines one, and would break the graph there); the backward and the
    derivative along a direction are the template's ``_Backward`` and ``_Tangent``
    Functions, whose derivatives are the printed second derivatives (the ``autograd``
    section of :mod:`eafo_sym.codegen.templates.nn`).
    """
    n, cls = f.name, f.class_name
    args = ", ".join(["x", *map(str, f.params)])
    ops = f"_{n.upper()}_DERIVATIVES"
    bwd = f"{n}_bwd" if f.params else "None"
    return [
        f"{ops} = _Derivatives({n}_bwd_x, {bwd}, {n}_jvp, {n}_hvp)",
        "",
        "",
        f"class _{cls}Traced(torch.autograd.Function):",
        f'    """{cls} as torch.compile and torch.export trace it: no jvp (Dynamo traces none)."""',
        "",
        "    @staticmethod",
        f"    def forward({args}):",
        f"        return {n}_fwd({args})",
        "",
        "    @staticmethod",
        "    def setup_context(ctx, inputs, output):",
        "        _save(ctx, inputs)",
        "",
        "    @staticmethod",
        "    def backward(ctx, grad_output):",
        f"        return _backward(ctx, grad_output, {ops})",
        "",
        "    @staticmethod",
        "    def vmap(info, in_dims, *args):",
        f"        return _vmap(_{cls}Traced, info, in_dims, args, None)",
        "",
        "",
        f"class _{cls}Function(_{cls}Traced):",
        f'    """{cls} with printed derivatives; saves only its inputs (x and the parameters)."""',
        "",
        "    @staticmethod",
        "    def jvp(ctx, *tangents):",
        f"        return _jvp(ctx, tangents, {ops})",
        "",
        "    @staticmethod",
        "    def vmap(info, in_dims, *args):",
        f"        return _vmap(_{cls}Function, info, in_dims, args, None)",
        "",
        "",
    ]


_TYPES = {"float": "float", "int": "int", "bool": "bool", "str": "str"}


def _module_class(f: ActivationForm, buffers: bool = False) -> list[str]:
    """The ``nn.Module``: torch.nn's constructor where it has a namesake, else the parameters.

    With ``buffers``, the fixed parameters (not learnable, no torch.nn namesake's
    argument) are registered float64 buffers instead of float attributes.
    """
    n, cls = f.name, f.class_name
    params = [str(p) for p in f.params]
    defaults = {str(p): float(d) for p, d in f.params.items()}
    learn = {str(p) for p in f.learnable_params}
    iface = INTERFACES.get(n)
    # Constructor arguments: (signature text, init lines, Args doc line, repr part or None).
    positional: list[tuple[str, list[str], str, str | None]] = []
    keyword: list[tuple[str, list[str], str, str | None]] = []
    # What the printed functions get for each parameter, in their order.
    passed: dict[str, str] = {}
    covered: set[str] = set()
    weight = iface.weight if iface else None
    if iface:
        for a in iface.arguments:
            default = defaults[a.param] if a.param else a.default
            sig = f"{a.name}: {_TYPES[a.kind]} = {default!r}"
            if a.role == "hyper":
                covered.add(a.param)
                passed[a.param] = f"_hyper(self.{a.name}, x)"
                init = [f"self.{a.name} = _number({cls!r}, {a.name!r}, {a.name})"]
                doc = (f"{a.name}: ``{a.param}`` of the closed form, fixed (a float attribute, "
                       f"as in torch.nn). Default {default!r}.")
                positional.append((sig, init, doc, f"{a.name}={{self.{a.name}!r}}"))
            elif a.role == "weight":
                covered.add(a.param)
                passed[a.param] = f"_channels(self.{weight}, x)"
                init = [f"self.{a.name} = _number({cls!r}, {a.name!r}, {a.name})"]
                doc = (f"{a.name}: initial value of the learnable ``{weight}`` (``{a.param}`` of "
                       f"the closed form). Default {default!r}.")
                positional.append((sig, init, doc, None))
            elif a.role == "count":
                init = [
                    f"if isinstance({a.name}, bool) or not isinstance({a.name}, int) "
                    f"or {a.name} < 1:",
                    f"    raise ValueError(f\"{cls}: {a.name} must be a positive integer, "
                    f"got {{{a.name}!r}}\")",
                    f"self.{a.name} = {a.name}",
                ]
                doc = (f"{a.name}: entries of ``{weight}``: 1, or the input's channels (dim 1). "
                       f"Default {default!r}.")
                positional.append((sig, init, doc, f"{a.name}={{self.{a.name}}}"))
            elif a.role == "choice":
                allowed = ", ".join(map(repr, a.choices))
                init = [
                    f"if {a.name} not in {a.choices!r}:",
                    f"    raise ValueError(f\"{cls}: {a.name}={{{a.name}!r}} has no printed closed "
                    f"form; choose {allowed}\")",
                    f"self.{a.name} = {a.name}",
                ]
                doc = (f"{a.name}: {allowed} only (the closed form printed here). "
                       f"Default {default!r}.")
                positional.append((sig, init, doc, f"{a.name}={{self.{a.name}!r}}"))
            elif a.role == "kept":
                init = [f"self.{a.name} = _number({cls!r}, {a.name!r}, {a.name})"]
                doc = (f"{a.name}: accepted and kept for torch.nn compatibility; no effect (the "
                       "printed form is exact and finite at every input). "
                       f"Default {default!r}.")
                positional.append((sig, init, doc, f"{a.name}={{self.{a.name}!r}}"))
            elif a.role == "flag":
                positional.append((sig, [], "", None))  # the common inplace flag, below
    has_inplace = iface is not None and any(a.role == "flag" for a in iface.arguments)
    for p in params:
        if p in covered:
            continue
        sig = f"{p}: float = {defaults[p]!r}"
        if p in learn:
            passed[p] = f"self.{p}"
            init = [f"self.{p} = torch.nn.Parameter(torch.full((), _number({cls!r}, {p!r}, {p}), "
                    "device=device, dtype=dtype))"]
            doc = f"{p}: initial value, learnable (``nn.Parameter``). Default {defaults[p]!r}."
            rep = f"{p}={{_shown(self.{p})}}"
        elif buffers:
            # float64 keeps the exact value; float32 inputs get it rounded once, as _hyper does.
            passed[p] = (f"self.{p}.to(device=x.device, dtype=torch.float64 "
                         "if x.dtype == torch.float64 else torch.float32)")
            init = [f"self.register_buffer({p!r}, torch.tensor(_number({cls!r}, {p!r}, {p}), "
                    "device=device, dtype=torch.float64))"]
            doc = (f"{p}: fixed, a float64 buffer (in ``state_dict``, moves with the module). "
                   f"Default {defaults[p]!r}.")
            rep = f"{p}={{_shown(self.{p})}}"
        else:
            passed[p] = f"_hyper(self.{p}, x)"
            init = [f"self.{p} = _number({cls!r}, {p!r}, {p})"]
            doc = f"{p}: fixed (a float attribute). Default {defaults[p]!r}."
            rep = f"{p}={{self.{p}!r}}"
        # Parameters torch.nn does not take are keyword-only after its own arguments.
        (keyword if iface else positional).append((sig, init, doc, rep))
    flag = ("inplace: bool = False", ["self.inplace = inplace"],
            "inplace: accepted for torch.nn and timm (``act_layer(inplace=...)``); the result "
            "is always a new tensor, since the analytic backward needs the input.",
            None)
    if has_inplace:
        positional = [a if not a[0].startswith("inplace") else flag for a in positional]
    elif iface is None:
        positional.append(flag)
    else:
        keyword.append(flag)
    factory = (iface.factory if iface else bool(learn) or (buffers and len(learn) < len(params)))
    sig_parts = ["self", *(a[0] for a in positional)]
    kw_parts = [a[0] for a in keyword] + (["device=None", "dtype=None"] if factory else [])
    if kw_parts:
        sig_parts += ["*", *kw_parts]
    sig = ", ".join(sig_parts)

    doc = [f'    """{f.description or cls}.', "", f"    ``f(x) = {doc_expr(f.expr)}``", ""]
    if iface:
        doc += [f"    The namesake of ``torch.nn.{cls}``: the same constructor arguments,",
                "    attributes and ``state_dict`` keys (a torch.nn checkpoint loads).", ""]
    doc += [
        "    Forward and derivatives are printed from the closed form and its SymPy",
        "    derivatives (first and second); backward saves only the input. The class works",
        "    with torch.func (vmap, grad, jacrev, jacfwd, hessian), double backward,",
        "    torch.compile, torch.export and ONNX, and TorchScript.",
    ]
    if f.note:
        doc += ["", f"    {f.note}"]
    arg_docs = [a[2] for a in positional + keyword]
    if factory:
        arg_docs.append("device, dtype: where and how the learnable parameters are created.")
    if arg_docs:
        doc += ["", "    Args:"]
        doc += [f"        {d}" for d in arg_docs]
    doc.append('    """')

    out = [f"class {cls}(torch.nn.Module):", *doc, "", f"    def __init__({sig}) -> None:",
           "        super().__init__()"]
    for a in positional + keyword:
        out += [f"        {line}" for line in a[1]]
    if weight:
        count = next(a.name for a in iface.arguments if a.role == "count")
        init_arg = next(a.name for a in iface.arguments if a.role == "weight")
        out.append(f"        self.{weight} = torch.nn.Parameter(torch.full(({count},), "
                   f"self.{init_arg}, device=device, dtype=dtype))")
    for old, new in ALIASES.get(n, {}).items():
        hook = f"_renamed({{{old!r}: {new!r}}})"
        out.append(f"        self.register_load_state_dict_pre_hook({hook})")
    names = ", ".join(params)
    args = ", ".join(["x", *params])
    unpack = f"        {names}{',' if len(params) == 1 else ''} = self._arguments(x)"
    out += [
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        *([unpack] if params else []),
        "        if torch.jit.is_scripting():",
        "            # TorchScript runs no autograd Function: the printed forward, differentiated",
        "            # by TorchScript's autograd.",
        f"            return {n}_fwd_script({args})",
        f"        return self._autograd_function({args})",
        "",
        "    def _arguments(self, x: torch.Tensor):",
        '        """The tensors the printed functions take after x, in ``PARAMETERS`` order."""',
        f"        return ({''.join(passed[p] + ', ' for p in params).rstrip(' ')})",
        "",
        "    @torch.jit.unused",
        f"    def _autograd_function(self, {args}):",
        "        if _compiling():",
        f"            return _{cls}Traced.apply({args})",
        f"        return _{cls}Function.apply({args})",
    ]
    # torch.nn's style: its own arguments (a namesake's keyword-only extras are constants).
    reps = [a[3] for a in (positional if iface else positional + keyword) if a[3] is not None]
    rep = ", ".join(reps)
    inplace = ' + (", inplace=True" if self.inplace else "")' if reps else ""
    body = f'f"{rep}"{inplace}' if reps else '"inplace=True" if self.inplace else ""'
    out += ["", "    def extra_repr(self) -> str:", f"        return {body}"]
    return out


def _torch_block(f: ActivationForm, pr, buffers: bool = False) -> str:
    """Source of the functions, the autograd Functions and the module for one activation."""
    out = _function_defs(f, pr) + _function_class(f) + _module_class(f, buffers)
    return "\n".join(out) + "\n"


def torch_source(
    forms: Iterable[ActivationForm],
    command: str = DEFAULT_COMMAND,
    doc: str | None = None,
    *,
    printer: type = EafoTorchModulePrinter,
    buffers: bool = False,
    block=None,
    sections: Sequence[tuple[str, str]] = (),
    typing: str = "Callable, NamedTuple, Optional",
) -> str:
    """A standalone torch module file for ``forms`` (imports only torch and math).

    Args:
        forms: The activations; sorted by name in the output.
        command: The command line written into the header.
        doc: The generated module's docstring (default: one for a file of any activations).
        printer: The expression printer.
        buffers: Fixed parameters as registered float64 buffers (``state_dict``
            entries that follow ``module.to(device)``), not float attributes: what a
            design's module does with its input law's parameters.
        block: ``(form, printer) -> str``, the code of one activation (default: its printed
            functions, autograd Functions and ``nn.Module``, with ``buffers``).
        sections: Further template sections ``(file, section)`` pasted after the helpers.
        typing: The names imported from ``typing``.

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
    typing = f"from typing import {typing}"
    parts += [f'"""{doc or _DOC}"""', "", "import math", typing, "", "import torch", ""]
    all_names = sorted(["ACTIVATIONS", "PARAMETERS", "get_act_layer", *names])
    parts += ["__all__ = [" + ", ".join(repr(n) for n in all_names) + "]", ""]
    text = "\n".join(parts) + "\n" + templates.section("nn.py", "helpers")
    text += "\n\n" + templates.section("nn.py", "autograd")
    for where in sections:
        text += "\n\n" + templates.section(*where)
    for f in forms:
        text += "\n\n" + (block(f, pr) if block else _torch_block(f, pr, buffers))
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
    printer: type = EafoTorchModulePrinter,
) -> str:
    """:func:`torch_source` with the docstring of ``eafo_sym/nn.py`` (the template's).

    What ``eafo-sym codegen`` writes, for every registered activation or the ones named: the
    file also registers the activations with timm (the template's ``timm`` section).
    """
    text = torch_source(forms, command, templates.docstring("nn.py"), printer=printer)
    text = text.replace("'get_act_layer'", "'get_act_layer', 'register_timm'", 1)
    return text + "\n\n" + templates.section("nn.py", "timm")
