"""The C++ printer (``eafo_sym.codegen.printers.cpp``): printed forms and refused nodes.

These tests need no compiler; ``tests/test_fused.py`` builds and runs the kernels.
"""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.printing.c import C99CodePrinter

from eafo_sym import eps, x
from eafo_sym.codegen import UnsupportedNodeError
from eafo_sym.codegen.printers.cpp import VecPrinter, plain_name
from eafo_sym.codegen.stable import decay_guard, sigmoid, softplus, zero_guard

a = sp.Symbol("alpha", positive=True)


def _p(e, **names):
    return VecPrinter({sp.Symbol(k): v for k, v in names.items()}).doprint(e)


def test_numbers_fold_to_double_literals():
    assert _p(sp.sqrt(2) * x) == "V(T(1.4142135623730951))*x"
    assert _p(sp.Rational(1, 3)) == "V(T(0.3333333333333333))"
    assert _p(sp.oo * x) == "V(T(std::numeric_limits<double>::infinity()))*x"


def test_max_min_propagate_nan_and_nest():
    # Against a constant: one clamp (x86's max/min return the second operand, x, for a nan).
    assert _p(sp.Max(0, x)) == "at::vec::clamp_min(x, V(T(0.0)))"
    assert _p(sp.Min(1, x)) == "at::vec::clamp_max(x, V(T(1.0)))"
    b = sp.Symbol("b")
    assert _p(sp.Min(0, x, b)) == "at::vec::clamp_max(at::vec::minimum(b, x), V(T(0.0)))"
    assert _p(sp.Max(x, b)) == "at::vec::maximum(b, x)"  # two variables: nan from either


def test_heaviside_is_torchs_clamp_ceil_step():
    assert _p(sp.Heaviside(x, 0)) == "at::vec::clamp(x, V(T(0)), V(T(1))).ceil()"
    # Another value at 0 is blended in where the argument is exactly 0.
    assert _p(sp.Heaviside(x)).startswith("V::blendv(at::vec::clamp(")


def test_piecewise_is_a_blend_with_its_default_last():
    e = sp.Piecewise((x, x > 0), (a * x, x < -1), (2 * x, True))
    assert _p(e) == (
        "V::blendv(V::blendv(V(T(2.0))*x, alpha*x, (x < V(T(-1.0)))), x, (x > V(T(0.0))))"
    )
    both = sp.Piecewise((x, (x > 0) & (x < 1)), (0, True))
    assert "((x > V(T(0.0))) & (x < V(T(1.0))))" in _p(both)
    with pytest.raises(UnsupportedNodeError, match="default branch"):
        _p(sp.Piecewise((x, x > 0)))


def test_powers_and_quotients():
    assert _p(x**3) == "(x*x*x)"
    assert _p(1 / x**2) == "(V(T(1)) / (x*x))"
    assert _p(x / (1 + x)) == "(x / (V(T(1.0)) + x))"
    assert _p(x / (a * (1 + x))) == "(x / (alpha*(V(T(1.0)) + x)))"
    assert _p(sp.sqrt(x)) == "x.sqrt()"
    assert _p(x ** sp.Rational(-1, 2)) == "x.rsqrt()"


def test_stable_primitives_and_guards():
    assert _p(sigmoid(x)) == "(V(T(1)) / (V(T(1)) + eafo_exp(V(T(-1.0))*x)))"
    assert _p(softplus(x)) == (
        "(at::vec::clamp_min(x, V(T(0))) + eafo_exp((x).abs().neg()).log1p())"
    )
    assert _p(decay_guard(sp.exp(-x), x**2)) == "(eafo_exp(V(T(-1.0))*x)*eafo_finite((x*x)))"
    assert _p(zero_guard(sigmoid(x), x)) == (
        "(eafo_nan_to_zero((V(T(1)) / (V(T(1)) + eafo_exp(V(T(-1.0))*x)))*x)"
        " + eafo_nan_or_zero((V(T(1)) / (V(T(1)) + eafo_exp(V(T(-1.0))*x)))))"
    )


def test_guards_over_parameters_take_their_plain_value():
    """A guard that could hide a parameter's nan or inf names that parameter set's plain value."""
    printer = VecPrinter({eps: "p_epsilon", a: "p_alpha"}, params=[eps, a])
    assert printer.doprint(decay_guard(sp.exp(-(x**2)), eps * x)) == (
        "(eafo_exp(V(T(-1.0))*(x*x))*eafo_finite(p_epsilon*x, plain_epsilon))"
    )
    assert printer.doprint(zero_guard(sigmoid(x), a * x)).startswith(
        "(eafo_nan_to_zero((V(T(1)) / (V(T(1)) + eafo_exp(V(T(-1.0))*x)))*(p_alpha*x), plain_alpha)"
    )
    # Through a temporary that stands for a parameter expression (the assembler's CSE).
    t = sp.Symbol("t0")
    printer.param_deps[t] = frozenset({a, eps})
    assert printer.doprint(decay_guard(sp.exp(-x), t * x)).endswith(
        "eafo_finite(t0*x, plain_alpha_epsilon))"
    )
    assert printer.plain_sets == {frozenset({eps}), frozenset({a}), frozenset({a, eps})}
    assert plain_name([eps, a]) == "plain_alpha_epsilon"
    # No parameter in the guard: the plain guard, whatever the activation's parameters are.
    assert printer.doprint(decay_guard(sp.exp(-x), x)) == "(eafo_exp(V(T(-1.0))*x)*eafo_finite(x))"


def test_method_calls_bind_to_the_whole_operand():
    # (x + 1).tanh(), not x + 1.tanh(); (2*x).tanh(), not 2*x.tanh()
    assert _p(sp.tanh(x + 1)) == "(V(T(1.0)) + x).tanh()"
    assert _p(sp.tanh(2 * x)) == "(V(T(2.0))*x).tanh()"
    assert _p(sp.exp(x + 1)) == "eafo_exp(V(T(1.0)) + x)"  # one pair of parentheses


def test_unsupported_nodes_are_named():
    with pytest.raises(UnsupportedNodeError, match=r"gamma\(x\)"):
        _p(sp.gamma(x))
    with pytest.raises(UnsupportedNodeError, match="I"):
        _p(sp.I * x)



def test_is_sympys_c99_printer_and_refuses_what_c99_would_print():
    assert issubclass(VecPrinter, C99CodePrinter)
    # C99 prints these as math.h calls or C operators, which take no Vectorized.
    for node in [sp.Mod(x, 2), sp.gamma(x), sp.sinh(x), sp.Not(sp.Symbol("b"))]:
        with pytest.raises(UnsupportedNodeError, match=f"unsupported SymPy node {type(node).__name__}"):
            VecPrinter().doprint(node)
