"""The generated torch functions at the edges: infinities, nan, huge inputs, float16 and bfloat16.

The rule checked everywhere: an output or gradient is nan only for a nan
input, and is +-inf only where the exact value is outside the dtype's range;
otherwise it is close to the float64 value. Tolerances for low precision:
``8 * eps(dtype) * (|ref| + 1)``; intermediate products such as ``x*x`` are
rounded in the low dtype, so a few ulps of the O(1) scale is what is reachable.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from eafo_sym import catalog as activations  # noqa: E402
from eafo_sym import nn as gen  # noqa: E402
from eafo_sym import x  # noqa: E402

NAMES = sorted(activations.names())
INF = float("inf")


def _params(name, dtype):
    return [torch.tensor(float(d), dtype=dtype) for d in activations.get(name).params.values()]


def _eval(name, xs):
    """Forward and x-gradient (grad_output = 1) through the generated functions."""
    p = _params(name, torch.float32 if xs.dtype != torch.float64 else torch.float64)
    y = getattr(gen, f"{name}_fwd")(xs, *p)
    g = getattr(gen, f"{name}_bwd_x")(xs, *p, torch.ones_like(xs))
    return y, g


def _limit(expr, sign):
    """The limit at sign*inf, numerically with mpmath (SymPy's limit fails on Piecewise)."""
    f = sp.lambdify(x, expr, modules="mpmath")
    with mpmath.workdps(40):
        v = f(mpmath.mpf(sign) * mpmath.mpf("1e30"))
    return math.copysign(INF, float(v)) if abs(v) > 1e20 else float(v)


@pytest.mark.parametrize("name", NAMES)
def test_limits_at_infinity_and_nan(name):
    e = activations.get(name).bind()
    xs = torch.tensor([INF, -INF, float("nan")], dtype=torch.float64)
    y, g = _eval(name, xs)
    for i, sign in enumerate([1, -1]):
        assert y[i].item() == pytest.approx(_limit(e, sign), abs=1e-12), (name, sign)
        assert g[i].item() == pytest.approx(_limit(sp.diff(e, x), sign), abs=1e-12)
    assert math.isnan(y[2]) and math.isnan(g[2])


def test_crrelu_limits_exactly():
    xs = torch.tensor([INF, -INF, float("nan"), 3e4, -3e4])
    m = gen.CRReLU()
    xr = xs.clone().requires_grad_()
    y = m(xr)
    y.backward(torch.ones_like(y))
    y = y.detach()
    assert y[0] == INF and y[1] == 0 and math.isnan(y[2]) and y[3] == 3e4 and y[4] == 0
    assert xr.grad[:2].tolist() == [1.0, 0.0] and math.isnan(xr.grad[2])
    assert xr.grad[3:].tolist() == [1.0, 0.0]
    assert math.isnan(m.epsilon.grad)  # the nan input propagates into the sum
    xs = torch.tensor([INF, -INF, 3e4, -3e4], requires_grad=True)
    m.zero_grad()
    m(xs).sum().backward()
    assert m.epsilon.grad.item() == 0.0  # x*exp(-x^2/2) -> 0, not inf*0


def _all_values(dtype):
    bits = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16)
    return bits.view(dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", NAMES)
def test_full_low_precision_range(name, dtype):
    xs = _all_values(dtype)
    y, g = _eval(name, xs)
    assert y.dtype == dtype and g.dtype == dtype
    y64, g64 = _eval(name, xs.double())
    tol_eps = 8 * torch.finfo(dtype).eps
    big = torch.finfo(dtype).max
    for got, ref, what in [(y, y64, "value"), (g, g64, "gradient")]:
        got = got.double()
        nan_in = torch.isnan(xs)
        assert torch.equal(torch.isnan(got), nan_in), f"{name} {what}: nan where input is not"
        representable = ref.abs() <= big  # the exact value fits the dtype
        bad = representable & ~nan_in & ~torch.isfinite(got)
        assert not bad.any(), f"{name} {what}: inf at x={xs[bad][:5].tolist()}"
        ok = representable & ~nan_in
        err = (got[ok] - ref[ok]).abs()
        tol = tol_eps * (ref[ok].abs() + 1)
        worst = int(torch.argmax(err - tol))
        assert (err <= tol).all(), (
            f"{name} {what}: x={xs[ok][worst].item()} got {got[ok][worst].item()} "
            f"want {ref[ok][worst].item()}"
        )
        # Beyond the range: inf, or the largest finite value after rounding, of the right sign.
        over = ~representable & ~nan_in
        assert (torch.sign(got[over]) == torch.sign(ref[over])).all(), what
        assert (got[over].abs() >= big * (1 - tol_eps)).all(), what


@pytest.mark.parametrize("name", NAMES)
def test_float32_huge_inputs(name):
    xs = torch.tensor([3e4, -3e4, 1e20, -1e20, 3.0e38, -3.0e38], dtype=torch.float32)
    y, g = _eval(name, xs)
    y64, g64 = _eval(name, xs.double())
    for got, ref in [(y, y64), (g, g64)]:
        fits = ref.abs() <= torch.finfo(torch.float32).max
        assert torch.isfinite(got[fits]).all(), (name, got.tolist(), ref.tolist())
        torch.testing.assert_close(got[fits].double(), ref[fits], rtol=1e-6, atol=1e-6)
