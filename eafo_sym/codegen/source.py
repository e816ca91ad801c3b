"""Python source for activation modules, from a closed form and its SymPy derivatives.

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

Derivatives are collected around their transcendental factors and shared
subexpressions are computed once (:func:`sympy.cse`). Output is deterministic:
no timestamps, activations sorted by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from ..symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from .files import GENERATED_MARKER
from .printers import EafoJaxPrinter, EafoSciPyPrinter, float_literal
from .stable import guard_products, stabilize, zero_guard

__all__ = ["ActivationForm", "class_name", "torch_source", "numpy_source", "DEFAULT_COMMAND"]

#: The command line written into the header of eafo_sym/nn.py.
DEFAULT_COMMAND = "eafo-sym codegen"

# Words spelled the torch.nn way in class names.
_WORDS = {"silu": "SiLU", "gelu": "GELU", "elu": "ELU", "celu": "CELU", "selu": "SELU"}


def class_name(name: str) -> str:
    """CamelCase class name for a registry name, spelled as in torch.nn.

    >>> [class_name(n) for n in ["crrelu", "leaky_relu", "prelu", "silu", "mish"]]
    ['CRReLU', 'LeakyReLU', 'PReLU', 'SiLU', 'Mish']
    """
    parts = []
    for word in name.split("_"):
        if word in _WORDS:
            parts.append(_WORDS[word])
        elif word.endswith("relu"):
            parts.append(word[:-4].upper() + "ReLU")
        else:
            parts.append(word[:1].upper() + word[1:])
    out = "".join(parts)
    if not out.isidentifier():
        raise ValueError(f"activation name {name!r} does not give a Python class name")
    return out


def _lean(d: sp.Expr) -> sp.Expr:
    """Collect a derivative around its transcendental factors, without expanding.

    Expanding would split stable products such as ``x*(1 - tanh(u)**2)`` into
    ``x - x*tanh(u)**2``, which is ``inf - inf`` at large x.
    """
    atoms = sorted(d.atoms(sp.Function), key=sp.default_sort_key)
    return sp.factor_terms(sp.collect(d, atoms)) if atoms else sp.factor_terms(d)


def _torch_subgradient(e: sp.Expr) -> sp.Expr:
    """Heaviside(u, 1/2) -> Heaviside(u, 0): d max(0, x)/dx at 0 is 0, as in torch's relu.

    SymPy's derivative of Max/Min carries its default value 1/2 at the kink;
    any subgradient is correct there and torch's convention keeps
    gradients identical to the built-in modules.
    """
    return e.replace(
        lambda a: isinstance(a, sp.Heaviside) and a.args[1:] in ((), (sp.S.Half,)),
        lambda a: sp.Heaviside(a.args[0], 0),
    )


@dataclass(frozen=True)
class ActivationForm:
    """An activation prepared for printing: stable forward and analytic gradients.

    Attributes:
        name: Registry name, used for function names and ``ACTIVATIONS`` keys.
        expr: The closed form in :data:`eafo_sym.x` and the parameter symbols.
        params: Parameter symbols with their defaults, in declaration order.
        learnable: Parameters that become ``nn.Parameter``; the others are buffers.
        description: One line for the class docstring.
        note: Extra docstring text (e.g. the paper's name for a parameter).

    >>> from eafo_sym import x, eps
    >>> f = ActivationForm("crrelu", sp.Max(0, x) + eps * x * sp.exp(-x**2 / 2), {eps: 0.01})
    >>> f.gradients[eps]
    decay_guard(exp(-x**2/2), x)
    >>> f.class_name
    'CRReLU'
    """

    name: str
    expr: sp.Expr
    params: Mapping[sp.Symbol, float] = field(default_factory=dict)
    learnable: frozenset | None = None
    description: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"activation name {self.name!r} is not a Python identifier")
        extra = sp.sympify(self.expr).free_symbols - {X} - set(self.params)
        if extra:
            names = ", ".join(sorted(map(str, extra)))
            raise ValueError(
                f"{self.name}: symbols {names} are neither x nor declared parameters"
            )
        for p in self.params:
            if not str(p).isidentifier() or str(p) in {"x", "grad_output", "ctx", "self"}:
                raise ValueError(f"{self.name}: parameter name {p} cannot be a Python argument")

    @classmethod
    def from_activation(cls, act, learnable: Iterable[sp.Symbol] | None = None) -> ActivationForm:
        """From an :class:`eafo_sym.activations.Activation`."""
        note = ""
        if act.name == "crrelu":
            note = (
                "The paper's pseudocode calls ``epsilon`` ``lr`` (initial value 0.01)."
            )
        return cls(
            act.name,
            act.expr,
            dict(act.params),
            None if learnable is None else frozenset(learnable),
            act.description,
            note,
        )

    @property
    def class_name(self) -> str:
        """The CamelCase class name."""
        return class_name(self.name)

    @property
    def learnable_params(self) -> list[sp.Symbol]:
        """Parameters that are trained (all unless ``learnable`` says otherwise)."""
        if self.learnable is None:
            return list(self.params)
        return [p for p in self.params if p in self.learnable]

    @cached_property
    def stable_expr(self) -> sp.Expr:
        """The closed form with stable primitives (before product guards)."""
        return stabilize(sp.sympify(self.expr))

    @cached_property
    def forward(self) -> sp.Expr:
        """The forward as printed (torch code also gets the emitter's exp2 and blend forms)."""
        return guard_products(self.stable_expr, X)

    @cached_property
    def gradients(self) -> dict[sp.Symbol, sp.Expr]:
        """d f / d v for x and every parameter, lean, stable and guarded, as printed (ditto)."""
        out = {}
        for v in [X, *self.params]:
            d = _torch_subgradient(_lean(sp.diff(self.stable_expr, v)))
            out[v] = guard_products(d, X)
        return out


def _cse_lines(
    exprs: Sequence[sp.Expr], printer, indent: str = "    "
) -> tuple[list[str], list[str]]:
    """Shared subexpressions as assignment lines, and the printed reduced expressions."""
    symbols = sp.numbered_symbols("_t")
    repl, reduced = sp.cse(list(exprs), symbols=symbols, order="canonical")
    repl, reduced = _hoist_guard_factors(repl, reduced, symbols)
    lines = [f"{indent}{s} = {printer.doprint(e)}" for s, e in repl]
    return lines, [printer.doprint(e) for e in reduced]


def _hoist_guard_factors(repl, reduced, symbols):
    """Give every zero_guard factor its own variable: the printer uses it two or three times."""
    out_repl: list[tuple[sp.Symbol, sp.Expr]] = []

    def hoist(e: sp.Expr) -> sp.Expr:
        def sub(g: sp.Basic) -> sp.Basic:
            *zeros, cof = g.args
            new = []
            for t in zeros:
                if t.is_Symbol:
                    new.append(t)
                else:
                    s = next(symbols)
                    out_repl.append((s, t))
                    new.append(s)
            return zero_guard(*new, cof)

        return e.replace(lambda g: isinstance(g, zero_guard), sub)

    for s, e in repl:
        e = hoist(e)
        out_repl.append((s, e))
    reduced = [hoist(e) for e in reduced]
    return out_repl, reduced


def _emit_torch(exprs: Sequence[sp.Expr], pr) -> tuple[list[str], list[str]]:
    """CSE, then straight-line code with in-place reuse of dead temporaries."""
    from .emit import decaying_exp_as_exp2, emit, piecewise_as_blend

    exprs = [decaying_exp_as_exp2(piecewise_as_blend(e, X)) for e in exprs]
    repl, reduced = sp.cse(list(exprs), symbols=sp.numbered_symbols("_t"), order="canonical")
    return emit(repl, reduced, pr, X)


_G = sp.Symbol("grad_output", real=True)


def _torch_printer():
    from .torch_printer import EafoTorchPrinter

    return EafoTorchPrinter()


def _as_x_like(expr: sp.Expr, printed: str) -> str:
    """A forward or x-gradient with x's shape and dtype, also when it is constant in x."""
    if X in expr.free_symbols:
        return f"({printed}).to(x.dtype)"
    if expr.is_number:
        return f"torch.full_like(x, {float_literal(expr)})"
    return f"(torch.zeros_like(x) + ({printed})).to(x.dtype)"


def _doc_expr(e: sp.Expr) -> str:
    return sp.sstr(e).replace("\\", "\\\\")


def _torch_block(f: ActivationForm) -> str:
    """Source of the functions, the autograd Function and the module for one activation."""
    pr = _torch_printer()
    n, cls = f.name, f.class_name
    params = [str(p) for p in f.params]
    args = ", ".join(["x", *params])
    out: list[str] = []

    # Forward.
    lines, (fwd,) = _emit_torch([f.forward], pr)
    out += [
        f"def {n}_fwd({args}):",
        f'    """{cls} forward: ``{_doc_expr(f.expr)}``."""',
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
    lines, (gx,) = _emit_torch([_G * f.gradients[X]], pr)
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
        lines, printed = _emit_torch([_G * e for e in exprs], pr)
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
        f"    ``f(x) = {_doc_expr(f.expr)}``",
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


_TORCH_HELPERS = '''
def _finite(a, out=None):
    """``a`` with nan and +-inf as its dtype's largest finite value (+-), for ``T * A`` guards.

    In ``T * _finite(A)`` a factor ``T`` that has underflowed to 0 wins over an
    overflowed ``A`` (eafo_sym.codegen.stable.decay_guard). Eager uses one
    nan_to_num pass; under torch.compile the same map is fmin/fmax, because
    Inductor's nan_to_num tests nan one element at a time (about twice the
    cost of the whole fused kernel) while fmin/fmax vectorise. ``out``: a dead
    buffer of ``a``'s dtype and shape to write into (eager only).
    """
    big = torch.finfo(a.dtype).max
    if torch.compiler.is_compiling():
        return torch.fmax(torch.fmin(a, a.new_tensor(big)), a.new_tensor(-big))
    return torch.nan_to_num(a, nan=big, out=out)


def _finite_(a):
    """:func:`_finite` in place, on a temporary the caller owns."""
    if torch.compiler.is_compiling():
        return _finite(a)
    return a.nan_to_num_(nan=torch.finfo(a.dtype).max)


def _zero_wins_(p, *zeros):
    """The fresh product ``p`` of ``zeros`` and a cofactor, with a factor that is 0 winning.

    Where a zero factor has underflowed to 0 against an overflowed cofactor, ``p``
    holds ``0 * inf = nan``; that becomes 0, and everything else stays the plain
    product (``1 * inf`` is inf). Adding ``clamp(z, 0, 0)`` (0, or nan where ``z``
    is nan) keeps a nan input nan. An ``inf - inf`` inside the cofactor also
    becomes 0 (eafo_sym.codegen.stable.zero_guard). Eager uses nan_to_num, with no
    bool tensor: comparisons and masked writes are 5-20x slower than arithmetic in
    torch's CPU kernels. torch.compile gets a compare-and-select, which Inductor
    fuses (its nan_to_num tests nan one element at a time).
    """
    if torch.compiler.is_compiling():
        p = torch.where(p == p, p, 0.0)
    else:
        p = p.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
    for z in zeros:
        p = p.add_(torch.clamp(z, 0.0, 0.0))
    return p


def _reduce_to(grad, p):
    """Sum a parameter gradient over the dimensions ``p`` was broadcast along."""
    if p.dim() == 0:
        return grad.sum(dtype=p.dtype)
    return grad.sum_to_size(p.shape).to(p.dtype)
'''

_TORCH_REGISTRY = '''
def get_act_layer(name):
    """The class registered as ``name`` (timm's ``get_act_layer``); classes pass through."""
    if isinstance(name, type):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}"
        ) from None
'''


def _header(forms: Sequence[ActivationForm], command: str, imports: Sequence[str]) -> list[str]:
    lines = [
        f"{GENERATED_MARKER} -- do not edit.",
        f"# Regenerate with: {command}",
        "# Printed by eafo_sym.codegen from these closed forms (SymPy, x = input):",
    ]
    for f in forms:
        lines.append(f"#   {f.name}: {sp.sstr(f.expr)}")
    lines += ["# ruff: noqa", ""]
    return lines + list(imports)


def torch_source(
    forms: Iterable[ActivationForm], command: str = DEFAULT_COMMAND, doc: str | None = None
) -> str:
    """A standalone torch module file for ``forms`` (imports only torch and math).

    Args:
        forms: The activations; sorted by name in the output.
        command: The command line written into the header.
        doc: The generated module's docstring.

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
    doc = doc or (
        "Torch activation modules printed from SymPy closed forms by eafo_sym.codegen.\n\n"
        "Each class has an analytic backward that saves only its input. ``ACTIVATIONS``\n"
        "maps registry names to classes and ``get_act_layer(name)`` looks them up\n"
        "(timm's ``act_layer`` convention: every class constructs with no arguments).\n"
    )
    parts = _header(forms, command, [])
    parts += [f'"""{doc}"""', "", "import math", "", "import torch", ""]
    all_names = sorted(["ACTIVATIONS", "get_act_layer", *names])
    parts += ["__all__ = [" + ", ".join(repr(n) for n in all_names) + "]", ""]
    text = "\n".join(parts) + _TORCH_HELPERS
    for f in forms:
        text += "\n\n" + _torch_block(f)
    text += "\n\n#: Registry name -> class, as in eafo_sym.activations.\n"
    text += "ACTIVATIONS: dict[str, type] = {\n"
    text += "".join(f"    {f.name!r}: {f.class_name},\n" for f in forms) + "}\n\n"
    text += _TORCH_REGISTRY
    # `math` is needed only where a literal is inf/nan; keep the import, ruff-quiet.
    return re.sub(r"\n{3,}(?=\S)", "\n\n\n", text)


def _array_function(f: ActivationForm, printer, suffix: str, expr: sp.Expr) -> list[str]:
    params = [f"{p}={float(d)!r}" for p, d in f.params.items()]
    lines, (e,) = _cse_lines([expr], printer)
    what = "value" if not suffix else "derivative d/dx"
    return [
        f"def {f.name}{suffix}({', '.join(['x', *params])}):",
        f'    """{f.class_name} {what}; f(x) = ``{_doc_expr(f.expr)}``."""',
        *lines,
        f"    return {e}",
        "",
        "",
    ]


def numpy_source(
    forms: Iterable[ActivationForm], backend: str = "numpy", command: str = DEFAULT_COMMAND
) -> str:
    """A standalone NumPy/SciPy (or JAX) file: ``<name>(x, ...)`` and ``<name>_grad(x, ...)``.

    >>> from eafo_sym import x
    >>> src = numpy_source([ActivationForm("relu", sp.Max(0, x))])
    >>> "def relu_grad(x):" in src
    True
    """
    if backend not in ("numpy", "jax"):
        raise ValueError(f"unknown backend {backend!r}; choose numpy or jax")
    forms = sorted(forms, key=lambda f: f.name)
    printer = EafoSciPyPrinter() if backend == "numpy" else EafoJaxPrinter()
    imports = (
        ["import math", "", "import numpy", "import scipy.special", ""]
        if backend == "numpy"
        else ["import math", "", "import jax", "import jax.numpy", "import jax.scipy.special", ""]
    )
    parts = _header(forms, command, [])
    parts += [f'"""{backend} activations printed from SymPy closed forms by eafo_sym.codegen."""']
    parts += ["", *imports, ""]
    for f in forms:
        parts += _array_function(f, printer, "", f.forward)
        parts += _array_function(f, printer, "_grad", f.gradients[X])
    parts += ["#: Registry name -> (function, derivative).", "ACTIVATIONS = {"]
    parts += [f"    {f.name!r}: ({f.name}, {f.name}_grad)," for f in forms]
    parts += ["}", ""]
    return "\n".join(parts)
