"""The generated torch modules: interface, correctness against the paper and mpmath, memory.

Tolerances: float64 results are compared with mpmath (50 digits) to 16 ulp
relative, with an absolute floor of 16 ulp of 1 (the functions and their
derivatives are O(1); near a zero of a derivative only the absolute error is
meaningful). Float32 comparisons with the paper's plain module use
``torch.testing``'s float32 defaults (rtol 1.3e-6, atol 1e-5).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from eafo_sym import catalog as activations  # noqa: E402
from eafo_sym import nn as gen  # noqa: E402
from eafo_sym import x  # noqa: E402
from eafo_sym.codegen import to_torch  # noqa: E402
from eafo_sym.codegen.backends import NN_PATH  # noqa: E402
from eafo_sym.codegen.registry import nn_source, registry_forms  # noqa: E402
from eafo_sym.paper import PaperCRReLU  # noqa: E402

ULP64 = np.finfo(np.float64).eps
NAMES = sorted(activations.names())


def _fn(name):
    cls = gen.ACTIVATIONS[name]
    return getattr(gen, f"_{cls.__name__}Function")


def _defaults(name, dtype=torch.float64, requires_grad=False):
    return [
        torch.tensor(float(d), dtype=dtype, requires_grad=requires_grad)
        for d in activations.get(name).params.values()
    ]


# --- interface -------------------------------------------------------------------------


def test_committed_nn_is_up_to_date():
    fresh = nn_source()
    assert fresh == Path(NN_PATH).read_text(encoding="utf-8"), (
        "eafo_sym/nn.py is stale: run `eafo-sym codegen`"
    )
    assert nn_source() == fresh  # byte-identical on a second run


def test_registry_interface():
    assert sorted(gen.ACTIVATIONS) == NAMES
    assert gen.get_act_layer("crrelu") is gen.CRReLU
    assert gen.get_act_layer(gen.GELU) is gen.GELU
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        gen.get_act_layer("nope")
    expected = {
        "crrelu": "CRReLU", "relu": "ReLU", "leaky_relu": "LeakyReLU", "prelu": "PReLU",
        "elu": "ELU", "celu": "CELU", "selu": "SELU", "gelu": "GELU", "silu": "SiLU",
        "mish": "Mish", "softplus": "Softplus", "sigmoid": "Sigmoid", "tanh": "Tanh",
    }
    for name, cls in expected.items():
        assert gen.ACTIVATIONS[name].__name__ == cls


def test_parameter_table_gives_the_functions_argument_order():
    """``PARAMETERS``, which eafo_sym.fused reads, is the catalog's order and the printed one."""
    assert sorted(gen.PARAMETERS) == NAMES
    for name in NAMES:
        expected = tuple(str(p) for p in activations.get(name).params)
        assert gen.PARAMETERS[name] == expected
        for fn in ["fwd", "bwd_x", *(["bwd"] if expected else [])]:
            args = list(inspect.signature(getattr(gen, f"{name}_{fn}")).parameters)
            assert args[: 1 + len(expected)] == ["x", *expected], (name, fn)


def test_crrelu_parameter():
    m = gen.CRReLU()
    assert [(n, p.shape, float(p.detach())) for n, p in m.named_parameters()] == [
        ("epsilon", torch.Size([]), pytest.approx(0.01))
    ]
    assert float(gen.CRReLU(epsilon=0.2).epsilon.detach()) == pytest.approx(0.2)
    assert "lr" in gen.CRReLU.__doc__
    gen.CRReLU(inplace=True)  # timm passes inplace=...


@pytest.mark.parametrize("name", NAMES)
def test_constructs_without_args_and_passes_every_parameter(name):
    """Learned parameters are nn.Parameters, fixed ones float attributes; no buffers."""
    act = activations.get(name)
    m = gen.ACTIVATIONS[name]()
    assert list(m.buffers()) == []
    args = m._arguments(torch.zeros(2, 3))
    assert len(args) == len(act.params) == len(gen.PARAMETERS[name])
    defaults = [float(v) for v in act.params.values()]
    assert [float(a) for a in args] == pytest.approx(defaults, rel=1e-7)
    learned = {str(p) for p in registry_forms([name])[0].learnable_params}
    assert len(list(m.parameters())) == len(learned)


