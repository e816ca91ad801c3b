"""The C++ printer of the fused kernels: SymPy's C99 printer over ``at::vec::Vectorized``.

The kernels of :mod:`eafo_sym.codegen.assemblers.cpp` compute on ATen's portable SIMD type,
so that they use the same vectorised ``erf``/``tanh``/``log`` (SLEEF) as torch's own CPU
kernels. :class:`VecPrinter` is :class:`sympy.printing.c.C99CodePrinter` with the nodes of
the stable, guarded forms printed for that type: constants are broadcast (``V(T(c))``), math
functions are methods (``x.tanh()``), comparisons are lane masks and branches blends. It keeps
the torch modules' semantics at the edges: ``decay_guard`` maps its cofactor's nan and +-inf to
+-the largest finite value, ``zero_guard`` sets a nan product to 0 and adds ``clamp(z, 0, 0)``
of each zero factor (a nan input stays nan), ``Heaviside(u, 0)`` is ``ceil(clamp(u, 0, 1))``
and Max/Min propagate nan, as ``torch.clamp`` does.

A guard that would hide a parameter's nan or inf takes the parameters' *plain* value
(``plain_<names>``, hoisted out of the loop by the assembler: 0 where those parameters are
finite, nan where one is not): where it is nan the guard lets the plain product through, so a
nan or infinite parameter propagates as in the plain formula.

Cheap forms where the hardware has them: ``exp`` is the prelude's ``eafo_exp`` (inlined;
float32 within 2 ulps, float64 SLEEF's), a Max or Min with a constant is one
``clamp_min``/``clamp_max`` (x86's max and min return their second operand for a nan, which
is how at::vec's clamps propagate it), and a Heaviside step is one ``clamp`` and a ``ceil``.

>>> import sympy as sp
>>> from eafo_sym import x
>>> VecPrinter().doprint(sp.Max(0, x) + x * sp.exp(-x**2 / 2))
'(x*eafo_exp(V(T(-0.5))*(x*x)) + at::vec::clamp_min(x, V(T(0.0))))'
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import sympy as sp
from sympy.codegen.cfunctions import expm1
from sympy.printing.c import C99CodePrinter

from ...symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from ..forms import GRAD_OUTPUT
from ..stable import erfc_
from .base import NestedMinMax, Refusals, UnsupportedNodeError

__all__ = ["VEC_METHODS", "VecPrinter", "plain_name"]

#: Elementwise functions -> the ``at::vec::Vectorized`` method that computes them
#: (``exp`` prints as the prelude's inlined ``eafo_exp`` instead).
VEC_METHODS: dict[type, str] = {
    expm1: "expm1",
    sp.log: "log",
    sp.tanh: "tanh",
    sp.erf: "erf",
    sp.erfc: "erfc",
    erfc_: "erfc",
    sp.Abs: "abs",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.atan: "atan",
}


def _enclosed(s: str) -> bool:
    """Whether ``s`` is one parenthesised group, ``(...)``."""
    if not (s.startswith("(") and s.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(s):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and i < len(s) - 1:
            return False
    return True


def plain_name(params: Iterable[sp.Symbol]) -> str:
    """The kernel's name for the plain value of ``params`` (see the module docstring).

    >>> plain_name([sp.Symbol("epsilon"), sp.Symbol("alpha")])
    'plain_alpha_epsilon'
    """
    return "plain_" + "_".join(sorted(str(p) for p in params))


class VecPrinter(NestedMinMax, Refusals, C99CodePrinter):
    """Prints a guarded, stable SymPy expression as a C++ ``Vectorized`` expression.

    ``V`` is ``at::vec::Vectorized<T>`` in the printed code; symbols print as the names given
    (x, parameters, CSE temporaries are ``V`` values in scope), others as their own names.
    Nodes outside the supported set raise :class:`UnsupportedNodeError`.

    >>> from eafo_sym import x
    >>> VecPrinter().doprint(sp.Piecewise((x, x > 0), (2 * x, True)))
    'V::blendv(V(T(2.0))*x, x, (x > V(T(0.0))))'
    >>> VecPrinter().doprint(sp.gamma(x))
    Traceback (most recent call last):
    ...
    eafo_sym.codegen.printers.base.UnsupportedNodeError: unsupported SymPy node gamma ...
    """

    backend = "cpp"
    _nested_calls = ("at::vec::maximum", "at::vec::minimum")  # propagate nan, as torch.clamp

    def __init__(
        self,
        names: dict[sp.Symbol, str] | None = None,
        settings=None,
        params: Iterable[sp.Symbol] | None = None,
    ) -> None:
        """``names``: the kernel's name of each symbol; ``params``: the activation's parameters.

        A guard whose operands contain some of ``params`` prints with their plain value.
        ``params`` defaults to the symbols ``names`` names, other than x and the incoming
        gradient (the assembler names exactly those).
        """
        super().__init__(settings)
        self.names = dict(names or {})
        if params is None:
            params = [s for s in self.names if s not in (X, GRAD_OUTPUT)]
        self.params = frozenset(params)
        #: The parameters each temporary of the printed code depends on (the assembler's CSE).
        self.param_deps: dict[sp.Symbol, frozenset[sp.Symbol]] = {}
        #: The parameter sets whose plain value the printed code used (the assembler hoists them).
        self.plain_sets: set[frozenset[sp.Symbol]] = set()

    def depends_on(self, e: sp.Basic) -> frozenset[sp.Symbol]:
        """The parameters ``e`` depends on, through the temporaries it names too."""
        out: set[sp.Symbol] = set()
        for s in e.free_symbols:
            out |= {s} if s in self.params else self.param_deps.get(s, frozenset())
        return frozenset(out)

    def _print(self, expr, **kwargs):
        """Numbers as one constant V(T(c)); other nodes only through this package's methods.

        C99CodePrinter's methods print math.h calls and C operators (fmod, !, ?:) that do
        not take a Vectorized, so a node that only SymPy has a method for is refused by name.
        """
        if isinstance(expr, sp.Expr) and expr.is_number:
            if expr.is_extended_real is False:
                raise self.unsupported(expr)
            v = float(sp.N(expr, 30))
            if math.isnan(v):
                lit = "std::numeric_limits<double>::quiet_NaN()"
            elif math.isinf(v):
                lit = ("" if v > 0 else "-") + "std::numeric_limits<double>::infinity()"
            else:
                lit = repr(v)
            return f"V(T({lit}))"
        for c in type(expr).__mro__:  # the method SymPy's dispatch would call, and its class
            name = f"_print_{c.__name__}"
            owner = next((k for k in type(self).__mro__ if name in vars(k)), None)
            if owner is not None:
                if owner.__module__.startswith("sympy."):
                    raise self.unsupported(expr)
                break
        return super()._print(expr, **kwargs)

    def _operand(self, e: sp.Basic) -> str:
        """``e`` printed so that a method call or a product binds to all of it."""
        s = self._print(e)
        return s if _enclosed(s) or not isinstance(e, (sp.Add, sp.Mul)) else f"({s})"

    def _print_Symbol(self, expr):
        """The kernel's own names (x, g, p_alpha): C's reserved-word mangling does not apply."""
        return self.names.get(expr, expr.name)

    def _print_Add(self, expr):
        """Terms in a fixed order, a term that is not negated first; parenthesised as a whole."""
        terms = sorted(expr.args, key=sp.default_sort_key)
        # A term that is not negated goes first: no leading unary minus to print.
        terms.sort(key=lambda t: t.could_extract_minus_sign())
        out = self._print(terms[0])
        for t in terms[1:]:
            if t.could_extract_minus_sign() and not t.is_number:
                out += f" - {self._operand(-t)}"
            else:
                out += f" + {self._operand(t)}"
        return f"({out})"

    def _print_Mul(self, expr):
        """Coefficient first, then factors; negative integer powers become one division."""
        num, den = [], []
        for f in expr.args:
            if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp < 0 and not f.is_number:
                den.append(f.base ** (-f.exp))
            else:
                num.append(f)
        coeff = [f for f in num if f.is_number]
        rest = [f for f in num if not f.is_number]
        parts = [self._print(sp.Mul(*coeff))] if coeff and sp.Mul(*coeff) != 1 else []
        parts += [self._operand(f) for f in sorted(rest, key=sp.default_sort_key)]
        top = "*".join(parts) if parts else "V(T(1))"
        if not den:
            return top
        bottom = "*".join(self._operand(f) for f in sorted(den, key=sp.default_sort_key))
        return f"({top} / {bottom if len(den) == 1 else f'({bottom})'})"

    def _print_Pow(self, expr):
        """Small integer powers as products, square roots as methods: no pow(V, int) in at::vec."""
        b, n = expr.base, expr.exp
        if n.is_Integer and 1 <= n <= 4:
            a = self._operand(b)
            return "(" + "*".join([a] * int(n)) + ")"
        if n.is_Integer and n < 0:
            inner = self._print_Pow(b ** (-n)) if -n > 1 else self._operand(b)
            return f"(V(T(1)) / {inner})"
        if n == sp.S.Half:
            return f"{self._operand(b)}.sqrt()"
        if n == -sp.S.Half:
            return f"{self._operand(b)}.rsqrt()"
        if isinstance(b, sp.Symbol) or b.is_number or n.is_number:
            return f"{self._operand(b)}.pow({self._print(n)})"
        raise self.unsupported(expr)

    def _clamped(self, expr, clamp: str, nested: str) -> str:
        """A Max/Min: a constant argument is one clamp_min/clamp_max of the nested rest."""
        consts = [a for a in expr.args if a.is_number]
        rest = [a for a in expr.args if not a.is_number]
        if len(consts) != 1 or not rest or sp.nan in consts:
            return self._nest(expr, nested)
        inner = self._print(rest[0]) if len(rest) == 1 else self._nest(type(expr)(*rest), nested)
        return f"at::vec::{clamp}({inner}, {self._print(consts[0])})"

    def _print_Max(self, expr):
        """clamp_min against a constant (one instruction), else nested at::vec::maximum."""
        return self._clamped(expr, "clamp_min", self._nested_calls[0])

    def _print_Min(self, expr):
        """clamp_max against a constant (one instruction), else nested at::vec::minimum."""
        return self._clamped(expr, "clamp_max", self._nested_calls[1])

    def _exp(self, arg: sp.Expr) -> str:
        """``eafo_exp(arg)``, with one pair of parentheses."""
        s = self._print(arg)
        return f"eafo_exp({s[1:-1] if _enclosed(s) else s})"

    def _print_exp(self, expr):
        """The prelude's eafo_exp: inlined, where SLEEF's exp is a call that spills registers."""
        return self._exp(expr.args[0])

    def _print_vector_method(self, expr):
        """A Vectorized method (``x.tanh()``) where C99 calls math.h, which takes no vectors."""
        return f"{self._operand(expr.args[0])}.{VEC_METHODS[type(expr)]}()"

    def _print_sigmoid(self, expr):
        """1/(1 + exp(-t)), already stable: exp(-t) = inf gives 0, not nan."""
        return f"(V(T(1)) / (V(T(1)) + {self._exp(-expr.args[0])}))"

    def _print_softplus(self, expr):
        """max(t, 0) + log1p(exp(-|t|)): no overflow, the torch printer's form."""
        t = self._print(expr.args[0])
        return f"(at::vec::clamp_min({t}, V(T(0))) + eafo_exp(({t}).abs().neg()).log1p())"

    def _print_Heaviside(self, expr):
        """torch's printed step ceil(clamp(u, 0, 1)), its value at 0 blended in unless 0."""
        u = self._print(expr.args[0])
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        step = f"at::vec::clamp({u}, V(T(0)), V(T(1))).ceil()"
        if h0 == 0:
            return step  # 0 at 0, 1 above, nan at nan: torch's printed clamp-ceil form
        return f"V::blendv({step}, {self._print(h0)}, ({u} == V(T(0))))"

    def _print_Relational(self, expr):
        """A lane mask, parenthesised: it is an operand of &, | or blendv."""
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _print_And(self, expr):
        """Masks combine with &, lane by lane (C's && takes one truth value)."""
        return "(" + " & ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr):
        """Masks combine with |, lane by lane (C's || takes one truth value)."""
        return "(" + " | ".join(self._print(a) for a in expr.args) + ")"

    def _print_Piecewise(self, expr):
        """Nested V::blendv from the default branch up (C's ternary takes one truth value)."""
        pieces = list(expr.args)
        if pieces[-1].cond != sp.true:
            raise UnsupportedNodeError(
                f"the {self.backend} printer needs a default branch (True) in {expr}"
            )
        out = self._print(pieces[-1].expr)
        for piece in reversed(pieces[:-1]):
            out = f"V::blendv({out}, {self._print(piece.expr)}, {self._print(piece.cond)})"
        return out

    def _plain(self, *exprs: sp.Basic) -> str:
        """``, plain_<names>`` for the parameters in ``exprs`` (nothing if there are none)."""
        used = frozenset().union(*(self.depends_on(e) for e in exprs))
        if not used:
            return ""
        self.plain_sets.add(used)
        return f", {plain_name(used)}"

    def _print_decay_guard(self, expr):
        """T * eafo_finite(A), the prelude's helper: the torch modules' _finite."""
        t, a = expr.args
        return f"({self._operand(t)}*eafo_finite({self._print(a)}{self._plain(a)}))"

    def _print_zero_guard(self, expr):
        """The plain product with its nan set to 0, plus each zero factor's nan (the prelude's)."""
        *zeros, cof = expr.args
        prod = "*".join(self._operand(a) for a in [*zeros, cof])
        out = f"eafo_nan_to_zero({prod}{self._plain(*expr.args)})"
        for z in zeros:
            out += f" + eafo_nan_or_zero({self._print(z)})"
        return f"({out})"


# One method per function of the table (SymPy's printers dispatch on the node's class name).
for _function in VEC_METHODS:
    setattr(VecPrinter, f"_print_{_function.__name__}", VecPrinter._print_vector_method)
