"""Numerically stable forms, applied to SymPy expressions before printing.

Two rewrites make printed code finite wherever the exact value is finite:

1. *Named stable primitives.* ``1/(1 + exp(-t))`` becomes :class:`sigmoid`
   and ``log(1 + exp(t))`` becomes :class:`softplus`; the printers map them to
   library functions that never overflow (``exp(800)`` is ``inf`` in float64,
   ``sigmoid(800)`` is 1). Their derivatives are stated in the same terms, so
   gradients stay stable too.
2. *Zero wins over overflow.* In a product ``T * A`` where ``T`` is
   transcendental in ``x`` (exp, sigmoid, Heaviside, Piecewise, ...) and ``A``
   is a polynomial in ``x``, the exact value tends to 0 wherever ``T``
   underflows to 0, because every such ``T`` in our forms decays at least
   exponentially while ``A`` grows polynomially. Floating point instead gives
   ``0 * inf = nan`` once ``A`` overflows (``x**2`` overflows at ``|x| > 256``
   in float16). :func:`guard_products` wraps such products in
   :class:`decay_guard`, printed as ``T * nan_to_num(A)`` (an overflowed
   ``A`` becomes the largest finite value and an ``inf - inf`` in it 0, so
   ``0 * A`` is 0 and ``inf * A`` is inf; the torch modules map that nan to
   the largest value instead, which is the same where ``T`` is 0). Products of bounded or
   polynomially growing factors, where a factor that is not 0 must still give
   ``1 * inf = inf``, use :class:`zero_guard`, printed as
   ``where(T == 0, T, T*A)`` (in the torch modules without a bool mask). A nan input
   still gives nan, because ``T(nan)`` is nan, not 0.

>>> from eafo_sym import x
>>> stabilize(x / (1 + sp.exp(-x)))
x*sigmoid(x)
>>> sp.diff(softplus(x), x)
sigmoid(x)
>>> guard_products(x * sp.exp(-x**2 / 2), x)
decay_guard(exp(-x**2/2), x)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1

__all__ = [
    "sigmoid",
    "softplus",
    "erfc_",
    "zero_guard",
    "decay_guard",
    "stabilize",
    "guard_products",
]


class _Primitive(sp.Function):
    """A function the printers map to a library call; at numbers, its closed form."""

    @staticmethod
    def _closed_form(t: sp.Expr) -> sp.Expr:
        raise NotImplementedError

    @classmethod
    def eval(cls, t):
        if t.is_Number:
            return cls._closed_form(t)
        return None

    def _eval_evalf(self, prec):
        return self._closed_form(self.args[0])._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class sigmoid(_Primitive):  # noqa: N801 - lower case like sp.exp
    """The logistic function ``1/(1 + exp(-t))``, printed as a library call."""

    @staticmethod
    def _closed_form(t):
        return 1 / (1 + sp.exp(-t))

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, t, **kwargs):
        return self._closed_form(t)


class softplus(_Primitive):  # noqa: N801 - lower case like sp.exp
    """``log(1 + exp(t))``, printed in a form that cannot overflow."""

    @staticmethod
    def _closed_form(t):
        return sp.log(1 + sp.exp(t))

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_log(self, t, **kwargs):
        return self._closed_form(t)


class erfc_(_Primitive):  # noqa: N801 - lower case like sp.erfc
    """``erfc(t)`` kept as written: SymPy's erfc turns ``erfc(-u)`` back into ``2 - erfc(u)``."""

    @staticmethod
    def _closed_form(t):
        return sp.erfc(t)

    def fdiff(self, argindex=1):
        t = self.args[0]
        return -2 * sp.exp(-(t**2)) / sp.sqrt(sp.pi)

    def _eval_rewrite_as_erfc(self, t, **kwargs):
        return self._closed_form(t)