def test_new_registered_activation_is_picked_up(monkeypatch):
    alpha = sp.Symbol("alpha", real=True)
    fake = activations.Activation(
        "zz_test", sp.Max(0, x) + alpha * sp.tanh(x), {alpha: 0.5}, "test", derived=True
    )
    monkeypatch.setitem(activations._REGISTRY, "zz_test", lambda: fake)
    forms = registry_forms()
    assert "zz_test" in [f.name for f in forms]
    assert "class ZzTest(torch.nn.Module):" in nn_source()


def test_no_float_constant_becomes_a_parameter():
    cls = to_torch(sp.sqrt(2) * x + sp.Rational(1, 3) * sp.exp(-x), {}, "consts")
    assert list(cls().parameters()) == [] and list(cls().buffers()) == []


# --- correctness ------------------------------------------------------------------------


def test_crrelu_matches_paper_module_float32():
    torch.manual_seed(0)
    xs = torch.randn(4096) * 3
    ours, paper = gen.CRReLU(), PaperCRReLU()
    x1 = xs.clone().requires_grad_()
    x2 = xs.clone().requires_grad_()
    y1, y2 = ours(x1), paper(x2)
    torch.testing.assert_close(y1, y2)
    g = torch.randn_like(xs)
    y1.backward(g)
    y2.backward(g)
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(ours.epsilon.grad, paper.lr.grad, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name):
    fn = _fn(name)
    torch.manual_seed(1)
    xs = torch.randn(24, dtype=torch.float64) * 2
    xs = torch.where(xs.abs() < 1e-2, xs + 0.1, xs)  # away from kinks at 0
    xs.requires_grad_()
    params = _defaults(name, requires_grad=True)
    assert torch.autograd.gradcheck(fn.apply, (xs, *params), eps=1e-6, atol=1e-7)


def _mp_funcs(name):
    act = activations.get(name)
    syms = [x, *act.params]
    f = sp.lambdify(syms, act.expr, modules="mpmath")
    ds = [sp.lambdify(syms, sp.diff(act.expr, v), modules="mpmath") for v in syms]
    return act, f, ds


def _close64(got, ref):
    ref = np.asarray(ref, dtype=float)
    tol = 16 * ULP64 * np.maximum(np.abs(ref), 1.0)
    return np.all(np.abs(np.asarray(got) - ref) <= tol)


@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_match_mpmath(name):
    act, f, ds = _mp_funcs(name)
    pts = [-7.5, -2.3, -1.0, -0.4, 0.3, 1.0, 1.7, 4.2, 9.0]
    defaults = [float(v) for v in act.params.values()]
    with mpmath.workdps(50):
        ref = [float(f(mpmath.mpf(p), *map(mpmath.mpf, defaults))) for p in pts]
        dref = [
            [float(d(mpmath.mpf(p), *map(mpmath.mpf, defaults))) for p in pts] for d in ds
        ]
    xs = torch.tensor(pts, dtype=torch.float64)
    params = _defaults(name)
    out = getattr(gen, f"{name}_fwd")(xs, *params)
    assert _close64(out.numpy(), ref), (out.tolist(), ref)
    g = torch.ones_like(xs)
    gx = getattr(gen, f"{name}_bwd_x")(xs, *params, g)
    assert _close64(gx.numpy(), dref[0]), (gx.tolist(), dref[0])
    for i in range(len(params)):
        # Per-point parameter gradient: differentiate one point at a time.
        per_point = [
            float(getattr(gen, f"{name}_bwd")(xs[j : j + 1], *params, g[j : j + 1])[1 + i])
            for j in range(len(pts))
        ]
        assert _close64(per_point, dref[1 + i]), (per_point, dref[1 + i])


# --- memory -----------------------------------------------------------------------------


