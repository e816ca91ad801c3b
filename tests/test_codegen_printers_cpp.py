"""The C++ printer (``eafo_sym.codegen.printers.cpp``): printed forms and refused nodes.

These tests need no compiler; ``tests/test_fused.py`` builds and runs the kernels.
"""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.printing.c import C99CodePrinter

from eafo_sym import x
from eafo_sym.codegen import UnsupportedNodeError
from eafo_sym.codegen.printers.cpp import VecPrinter
from eafo_sym.codegen.stable import decay_guard, sigmoid, softplus, zero_guard

a = sp.Symbol("alpha", positive=True)


def _p(e, **names):
    return VecPrinter({sp.Symbol(k): v for k, v in names.items()}).doprint(e)


def test_numbers_fold_to_double_literals():
    assert _p(sp.sqrt(2) * x) == "V(T(1.4142135623730951))*x"
    assert _p(sp.Rational(1, 3)) == "V(T(0.3333333333333333))"
    assert _p(sp.oo * x) == "V(T(std::numeric_limits<double>::infinity()))*x"


def test_max_min_propagate_nan_and_nest():
    assert _p(sp.Max(0, x)) == "at::vec::maximum(V(T(0.0)), x)"
    b = sp.Symbol("b")
    assert _p(sp.Min(0, x, b)) == "at::vec::minimum(at::vec::minimum(V(T(0.0)), b), x)"


def test_heaviside_is_torchs_clamp_ceil_step():
    assert _p(sp.Heaviside(x, 0)) == (
        "at::vec::minimum(at::vec::maximum(x, V(T(0))), V(T(1))).ceil()"
    )
    # Another value at 0 is blended in where the argument is exactly 0.
    assert _p(sp.Heaviside(x)).startswith("V::blendv(at::vec::minimum(")


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
    assert _p(sigmoid(x)) == "(V(T(1)) / (V(T(1)) + (V(T(-1.0))*x).exp()))"
    assert _p(softplus(x)) == (
        "(at::vec::maximum(x, V(T(0))) + (x).abs().neg().exp().log1p())"
    )
    assert _p(decay_guard(sp.exp(-x), x**2)) == "((V(T(-1.0))*x).exp()*eafo_finite((x*x)))"
    assert _p(zero_guard(sigmoid(x), x)) == (
        "(eafo_nan_to_zero((V(T(1)) / (V(T(1)) + (V(T(-1.0))*x).exp()))*x)"
        " + eafo_nan_or_zero((V(T(1)) / (V(T(1)) + (V(T(-1.0))*x).exp()))))"
    )


def test_method_calls_bind_to_the_whole_operand():
    # (x + 1).exp(), not x + 1.exp(); (2*x).tanh(), not 2*x.tanh()
    assert _p(sp.exp(x + 1)) == "(V(T(1.0)) + x).exp()"
    assert _p(sp.tanh(2 * x)) == "(V(T(2.0))*x).tanh()"


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
