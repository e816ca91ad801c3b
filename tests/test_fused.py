"""The fused CPU modules (``eafo_sym.fused``): built once per session, held to the torch modules.

Every check compares the fused kernels with an independent computation: the
printed torch modules of :mod:`eafo_sym.nn` (a different code path: one ATen
kernel per operation), float64 references, ``gradcheck`` and mpmath. The operators
themselves (opcheck, compile, export, layouts, nan parameters) are in
``tests/test_fused_ops.py``, the build (locks, failures) in ``tests/test_fused_build.py``.

Float32 tolerance: the fused result's error against the float64 torch module
stays within 16 float32 ulps of ``|ref| + 1`` (values) or ``|ref| + |g|``
(gradients), the same scale as the torch modules' own float32 error (about 4
ulps at worst, measured). Building the extension takes about a minute.
"""

from __future__ import annotations

import math
import os
import shutil

import mpmath
import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from eafo_sym import catalog as activations  # noqa: E402
from eafo_sym import (  # noqa: E402
    fused,  # noqa: E402
    x,
)
from eafo_sym import nn as gen  # noqa: E402
from eafo_sym.paper import PaperCRReLU  # noqa: E402

NAMES = sorted(activations.names())
EPS32 = float(np.finfo(np.float32).eps)
EDGE = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0, 30.0, -30.0, 200.0, -200.0,
        1e30, -1e30, 3e38, -3e38, math.inf, -math.inf, math.nan]


@pytest.fixture(scope="module")
def ops():
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        pytest.skip("no C++ compiler: the fused kernels cannot be built here")
    return fused.load()


def _pair(name, dtype):
    ref = gen.ACTIVATIONS[name]().to(dtype)
    fz = fused.ACTIVATIONS[name]().to(dtype)
    fz.load_state_dict(ref.state_dict())
    return ref, fz


def _run(m, x0, g):
    xs = x0.clone().requires_grad_()
    y = m(xs)
    y.backward(g)
    out = y.detach(), xs.grad, [p.grad.clone() for p in m.parameters()]
    for p in m.parameters():
        p.grad = None
    return out


# --- interface ----------------------------------------------------------------------------


def test_classes_subclass_the_torch_modules_and_share_state(ops):
    assert sorted(fused.ACTIVATIONS) == NAMES
    for name, cls in fused.ACTIVATIONS.items():
        base = gen.ACTIVATIONS[name]
        assert issubclass(cls, base) and cls.__name__ == base.__name__
        assert getattr(fused, cls.__name__) is cls
    m = fused.CRReLU(epsilon=0.3)
    assert [n for n, _ in m.named_parameters()] == ["epsilon"]
    ref = gen.CRReLU()
    ref.load_state_dict(m.state_dict())
    assert float(ref.epsilon.detach()) == pytest.approx(0.3)
    assert fused.get_act_layer("crrelu") is fused.CRReLU
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        fused.get_act_layer("nope")
    assert fused.available() and fused.unavailable_reason() is None
    # Every activation has its operator, taking x and the parameters eafo_sym.nn passes.
    assert sorted(fused._State.ops) == NAMES
    for name, op in fused._State.ops.items():
        assert [a.name for a in op._schema.arguments][1:] == [str(p) for p in activations.get(name).params]
        assert len(op._schema.arguments) == 1 + len(gen.PARAMETERS[name])


def test_kernels_reject_what_they_cannot_take(ops):
    eps = torch.tensor(0.1)
    with pytest.raises(RuntimeError, match="float32 or float64"):
        ops.crrelu(torch.ones(3, dtype=torch.float16), eps)
    with pytest.raises(RuntimeError, match="expected at most 2 argument"):
        ops.crrelu(torch.ones(3), eps, eps)
    with pytest.raises(RuntimeError, match="0-dim parameters"):
        ops.crrelu(torch.ones(3), torch.ones(2))
    with pytest.raises(RuntimeError, match="grad must match x"):
        ops.crrelu_backward_input(torch.ones(4), torch.ones(3), eps)
    with pytest.raises(RuntimeError, match="grad must match x"):
        ops.crrelu_backward(torch.ones(3, dtype=torch.float64), torch.ones(3), eps)