def _saved_bytes(module, xs):
    seen = {}

    def pack(t):
        seen[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(xs).sum()
    return sum(seen.values())


def test_saved_for_backward_is_the_input_only():
    xs = torch.randn(1 << 16, requires_grad=True)
    nbytes = xs.numel() * xs.element_size()
    ours = _saved_bytes(gen.CRReLU(), xs)
    paper = _saved_bytes(PaperCRReLU(), xs)
    assert nbytes <= ours <= nbytes + 64  # x and the 0-dim epsilon
    assert paper >= 4 * nbytes  # the plain module keeps several input-sized tensors


# --- drop-in: shapes, dtypes, compile ---------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_shapes_and_dtypes_preserved(name, dtype):
    m = gen.ACTIVATIONS[name]()
    for shape in [(), (5,), (2, 3, 4)]:
        xs = torch.randn(shape, dtype=dtype, requires_grad=True)
        y = m(xs)
        assert y.shape == xs.shape and y.dtype == dtype
        y.sum().backward()
        assert xs.grad.dtype == dtype and xs.grad.shape == xs.shape
        for p in m.parameters():
            assert p.grad is not None and p.grad.dtype == p.dtype and p.grad.shape == p.shape


@pytest.mark.slow
@pytest.mark.parametrize("name", ["crrelu", "silu"])  # decay guard; zero guard
def test_torch_compile_once(name):
    torch.manual_seed(0)
    xs = torch.randn(1000)
    xs[:4] = torch.tensor([float("inf"), -float("inf"), 3e38, -3e38])  # the guards' compiled route
    m = gen.ACTIVATIONS[name]()
    cm = torch.compile(gen.ACTIVATIONS[name]())
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    y1, y2 = m(x1), cm(x2)
    torch.testing.assert_close(y1, y2)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    for p1, p2 in zip(m.parameters(), cm.parameters(), strict=True):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_product_guard_is_the_same_map_eager_and_compiled(dtype):
    """``_finite`` takes a different route under torch.compile (fmin/fmax); same values."""
    big = torch.finfo(dtype).max
    v = torch.tensor([float("nan"), float("inf"), -float("inf"), -2.5, 0.0, 7.0], dtype=dtype)
    expected = torch.tensor([big, big, -big, -2.5, 0.0, 7.0], dtype=dtype)
    assert torch.equal(gen._finite(v), expected)
    assert torch.equal(gen._finite_(v.clone()), expected)
    compiled = torch.compile(lambda t: (gen._finite(t), gen._finite_(t * 1)), fullgraph=True)
    for got in compiled(v):
        assert torch.equal(got, expected)


@pytest.mark.slow
def test_zero_factor_wins_the_same_way_eager_and_compiled():
    """``_zero_wins_``: 0 * inf is 0, 1 * inf stays inf, a nan factor stays nan, in both modes."""
    inf, nan = float("inf"), float("nan")
    z = torch.tensor([0.0, 1.0, nan, inf, 0.5, -0.0])
    a = torch.tensor([inf, inf, 2.0, 2.0, 3.0, -inf])
    expected = torch.tensor([0.0, inf, nan, inf, 1.5, 0.0])
    torch.testing.assert_close(gen._zero_wins_(z * a, z), expected, equal_nan=True)
    compiled = torch.compile(lambda z, a: gen._zero_wins_(z * a, z), fullgraph=True)
    torch.testing.assert_close(compiled(z, a), expected, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_in_place_reuse_never_touches_inputs(name):
    """The emitter writes only into its own temporaries: x, params, grad_output unchanged."""
    torch.manual_seed(3)
    xs = torch.randn(64, dtype=torch.float64)
    g = torch.randn(64, dtype=torch.float64)
    params = _defaults(name)
    copies = [t.clone() for t in (xs, g, *params)]
    getattr(gen, f"{name}_fwd")(xs, *params)
    getattr(gen, f"{name}_bwd_x")(xs, *params, g)
    if params:
        getattr(gen, f"{name}_bwd")(xs, *params, g)
    for before, after in zip(copies, (xs, g, *params), strict=True):
        assert torch.equal(before, after)


# --- buffer reuse ----------------------------------------------------------------------


def test_reused_buffers_never_take_a_parameter_result():
    """A result that reads a parameter may have the parameter's dtype: it gets a fresh buffer."""
    src = Path(gen.__file__).read_text()
    params = {str(p) for n in NAMES for p in activations.get(n).params}
    lines = [ln for ln in src.splitlines() if "out=_u" in ln]
    assert lines, "no buffer is reused: the emitter's pool stopped working"
    for ln in lines:
        call = ln.split("=", 1)[1]
        assert not any(re.search(rf"\b{p}\b", call) for p in params), ln


def test_buffer_reuse_changes_no_bit(monkeypatch):
    """The same operations in the same order; only where results live differs."""
    from eafo_sym.codegen import emit as emit_mod

    monkeypatch.setattr(emit_mod._BufferPool, "take", lambda self: None)
    fresh: dict = {}
    exec(compile(nn_source(), "<no reuse>", "exec"), fresh)  # noqa: S102 - our own printed code
    assert "out=_u" not in nn_source()
    torch.manual_seed(5)
    xs = torch.randn(257, dtype=torch.float64) * 4
    xs[:3] = torch.tensor([float("inf"), -float("inf"), float("nan")], dtype=torch.float64)
    g = torch.randn(257, dtype=torch.float64)
    for name in NAMES:
        params = _defaults(name)
        for fn, extra in [("fwd", ()), ("bwd_x", (g,))] + ([("bwd", (g,))] if params else []):
            got = getattr(gen, f"{name}_{fn}")(xs, *params, *extra)
            ref = fresh[f"{name}_{fn}"](xs, *params, *extra)
            for a, b in zip(got if isinstance(got, tuple) else (got,),
                            ref if isinstance(ref, tuple) else (ref,), strict=True):
                assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0)), (name, fn)
                assert torch.equal(a.isnan(), b.isnan()), (name, fn)


