"""Activations prepared for printing: the stable forward and its analytic gradients.

What every backend prints for one activation ``f(x; p1, p2, ...)`` is an
:class:`ActivationForm`: the forward in the stable, guarded form of
:mod:`eafo_sym.codegen.stable`, and ``df/dv`` for ``x`` and every parameter, computed by
SymPy, collected around their transcendental factors (never expanded), stable and guarded
too; :attr:`ActivationForm.hessian` holds the second derivatives, prepared the same way,
for the torch modules' double backward and forward-over-reverse derivatives.
:func:`common_subexpressions` is the CSE the printers share; the symbol :data:`GRAD_OUTPUT`
stands for the incoming gradient of a backward, :func:`direction` for a tangent (the
direction of a forward-mode derivative, or the cotangent of a backward's output).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from ..symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from .stable import guard_products, stabilize, zero_guard

__all__ = ["GRAD_OUTPUT", "ActivationForm", "class_name", "common_subexpressions", "direction"]

#: A backward's incoming gradient (``grad_output`` in the torch code, ``g`` in the kernels).
GRAD_OUTPUT = sp.Symbol("grad_output", real=True)

#: Names the printed code uses besides the parameters, which a parameter cannot take.
RESERVED = frozenset({"x", "grad_output", "ctx", "self", "torch", "math"})


def direction(v: sp.Symbol) -> sp.Symbol:
    """The symbol of the direction (tangent) along ``v``: ``_d_x``, ``_d_epsilon``, ...

    A leading underscore keeps it apart from every parameter name (parameters cannot
    start with one).

    >>> from eafo_sym import x
    >>> direction(x)
    _d_x
    """
    return sp.Symbol(f"_d_{v}", real=True)

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
    """SymPy's steps ``Heaviside(u, 1/2)`` at a kink -> the left derivative, torch.nn's choice.

    SymPy's derivative of Max/Min carries the value 1/2 at the kink, and a
    sum of such steps is no one-sided derivative at all (``d/dx`` of
    ``alpha*min(0, x) + max(0, x)`` would be ``(1 + alpha)/2`` there, with
    value 0 at 0 it would be 0, outside ``[alpha, 1]``). Each step takes its
    value from the left instead, SymPy's and the stable forms' own piece
    selectors alike: ``Heaviside(u, 0)`` where ``u`` increases, ``1 -
    Heaviside(-u, 0)`` where it decreases (so every step is printed in the
    one cheap ``ceil(clamp(u, 0, 1))`` form). The result is ``f'(x0-)``
    wherever the steps' coefficients are continuous, which is what torch.nn's
    ReLU, LeakyReLU, PReLU, ELU, CELU and SELU return at 0.

    >>> from eafo_sym.symbolic.symbols import x
    >>> _torch_subgradient(sp.diff(sp.Min(0, x) / 10 + sp.Max(0, x), x)).subs(x, 0)
    1/10
    >>> _torch_subgradient(sp.Piecewise((2 * x, x < 0), (x, True))).args[0][1]
    x <= 0
    """

    def left(a: sp.Heaviside) -> sp.Expr:
        u = a.args[0]
        slope = sp.diff(u, X)
        if slope.is_number and slope.is_negative:
            return 1 - sp.Heaviside(-u, 0)
        return sp.Heaviside(u, 0)

    def closed_on_the_left(r: sp.Rel) -> sp.Rel:
        slope = sp.diff(r.lhs - r.rhs, X)
        if not (slope.is_number and slope.is_nonzero):
            return r
        # Just left of the kink lhs - rhs has the sign of -slope: is r true there?
        below = isinstance(r, (sp.StrictLessThan, sp.LessThan))
        holds_left = below == bool(slope.is_positive)
        if holds_left:
            return (sp.LessThan if below else sp.GreaterThan)(r.lhs, r.rhs)
        return (sp.StrictLessThan if below else sp.StrictGreaterThan)(r.lhs, r.rhs)

    # Every step, also the stable forms' own Heaviside(-x, 0) piece selectors, and every
    # Piecewise condition: a derivative mixing sides at a kink (EAFO-LeakyReLU's 1/alpha
    # piece on x < 0) is neither one-sided value.
    e = e.replace(lambda a: isinstance(a, sp.Heaviside), left)
    return e.replace(
        lambda a: isinstance(a, (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan,
                                 sp.GreaterThan)) and a.has(X),
        closed_on_the_left,
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
            if not str(p).isidentifier() or str(p) in RESERVED or str(p).startswith("_"):
                raise ValueError(
                    f"{self.name}: parameter name {p} cannot be a Python argument of the "
                    f"printed code (reserved: {', '.join(sorted(RESERVED))}, names "
                    "starting with '_')"
                )

    @classmethod
    def from_activation(cls, act, learnable: Iterable[sp.Symbol] | None = None) -> ActivationForm:
        """From an activation of :mod:`eafo_sym.catalog` (a ``symbolic.bases.Activation``)."""
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

    @property
    def variables(self) -> list[sp.Symbol]:
        """``x`` and the parameters: what the printed functions differentiate by, in order."""
        return [X, *self.params]

    @cached_property
    def hessian(self) -> dict[tuple[sp.Symbol, sp.Symbol], sp.Expr]:
        """d^2 f / du dv for every pair of :attr:`variables`, both orders, as printed.

        SymPy's second derivatives of the stable closed form, prepared like
        :attr:`gradients`. A kink's Dirac delta (``d Heaviside(x)/dx``) is dropped:
        the printed derivatives hold almost everywhere, as torch's own do (the second
        derivative of ``relu`` is 0).

        >>> from eafo_sym import x, eps
        >>> f = ActivationForm("crrelu", sp.Max(0, x) + eps * x * sp.exp(-x**2 / 2), {eps: 0.01})
        >>> f.hessian[x, x]
        epsilon*decay_guard(exp(-x**2/2), x*(x**2 - 3))
        >>> f.hessian[x, eps] == f.hessian[eps, x]
        True
        """
        out = {}
        vs = self.variables
        for i, u in enumerate(vs):
            for v in vs[i:]:
                d = sp.diff(self.stable_expr, u, v).replace(
                    lambda a: isinstance(a, sp.DiracDelta), lambda a: sp.S.Zero
                )
                d = guard_products(_torch_subgradient(_lean(d)), X)
                out[u, v] = out[v, u] = d
        return out


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


def common_subexpressions(
    exprs: Sequence[sp.Expr], prefix: str, *, hoist_guards: bool = True
) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Shared subexpressions of ``exprs`` as temporaries ``<prefix>0, <prefix>1, ...``.

    Args:
        exprs: The expressions to compute together.
        prefix: Name of the temporaries.
        hoist_guards: Give every non-symbol factor of a :class:`~.stable.zero_guard` its own
            temporary too: printers use it two or three times.

    Returns:
        ``(assignments, reduced)`` as :func:`sympy.cse` returns them, in canonical order.

    >>> from eafo_sym import x
    >>> common_subexpressions([sp.exp(x) + 1, sp.exp(x) * x], "t")
    ([(t0, exp(x))], [t0 + 1, t0*x])
    """
    symbols = sp.numbered_symbols(prefix)
    repl, reduced = sp.cse(list(exprs), symbols=symbols, order="canonical")
    if hoist_guards:
        repl, reduced = _hoist_guard_factors(repl, reduced, symbols)
    return repl, reduced
