"""The torch printer (``eafo_sym.codegen.printers.torch``): each fix over SymPy 1.14, pinned.

The printed code is evaluated in float64 and checked against the exact values, edges
(overflow, nan, infinities) included.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

from eafo_sym import x
from eafo_sym.codegen import torch_code

a = sp.Symbol("alpha", real=True)


def _torch_eval(expr, xs, **params):
    torch = pytest.importorskip("torch")
    t = torch.tensor(xs, dtype=torch.float64)
    scope = {"torch": torch, "math": math, "x": t}
    scope.update({k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()})
    return eval(torch_code(expr), scope)



# --- fixes ---------------------------------------------------------------------------


def test_sympy_torch_printer_is_still_broken_for_max():
    """Guard: if SymPy fixes this, the override may go."""
    from sympy.printing.pytorch import torch_code as sympy_torch_code

    assert sympy_torch_code(sp.Max(0, x)) == "torch.max(0, x)"


def test_max_with_number_is_clamp():
    assert torch_code(sp.Max(0, x)) == "torch.clamp(x, min=0.0)"
    assert torch_code(sp.Min(1, x)) == "torch.clamp(x, max=1.0)"
    out = _torch_eval(sp.Max(0, x), [-1.0, 2.0, float("nan")])
    assert out.tolist()[:2] == [0.0, 2.0] and math.isnan(out[2])


def test_max_min_with_more_than_two_args():
    e = sp.Max(0, x, a * x)
    assert torch_code(e) == "torch.clamp(torch.maximum(x, alpha*x), min=0.0)"
    out = _torch_eval(e, [-1.0, 2.0], alpha=3.0)
    assert out.tolist() == [0.0, 6.0]
    out = _torch_eval(sp.Min(0, x, a * x, -a), [-1.0, 2.0], alpha=3.0)
    assert out.tolist() == [-3.0, -3.0]


def test_heaviside_value_at_zero_from_second_arg_and_nan_kept():
    xs = [-2.0, 0.0, 3.0, float("nan"), float("inf"), -float("inf")]
    for h0, expect in [(None, 0.5), (0, 0.0), (1, 1.0), (sp.Rational(1, 4), 0.25)]:
        e = sp.Heaviside(x) if h0 is None else sp.Heaviside(x, h0)
        out = _torch_eval(e, xs).tolist()
        assert out[:3] == [0.0, expect, 1.0]
        assert math.isnan(out[3]) and out[4:] == [1.0, 0.0]


def test_numeric_constants_fold_to_float_literals():
    code = torch_code(sp.sqrt(2) * x + sp.pi + sp.E + sp.sqrt(2 * sp.pi))
    assert "sqrt" not in code and "pi" not in code and "math.e" not in code
    assert "1.4142135623730951*x" in code
    val = float(_torch_eval(sp.sqrt(2) * x + sp.pi + sp.E + sp.sqrt(2 * sp.pi), [1.0])[0])
    assert val == pytest.approx(math.sqrt(2) + math.pi + math.e + math.sqrt(2 * math.pi))
    assert torch_code(x / 2) == "0.5*x"
    assert torch_code(sp.Piecewise((x, x > 0), (-sp.oo, True))) == (
        "torch.where(x > 0, x, -math.inf)"
    )


def test_piecewise_is_nested_where_with_default():
    e = sp.Piecewise((x, x > 1), (2 * x, x > 0), (a, True))
    assert torch_code(e) == "torch.where(x > 1, x, torch.where(x > 0, 2*x, alpha))"
    assert _torch_eval(e, [2.0, 0.5, -1.0], alpha=7.0).tolist() == [2.0, 1.0, 7.0]



def test_piecewise_without_true_branch_defaults_to_nan():
    e = sp.Piecewise((x, x > 0))
    assert torch_code(e) == "torch.where(x > 0, x, math.nan)"
    out = _torch_eval(e, [1.0, -1.0])
    assert out[0] == 1.0 and math.isnan(out[1])


def test_erf_and_erfc_use_torch_special():
    assert torch_code(sp.erf(x), stable=False) == "torch.special.erf(x)"
    assert torch_code(sp.erfc(x)) == "torch.special.erfc(x)"
    out = _torch_eval(sp.erf(x) + sp.erfc(2 * x), [0.3])
    assert float(out[0]) == pytest.approx(math.erf(0.3) + math.erfc(0.6), rel=1e-15)


def test_x_squared_is_a_product():
    assert torch_code(x**2) == "(x*x)"
    assert torch_code(sp.exp(-(x**2) / 2)) == "torch.exp(-0.5*(x*x))"
    # Regression: as a denominator it must stay grouped (x/alpha**2, not x/alpha*alpha).
    assert _torch_eval(x / a**2, [1.0], alpha=2.0).tolist() == [0.25]



# --- stable forms, printed ---------------------------------------------------------------


def test_guarded_product_at_overflow_is_zero_not_nan():
    e = (1 - x**2) * sp.exp(-(x**2) / 2)
    xs = [1e200, -1e200, float("inf"), float("nan"), 1.0]
    out = _torch_eval(e, xs).tolist()
    assert out[:3] == [0.0, 0.0, 0.0] and math.isnan(out[3]) and out[4] == 0.0
    # Without the stable form the same expression gives inf*0 = nan: the fix is needed.
    raw = torch_code(e, stable=False)
    torch = pytest.importorskip("torch")
    assert math.isnan(float(eval(raw, {"torch": torch, "x": torch.tensor(1e200)})))


def test_softplus_and_sigmoid_do_not_overflow():
    xs = [-1000.0, 1000.0, float("inf"), -float("inf")]
    out = _torch_eval(sp.log(1 + sp.exp(x)), xs).tolist()
    assert out == [0.0, 1000.0, float("inf"), 0.0]
    out = _torch_eval(x / (1 + sp.exp(-x)), xs).tolist()
    assert out == [0.0, 1000.0, float("inf"), 0.0]


def test_merged_exponentials_and_sigmoid_polynomials_stay_finite():
    # exp(-x^2/2) * cosh(x)^2: cosh overflows where the product is tiny.
    e = (x / 2 - sp.tanh(x)) * sp.exp(-(x**2) / 2) * sp.cosh(x) ** 2
    out = _torch_eval(e, [800.0, -800.0, float("inf")]).tolist()
    assert out == [0.0, 0.0, 0.0]
    # exp(x)/(1 + exp(x))**2 = s*(1 - s): no inf/inf at x = 800.
    r = sp.exp(x) / (1 + sp.exp(x)) ** 2
    assert _torch_eval(r, [800.0, -800.0]).tolist() == [0.0, 0.0]
    assert float(_torch_eval(r, [0.0])[0]) == 0.25


def test_module_printer_prints_one_sided_clamps_through_the_file_helpers():
    from eafo_sym.codegen.printers.torch import EafoTorchModulePrinter
    from eafo_sym.codegen.stable import softplus

    pr = EafoTorchModulePrinter()
    assert pr.doprint(sp.Max(0, x)) == "_at_least(x, 0.0)"
    assert pr.doprint(sp.Min(2, x)) == "_at_most(x, 2.0)"
    assert "torch.clamp" not in pr.doprint(softplus(x))
    pure = EafoTorchModulePrinter(in_place=False).doprint(softplus(x))
    assert "_(" not in pure and pure.startswith("torch.log1p(")  # no in-place method call