@pytest.mark.parametrize("name", NAMES)
def test_directional_and_second_derivatives_match_mpmath(name):
    """``<name>_jvp`` and ``<name>_hvp`` against mpmath's values of SymPy's derivatives.

    The reference differentiates the catalog's closed form itself (not the stable,
    guarded form that is printed) and evaluates it with 50 digits.
    """
    act = activations.get(name)
    syms = [x, *act.params]
    pts = [-7.5, -2.3, -1.0, -0.4, 0.3, 1.0, 1.7, 4.2, 9.0]
    defaults = [float(v) for v in act.params.values()]
    d = [0.7, *[-0.3 - 0.2 * k for k in range(len(defaults))]]  # a direction
    g = 1.3
    first = [sp.lambdify(syms, sp.diff(act.expr, v), modules="mpmath") for v in syms]
    second = [[sp.lambdify(syms, sp.diff(act.expr, u, v).replace(sp.DiracDelta, lambda *a: 0),
                           modules="mpmath") for v in syms] for u in syms]
    with mpmath.workdps(50):
        def at(f, p):
            return f(mpmath.mpf(p), *map(mpmath.mpf, defaults))

        jvp_ref = [float(sum(di * at(f, p) for di, f in zip(d, first, strict=True))) for p in pts]
        rows_ref = [[float(g * sum(dv * at(f, p) for dv, f in zip(d, row, strict=True)))
                     for p in pts] for row in second]
    xs = torch.tensor(pts, dtype=torch.float64)
    params = _defaults(name)
    dirs = [torch.full_like(xs, d[0]), *[torch.tensor(v, dtype=torch.float64) for v in d[1:]]]
    got = getattr(gen, f"{name}_jvp")(xs, *params, *dirs)
    assert _close64(got.numpy(), jvp_ref), (got.tolist(), jvp_ref)
    rows = getattr(gen, f"{name}_hvp")(xs, *params, *dirs, torch.full_like(xs, g))
    assert len(rows) == len(syms)
    for got_row, ref_row in zip(rows, rows_ref, strict=True):
        got_row = (got_row * torch.ones_like(xs)).numpy()
        assert _close64(got_row, ref_row), (name, got_row.tolist(), ref_row)