class zero_guard(sp.Function):  # noqa: N801 - lower case like sp.exp
    """``T1*...*Tk*A`` where a factor ``Ti == 0`` wins over an overflowed cofactor.

    The last argument ``A`` is the cofactor that may overflow; the others are
    the factors that may underflow to 0 (see the module docstring). Printed
    as ``where(T == 0, T, T*A)``; the generated torch modules compute the plain
    product and set its nans to 0 instead (``_zero_wins_``), which avoids bool
    tensors and differs only where an ``inf - inf`` inside ``A`` meets a
    non-zero ``T`` (0 there instead of nan).
    """

    def _eval_rewrite_as_Mul(self, *args, **kwargs):
        return sp.Mul(*args)

    def _eval_evalf(self, prec):
        return sp.Mul(*self.args)._eval_evalf(prec)


class decay_guard(sp.Function):  # noqa: N801 - lower case like sp.exp
    """``T*A`` for a decaying (wild) ``T``: an overflowed ``A`` counts as the largest finite value.

    Where ``A`` overflows, a wild factor such as ``exp(-x**2/2)`` has already
    underflowed to 0, or overflowed itself; either way ``T * nan_to_num(A)``
    gives the limit (0 or inf) in one extra pass. ``nan_to_num`` also maps an
    ``inf - inf`` inside ``A`` to 0 (the generated torch modules' ``_finite``
    to the largest value: either way ``0 * A`` is 0); a nan *input* still gives
    nan because ``T`` depends on x and ``T(nan)`` is nan.
    """

    nargs = 2

    def _eval_rewrite_as_Mul(self, t, a, **kwargs):
        return t * a

    def _eval_evalf(self, prec):
        return (self.args[0] * self.args[1])._eval_evalf(prec)


def _exp_of(e: sp.Expr) -> sp.Expr | None:
    """The ``t`` of ``1 + exp(t)`` or None."""
    if isinstance(e, sp.Add) and len(e.args) == 2 and sp.S.One in e.args:
        other = e.args[0] if e.args[1] == 1 else e.args[1]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _erfc_form(e: sp.Basic) -> sp.Expr | None:
    """``1 + erf(u)`` -> ``erfc(-u)`` and ``1 - erf(u)`` -> ``erfc(u)`` inside a sum, else None.

    ``1 + erf(u)`` loses all relative accuracy for u << 0 (GELU at x = -8 is
    ``1e-15`` computed as a difference of numbers near 1); erfc does not.
    """
    if not isinstance(e, sp.Add) or sp.S.One not in e.args:
        return None
    for term in e.args:
        if isinstance(term, sp.erf):
            new = erfc_(-term.args[0])
        elif term.could_extract_minus_sign() and isinstance(-term, sp.erf):
            new = erfc_((-term).args[0])
        else:
            continue
        rest = list(e.args)
        rest.remove(sp.S.One)
        rest.remove(term)
        return sp.Add(*rest, new)
    return None


def _expm1_form(e: sp.Basic) -> sp.Expr | None:
    """``exp(u) - 1`` -> ``expm1(u)`` inside a sum (ELU near 0 would lose its digits)."""
    if not isinstance(e, sp.Add) or sp.S.NegativeOne not in e.args:
        return None
    for term in e.args:
        if isinstance(term, sp.exp):
            rest = list(e.args)
            rest.remove(sp.S.NegativeOne)
            rest.remove(term)
            return sp.Add(*rest, expm1(term.args[0]))
    return None


def stabilize(expr: sp.Expr) -> sp.Expr:
    """Rewrite to stable primitives: sigmoid, softplus and erfc.

    ``1/(1+exp(-t))`` becomes ``sigmoid(t)``, ``log(1+exp(t))`` becomes
    ``softplus(t)``, ``1 +- erf(u)`` becomes ``erfc(-+u)`` and ``exp(u) - 1``
    becomes ``expm1(u)``.

    >>> from eafo_sym import x
    >>> stabilize(sp.log(1 + sp.exp(2 * x)) / 2)
    softplus(2*x)/2
    >>> stabilize(x * (1 + sp.erf(x)) / 2)
    x*erfc_(-x)/2
    """
    expr = expr.replace(
        lambda e: isinstance(e, (sp.cosh, sp.sinh)), lambda e: e.rewrite(sp.exp)
    )
    expr = expr.replace(lambda e: _erfc_form(e) is not None, _erfc_form)
    expr = expr.replace(lambda e: _expm1_form(e) is not None, _expm1_form)

    def is_target(e: sp.Basic) -> bool:
        if isinstance(e, sp.log):
            return _exp_of(e.args[0]) is not None
        return (
            isinstance(e, sp.Pow)
            and e.exp.is_Integer
            and e.exp < 0
            and _exp_of(e.base) is not None
        )

    def rewrite(e: sp.Basic) -> sp.Expr:
        if isinstance(e, sp.log):
            return softplus(_exp_of(e.args[0]))
        return sigmoid(-_exp_of(e.base)) ** (-e.exp)

    expr = expr.replace(is_target, rewrite)
    # A ratio of exponentials is a polynomial in sigmoid when it has no bare exp left.
    expr = expr.replace(lambda e: isinstance(e, sp.Mul), _rational_in_sigmoid)
    expr = expr.replace(lambda e: isinstance(e, sp.Mul), _merge_exponentials)
    return expr.replace(
        lambda e: isinstance(e, sp.exp) and e.args[0].is_polynomial(),
        lambda e: sp.exp(sp.factor(e.args[0])),
    )


