"""The torch emitter (``eafo_sym.codegen.emit``): forms chosen for speed keep the values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import exp2

from eafo_sym import eps, x
from eafo_sym.codegen import ActivationForm, to_torch, torch_source
from eafo_sym.codegen.emit import decaying_exp_as_exp2, piecewise_as_blend

a = sp.Symbol("alpha", real=True)


def test_decaying_exp_is_exp2_with_the_constant_folded():

    e = decaying_exp_as_exp2(sp.exp(-(x**2) / 2) + sp.exp(x) + sp.exp(-sp.Abs(x)))
    # Arguments that can be positive keep exp: exp2 would lose relative accuracy there.
    assert e.atoms(sp.exp) == {sp.exp(x)}
    folded = sorted(float(f.args[0].as_coeff_Mul()[0]) for f in e.atoms(exp2))
    assert folded == pytest.approx([-1 / math.log(2), -0.5 / math.log(2)], rel=1e-15)


@pytest.mark.parametrize("dtype_name, lo", [("float32", -104.0), ("float64", -745.0)])
def test_exp2_form_is_within_one_ulp_of_one_for_nonpositive_arguments(dtype_name, lo):
    """The bound the docstring claims: |exp2(u/log 2) - exp(u)| below one ulp of 1 for u <= 0."""
    torch = pytest.importorskip("torch")
    import mpmath


    t = sp.Symbol("t", nonnegative=True)
    c = -float(decaying_exp_as_exp2(sp.exp(-t)).args[0].as_coeff_Mul()[0])
    dtype = getattr(torch, dtype_name)
    u = torch.linspace(lo, 0.0, 20001, dtype=dtype)
    got = torch.exp2(u * c).double().numpy()
    ref = np.array([float(mpmath.exp(mpmath.mpf(float(v)))) for v in u.double().numpy()])
    assert np.abs(got - ref).max() <= torch.finfo(dtype).eps


@pytest.mark.parametrize(
    "expr",
    [
        x**2 + eps * x,  # an owned temporary takes the product in place
        x + eps * x**2,  # x is never written: a fresh addcmul first
        eps * x * sp.exp(-(x**2)) + sp.Max(0, x),  # a guarded product
        2 * a * x**2 + a * x * sp.sin(x) + eps * x + 1,  # several products and a number
    ],
)
def test_products_in_sums_are_fused_into_addcmul(expr):
    torch = pytest.importorskip("torch")

    params = {p: v for p, v in {eps: 0.25, a: -0.75}.items() if p in expr.free_symbols}  # exact in float32
    assert "addcmul" in torch_source([ActivationForm("fused", expr, params)])
    m = to_torch(expr, params, "fused")().double()
    xs = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    keep = xs.detach().clone()
    y = m(xs)
    assert torch.equal(xs.detach(), keep)
    f = sp.lambdify(x, expr.subs(params), "numpy")
    np.testing.assert_allclose(y.detach().numpy(), f(keep.numpy()), rtol=1e-13, atol=1e-13)
    y.sum().backward()
    df = sp.lambdify(x, sp.diff(expr.subs(params), x), "numpy")
    kink = keep.numpy() != 0  # max(0, x) has torch's subgradient 0 there
    np.testing.assert_allclose(xs.grad.numpy()[kink], df(keep.numpy())[kink], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_threshold_piecewise_becomes_a_blend_with_the_same_values(op):
    """Values at the threshold itself, at +-inf and at nan are those of the Piecewise."""
    torch = pytest.importorskip("torch")

    cond = sp.core.relational.Relational(x, 1, op)
    expr = sp.Piecewise((x**2 + a, cond), (2 * sp.exp(x) - 3 * x, True))
    src = torch_source([ActivationForm("blend", expr, {a: 0.5})])
    assert "torch.where" not in src.split("def _reduce_to")[1]
    pts = [-sp.oo, -3.0, 0.0, 1.0, 2.5, sp.oo]
    m = to_torch(expr, {a: 0.5}, "blend")().double()
    xs = torch.tensor([float(p) for p in pts] + [math.nan], dtype=torch.float64)
    got = m(xs).detach().numpy()
    ref = [float(expr.subs({a: sp.Rational(1, 2), x: p})) for p in pts]
    np.testing.assert_array_equal(got[:-1], ref)
    assert math.isnan(got[-1])


def test_piecewise_with_a_branch_infinite_at_the_threshold_keeps_where():

    pw = sp.Piecewise((1 / x, x > 0), (0, True))
    assert piecewise_as_blend(pw, x) == pw
    two_conditions = sp.Piecewise((x, sp.And(x > 0, x < 1)), (0, True))
    assert piecewise_as_blend(two_conditions, x) == two_conditions



def test_emitter_without_in_place_writes_only_fresh_tensors():
    """What TorchScript differentiates: no in-place method, no out= buffer, no folded product."""
    import re

    from eafo_sym.codegen.assemblers.torch import _emit_torch
    from eafo_sym.codegen.printers.torch import EafoTorchModulePrinter
    from eafo_sym.codegen.registry import registry_forms

    for form in registry_forms():
        lines, _ = _emit_torch([form.forward], EafoTorchModulePrinter(in_place=False))
        for line in lines:
            code = line.split("=", 1)[1]
            assert "out=" not in code and "addcmul" not in code, line
            assert "_finite_(" not in code and "_zero_wins_(" not in code, line
            assert not re.search(r"\._?[a-z0-9]+_\(", code.replace(".ceil_()", "")), line