# --- values and gradients -----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_float64_matches_the_torch_module(ops, name):
    torch.manual_seed(0)
    ref, fz = _pair(name, torch.float64)
    for x0 in (torch.randn(70001, dtype=torch.float64) * 4, torch.tensor(EDGE, dtype=torch.float64)):
        g = torch.randn_like(x0)
        (y0, gx0, gp0), (y1, gx1, gp1) = _run(ref, x0, g), _run(fz, x0, g)
        # Same nan pattern (the guards map the edges alike), values to a few ulps.
        torch.testing.assert_close(y1, y0, rtol=1e-13, atol=1e-13, equal_nan=True)
        torch.testing.assert_close(gx1, gx0, rtol=1e-12, atol=1e-12 * (1 + g.abs().max().item()), equal_nan=True)
        for a, b in zip(gp1, gp0, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_float32_error_is_that_of_the_torch_module(ops, name):
    torch.manual_seed(1)
    ref64 = gen.ACTIVATIONS[name]().double()
    _, fz = _pair(name, torch.float32)
    x32 = torch.randn(100003) * 4
    g32 = torch.randn_like(x32)
    y, gx, gp = _run(ref64, x32.double(), g32.double())
    y1, gx1, gp1 = _run(fz, x32, g32)
    assert ((y1.double() - y).abs() / (y.abs() + 1)).max() <= 16 * EPS32
    assert ((gx1.double() - gx).abs() / (gx.abs() + g32.double().abs())).max() <= 16 * EPS32
    for a, b in zip(gp1, gp, strict=True):
        # A sum of 1e5 float32 terms: bounded by the terms' size, not the sum's.
        scale = (g32.double().abs() * (x32.double().abs() + 1)).sum()
        assert abs(float(a) - float(b)) <= 1e-6 * float(scale), (float(a), float(b))


@pytest.mark.parametrize("name", NAMES)
def test_edges_match_the_torch_module_float32(ops, name):
    ref, fz = _pair(name, torch.float32)
    x0 = torch.tensor(EDGE, dtype=torch.float32)
    g = torch.linspace(-2, 2, len(EDGE))
    (y0, gx0, _), (y1, gx1, _) = _run(ref, x0, g), _run(fz, x0, g)
    assert torch.equal(y0.isnan(), y1.isnan()) and torch.equal(gx0.isnan(), gx1.isnan())
    torch.testing.assert_close(y1, y0, equal_nan=True)
    torch.testing.assert_close(gx1, gx0, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(ops, name):
    torch.manual_seed(2)
    xs = torch.randn(40, dtype=torch.float64) * 2
    xs = torch.where(xs.abs() < 1e-2, xs + 0.1, xs)  # away from kinks at 0
    m = fused.ACTIVATIONS[name]().double()
    # Every parameter, buffers included: the kernel returns all their gradients.
    ps = [p.detach().clone().requires_grad_() for p in m._arguments(xs)]
    op = getattr(ops, name)
    assert torch.autograd.gradcheck(
        lambda xs, *ps: op(xs, *ps),
        (xs.requires_grad_(), *ps),
        eps=1e-6,
        atol=1e-7,
    )


def test_crrelu_matches_mpmath_float64(ops):
    act = activations.get("crrelu")
    (e,) = act.params
    f = sp.lambdify([x, e], act.expr, modules="mpmath")
    d = [sp.lambdify([x, e], sp.diff(act.expr, v), modules="mpmath") for v in (x, e)]
    pts = [-9.0, -2.3, -0.4, 0.3, 1.7, 4.2]
    m = fused.CRReLU(epsilon=0.25).double()
    with mpmath.workdps(50):
        ref = [float(f(mpmath.mpf(p), mpmath.mpf(0.25))) for p in pts]
        dx = [float(d[0](mpmath.mpf(p), mpmath.mpf(0.25))) for p in pts]
        de = sum(float(d[1](mpmath.mpf(p), mpmath.mpf(0.25))) for p in pts)
    xs = torch.tensor(pts, dtype=torch.float64, requires_grad=True)
    y = m(xs)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(xs.grad.numpy(), dx, rtol=1e-14, atol=1e-15)
    assert float(m.epsilon.grad) == pytest.approx(de, rel=1e-14)


def test_float32_exp_is_within_two_ulps_and_flushes_only_below_2_to_the_minus_125(ops):
    """ELU's input gradient at x <= 0 with alpha = 1 and grad 1 is the kernels' exp itself."""
    xs = torch.cat([torch.linspace(-104.0, 0.0, 1 << 20), torch.tensor([-math.inf, math.nan])])
    one = torch.tensor(1.0)
    got = ops.elu_backward_input(torch.ones_like(xs), xs, one).double()
    want = torch.exp(xs.double())
    normal = want >= 2.0**-125.5
    ulp = torch.from_numpy(np.spacing(want[normal].float().numpy()).astype(np.float64))
    assert ((got[normal] - want[normal]).abs() / ulp).max() <= 2.0
    tiny = ~normal & xs.isfinite()  # flushed to 0, or subnormal (SLEEF, std::exp)
    assert ((got[tiny] - want[tiny]).abs() <= 2.0**-125.5).all()
    assert got[-2] == 0.0 and math.isnan(got[-1])
    # exp at the top of its range (finite up to ln of the largest float, then inf), through
    # the sigmoid's 1 / (1 + exp(-t)): within 4 ulps, or below the flush threshold.
    t = torch.tensor([-80.0, -88.0, -88.7, -88.73, -100.0, -math.inf])
    y = ops.sigmoid(t).double()
    torch.testing.assert_close(y, torch.sigmoid(t.double()), rtol=4 * EPS32, atol=2.0**-125)
    assert y[0] > 0 and y[-1] == 0


def test_parameter_gradient_over_many_threads_and_chunks(ops):
    torch.manual_seed(3)
    xs = torch.randn(1 << 21) * 3  # 64 chunks of 32768 elements, summed in parallel
    g = torch.randn_like(xs)
    m = fused.EafoPReLU()
    _, _, (ga, ge) = _run(m, xs, g)
    ref = gen.EafoPReLU().double()
    _, _, (ra, re_) = _run(ref, xs.double(), g.double())
    assert float(ga) == pytest.approx(float(ra), rel=1e-6)
    assert float(ge) == pytest.approx(float(re_), rel=1e-6)


def test_only_the_gradients_asked_for(ops):
    m = fused.CRReLU()
    xs = torch.randn(100, requires_grad=True)
    m.epsilon.requires_grad_(False)
    m(xs).sum().backward()
    assert xs.grad is not None and m.epsilon.grad is None
    m.epsilon.requires_grad_(True)
    m(torch.randn(100)).sum().backward()  # input needs no grad
    assert m.epsilon.grad is not None


# --- drop-in: shapes, fallbacks, memory, compile ------------------------------------------


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4, 5), (2, 70000)])
def test_shapes_and_non_contiguous_input(ops, shape):
    ref, fz = _pair("eafo_silu", torch.float32)
    x0 = torch.randn(shape)
    for xin in (x0, x0.t() if x0.dim() == 2 else x0):
        g = torch.randn_like(xin)
        (y0, gx0, gp0), (y1, gx1, gp1) = _run(ref, xin, g), _run(fz, xin, g)
        assert y1.shape == xin.shape and gx1.shape == xin.shape and y1.dtype == xin.dtype
        torch.testing.assert_close(y1, y0)
        torch.testing.assert_close(gx1, gx0)
        torch.testing.assert_close(gp1, gp0, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_other_dtypes_run_the_torch_code(ops, dtype):
    ref, fz = _pair("crrelu", dtype)
    x0 = torch.randn(50, dtype=dtype)
    assert not fused.eligible(x0, (fz.epsilon,))
    g = torch.randn_like(x0)
    (y0, gx0, gp0), (y1, gx1, gp1) = _run(ref, x0, g), _run(fz, x0, g)
    assert torch.equal(y0, y1) and torch.equal(gx0, gx1) and torch.equal(gp0[0], gp1[0])


def test_parameters_that_are_not_0_dim_run_the_torch_code(ops):
    fz, ref = fused.PReLU(num_parameters=5, init=0.2), gen.PReLU(num_parameters=5, init=0.2)
    x0 = torch.randn(3, 5)
    assert not fused.eligible(x0, fz._arguments(x0))
    g = torch.randn_like(x0)
    (y0, gx0, gp0), (y1, gx1, gp1) = _run(ref, x0, g), _run(fz, x0, g)
    assert torch.equal(y0, y1) and torch.equal(gx0, gx1) and torch.equal(gp0[0], gp1[0])
    assert gp1[0].shape == (5,)


def _saved_bytes(module, xs):
    seen = {}

    def pack(t):
        seen[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(xs).sum()
    return sum(seen.values())


def test_saved_for_backward_is_the_input_only(ops):
    xs = torch.randn(1 << 16, requires_grad=True)
    nbytes = xs.numel() * xs.element_size()
    assert nbytes <= _saved_bytes(fused.CRReLU(), xs) <= nbytes + 64  # x and the 0-dim epsilon
    assert _saved_bytes(PaperCRReLU(), xs) >= 4 * nbytes


@pytest.mark.slow
def test_torch_compile_traces_the_torch_code(ops):
    torch.manual_seed(4)
    xs = torch.randn(1000)
    xs[:2] = torch.tensor([math.inf, -math.inf])
    m, cm = fused.CRReLU(), torch.compile(fused.CRReLU())
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    y1, y2 = m(x1), cm(x2)
    torch.testing.assert_close(y1, y2)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(m.epsilon.grad, cm.epsilon.grad, rtol=1e-5, atol=1e-5)