def _linear_rate(e: sp.exp) -> sp.Expr | None:
    """``a`` for ``exp(a*x)`` with a free of x (the only symbol that is not a parameter)."""
    arg = e.args[0]
    xs = [s for s in arg.free_symbols if s.name == "x"]
    if len(xs) != 1:
        return None
    a = sp.simplify(arg / xs[0])
    return a if xs[0] not in a.free_symbols else None


def _rational_in_sigmoid(m: sp.Mul) -> sp.Expr:
    """A rational function of ``exp(a*x)`` as a polynomial in ``s = sigmoid(a*x)``, if it is one.

    With ``exp(a*x) = s/(1 - s)`` and ``1 + exp(a*x) = 1/(1 - s)``, a ratio
    whose denominator degree in ``exp(a*x)`` is at least the numerator's becomes
    a polynomial in the bounded ``s``: no ``inf/inf`` where ``exp`` overflows.
    Anything else is returned unchanged.
    """
    lin = [e for e in m.atoms(sp.exp) if _linear_rate(e) is not None]
    if not lin or not m.has(sigmoid):
        return m
    # Back to exponentials, so that exp(x)*sigmoid(-x)**2 is seen as exp(x)/(1 + exp(x))**2.
    m = m.replace(lambda e: isinstance(e, sigmoid), lambda e: e.rewrite(sp.exp))
    lin = [e for e in m.atoms(sp.exp) if _linear_rate(e) is not None]
    rate = min((_linear_rate(e) for e in lin), key=lambda a: sp.count_ops(a))
    (xsym,) = [s for s in lin[0].args[0].free_symbols if s.name == "x"]
    s = sp.Dummy("s")
    subs = {}
    for e in lin:
        k = sp.simplify(_linear_rate(e) / rate)
        if not k.is_Integer:
            return m
        subs[e] = (s / (1 - s)) ** k
    num, den = sp.fraction(sp.cancel(sp.together(m.xreplace(subs))))
    if den.has(s):
        return m
    return (sp.factor_terms(num) / den).xreplace({s: sigmoid(rate * xsym)})


def _merge_exponentials(m: sp.Mul) -> sp.Expr:
    """Multiply out products of several exp-bearing factors into single exponentials.

    ``exp(-x**2/2) * cosh(x)**2`` overflows (cosh) and underflows (exp) where
    their product is tiny; ``exp(-x**2/2 + 2*x)/4 + ...`` does neither.
    """
    bearing = [f for f in m.args if f.has(sp.exp)]
    if len(bearing) < 2 or not any(isinstance(f, sp.exp) for f in bearing):
        return m
    rest = [f for f in m.args if not f.has(sp.exp)]
    merged = sp.powsimp(sp.expand(sp.Mul(*bearing)), combine="exp")
    return sp.Mul(*rest) * merged


#: Functions bounded on the real line whatever their argument.
_BOUNDED = (sigmoid, erfc_, sp.erf, sp.erfc, sp.tanh, sp.Heaviside, sp.sin, sp.cos, sp.atan)


def _is_polynomial(f: sp.Expr, x: sp.Symbol) -> bool:
    """A polynomial in x (positive integer powers): it can overflow but never decays to 0."""
    return f.is_polynomial(x) and not f.atoms(sp.Function, sp.Piecewise, sp.Max, sp.Min)


def _is_bounded(f: sp.Expr, x: sp.Symbol) -> bool:
    """Bounded for all real x: never overflows."""
    if x not in f.free_symbols:
        return True
    if isinstance(f, _BOUNDED):
        return True
    if isinstance(f, (sp.Add, sp.Mul)):
        return all(_is_bounded(a, x) for a in f.args)
    if isinstance(f, sp.Pow):
        return f.exp.is_Integer and f.exp > 0 and _is_bounded(f.base, x)
    return False


def _is_tame(f: sp.Expr, x: sp.Symbol) -> bool:
    """Grows at most polynomially as x -> +-inf (so a decaying factor beats it)."""
    if x not in f.free_symbols or _is_bounded(f, x) or _is_polynomial(f, x):
        return True
    if isinstance(f, (sp.Add, sp.Mul, sp.Max, sp.Min, sp.Abs, softplus, zero_guard, decay_guard)):
        return all(_is_tame(a, x) for a in f.args)
    if isinstance(f, sp.Piecewise):
        return all(_is_tame(e, x) for e, _ in f.args)
    if isinstance(f, sp.Pow):
        return f.exp.is_Integer and f.exp > 0 and _is_tame(f.base, x)
    return False


def guard_products(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """Wrap products whose zero factor must beat an overflowing cofactor in :class:`zero_guard`.

    The rule, for a product of x-dependent factors:

    - *wild* factors (exp and anything not known to grow at most
      polynomially) may underflow to 0 against the *tame* rest:
      ``zero_guard(wild, rest)``;
    - with no wild factor, each non-polynomial tame factor (sigmoid, erfc,
      softplus, Max, ...; bounded ones merged into one) may be the zero
      against the rest, which has at most polynomial growth.

    Numeric factors go into the cofactor, so that ``0.5*x`` is formed before it
    meets ``erfc`` (``x*erfc`` alone can overflow at the top of the float16
    range). Parameter factors stay outside the guard: it maps an overflowed
    cofactor to a finite one, and a nan or infinite parameter must reach the
    result as it does in the plain formula (``nan * x * exp(-x**2/2)`` is nan).

    >>> from eafo_sym import x, eps
    >>> guard_products(3 * (1 - x**2) * sp.exp(-x), x)
    decay_guard(exp(-x), 3 - 3*x**2)
    >>> guard_products(eps * x * sp.exp(-x**2 / 2), x)
    epsilon*decay_guard(exp(-x**2/2), x)
    >>> guard_products(x**2 + 1, x)
    x**2 + 1
    >>> guard_products(sigmoid(x) * (x * (1 - sigmoid(x)) + 1), x)
    zero_guard(sigmoid(x), zero_guard(1 - sigmoid(x), x) + 1, 1)
    """
    if not isinstance(expr, sp.Basic) or expr.is_Atom:
        return expr
    args = [guard_products(a, x) for a in expr.args]
    if not isinstance(expr, sp.Mul):
        return expr.func(*args) if args != list(expr.args) else expr
    const, outside, poly, bounded, tame, wild = [], [], [], [], [], []
    for f in args:
        if f.is_number:
            const.append(f)
        elif x not in f.free_symbols:
            outside.append(f)
        elif _is_polynomial(f, x):
            poly.append(f)
        elif _is_bounded(f, x):
            bounded.append(f)
        elif _is_tame(f, x):
            tame.append(f)
        else:
            wild.append(f)
    cofactor = sp.Mul(*const, *poly)
    if wild:
        rest = [*bounded, *tame]
        if not rest and not poly:
            return sp.Mul(*args)
        return sp.Mul(*outside) * decay_guard(sp.Mul(*wild), cofactor * sp.Mul(*rest))
    zeros = ([sp.Mul(*bounded)] if bounded else []) + tame
    if not zeros or len(zeros) + len(poly) < 2:
        return sp.Mul(*args)
    return sp.Mul(*outside) * zero_guard(*zeros, cofactor)
