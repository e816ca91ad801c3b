"""The fused kernels as torch operators: opcheck, torch.compile, torch.export, layouts, nan.

``torch.ops.eafo_sym.<name>`` and its backward operators are held to torch's own checks
(``torch.library.opcheck``: schema, autograd registration, fake tensors, AOT dispatch), the
compiler and exporter must see them (no graph break, the operator in the graph), outputs
keep the input's layout, and a nan or infinite parameter propagates as in the plain
closed form (SymPy's, evaluated by NumPy: an independent path).
"""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from eafo_sym import catalog, fused, x  # noqa: E402
from eafo_sym import nn as gen  # noqa: E402
from eafo_sym.paper import PaperCRReLU  # noqa: E402

# opcheck's schema test scripts the operators; torch deprecates torch.jit.script itself.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

NAMES = sorted(catalog.names())
WITH_PARAMS = [n for n in NAMES if gen.PARAMETERS[n]]


@pytest.fixture(scope="module")
def ops():
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        pytest.skip("no C++ compiler: the fused kernels cannot be built here")
    return fused.load()


def _params(name, requires_grad=True, dtype=torch.float32):
    """The module's default parameters, as the operators take them (0-dim tensors)."""
    m = gen.ACTIVATIONS[name]()
    return [p.detach().to(dtype).requires_grad_(requires_grad)
            for p in m._arguments(torch.zeros((), dtype=dtype))]


# --- torch.library.opcheck ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_opcheck_forward_operator(ops, name):
    torch.manual_seed(0)
    samples = [
        (torch.randn(37, requires_grad=True), *_params(name)),
        (torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last).requires_grad_(),
         *_params(name)),
        (torch.randn(3, 5, dtype=torch.float64, requires_grad=True),
         *_params(name, dtype=torch.float64)),
    ]
    for args in samples:
        result = torch.library.opcheck(getattr(ops, name), args)
        assert set(result.values()) == {"SUCCESS"}, result


@pytest.mark.parametrize("name", NAMES)
def test_opcheck_backward_operators(ops, name):
    torch.manual_seed(1)
    xs, g = torch.randn(4, 6), torch.randn(4, 6)
    backward_ops = [f"{name}_backward_input"] + ([f"{name}_backward"] if gen.PARAMETERS[name] else [])
    for op in backward_ops:
        # Every check, on inputs that need no gradient.
        result = torch.library.opcheck(getattr(ops, op), (g, xs, *_params(name, requires_grad=False)))
        assert set(result.values()) == {"SUCCESS"}, (op, result)
        # With gradients asked for, AOT dispatch would differentiate them again, which they
        # refuse (tested below); the other checks hold.
        utils = ("test_schema", "test_autograd_registration", "test_faketensor")
        result = torch.library.opcheck(getattr(ops, op), (g, xs, *_params(name)), test_utils=utils)
        assert set(result.values()) == {"SUCCESS"}, (op, result)


def test_backward_operators_compute_the_module_gradients(ops):
    torch.manual_seed(2)
    xs, g = torch.randn(1000, dtype=torch.float64), torch.randn(1000, dtype=torch.float64)
    ref = gen.EafoPReLU().double()
    xr = xs.clone().requires_grad_()
    ref(xr).backward(g)
    alpha, eps = _params("eafo_prelu", requires_grad=False, dtype=torch.float64)
    gx, ga, ge = ops.eafo_prelu_backward(g, xs, alpha, eps)
    torch.testing.assert_close(gx, xr.grad)
    torch.testing.assert_close(ops.eafo_prelu_backward_input(g, xs, alpha, eps), xr.grad)
    torch.testing.assert_close(ga, ref.alpha.grad)
    torch.testing.assert_close(ge, ref.epsilon.grad)
    assert ga.shape == () and ga.dtype == alpha.dtype


@pytest.mark.parametrize("name", ["crrelu", "gelu"])
def test_double_backward_refuses_with_the_module_to_use(ops, name):
    m = fused.ACTIVATIONS[name]()
    xs = torch.randn(20, requires_grad=True)
    (gx,) = torch.autograd.grad(m(xs).sum(), xs, create_graph=True)
    ref = xs.detach().clone().requires_grad_()
    gen.ACTIVATIONS[name]()(ref).sum().backward()
    torch.testing.assert_close(gx.detach(), ref.grad)  # the first derivative is still right
    cls = gen.ACTIVATIONS[name].__name__
    with pytest.raises(RuntimeError, match=f"no second derivative.*use eafo_sym.nn.{cls}"):
        gx.sum().backward()


# --- torch.compile and torch.export -------------------------------------------------------


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)
        self.act1, self.act2 = fused.CRReLU(), fused.GELU()

    def forward(self, t):
        return self.act2(self.lin(self.act1(t)))


def test_compile_calls_the_operators_without_a_graph_break(ops):
    torch.manual_seed(3)
    net = _Net()
    xs = torch.randn(16, 8)
    explained = torch._dynamo.explain(net)(xs)
    assert explained.graph_break_count == 0, explained.break_reasons
    code = "\n".join(g.code for g in explained.graphs)
    assert "torch.ops.eafo_sym.crrelu" in code and "torch.ops.eafo_sym.gelu" in code
    compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    y1, y2 = net(x1), compiled(x2)
    torch.testing.assert_close(y2, y1)
    y1.square().sum().backward()
    grads1 = [x1.grad, *(p.grad.clone() for p in net.parameters())]
    net.zero_grad()
    y2.square().sum().backward()
    grads2 = [x2.grad, *(p.grad for p in net.parameters())]
    for a, b in zip(grads2, grads1, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.slow
def test_inductor_compiles_around_the_operator(ops):
    torch.manual_seed(4)
    xs = torch.randn(1000)
    xs[:3] = torch.tensor([math.inf, -math.inf, math.nan])
    m, cm = fused.CRReLU(), torch.compile(fused.CRReLU(), fullgraph=True)
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    y1, y2 = m(x1), cm(x2)
    torch.testing.assert_close(y2, y1, equal_nan=True)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, equal_nan=True)
    torch.testing.assert_close(cm.epsilon.grad, m.epsilon.grad, equal_nan=True)


def test_export_records_the_operators(ops):
    torch.manual_seed(5)
    net = _Net().eval()
    xs = torch.randn(4, 8)
    ep = torch.export.export(net, (xs,))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert {"eafo_sym.crrelu.default", "eafo_sym.gelu.default"} <= targets, targets
    torch.testing.assert_close(ep.module()(xs), net(xs))


# --- layouts ------------------------------------------------------------------------------


def _layouts():
    base = torch.randn(2, 3, 4, 5)
    return {
        "contiguous": base,
        "channels_last": base.to(memory_format=torch.channels_last),
        "channels_last_3d": torch.randn(2, 3, 2, 4, 5).to(memory_format=torch.channels_last_3d),
        "transposed": torch.randn(6, 7).t(),
        "strided slice": torch.randn(6, 14)[:, ::2],
        "expanded": torch.randn(1, 7).expand(5, 7),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_outputs_keep_the_input_layout(ops, layout):
    xs = _layouts()[layout]
    eps = torch.tensor(0.2)
    y = ops.crrelu(xs, eps)
    assert y.stride() == torch.empty_like(xs).stride()  # empty_like's rule: dense keeps strides
    if layout not in ("strided slice", "expanded"):  # the dense ones
        assert y.stride() == xs.stride()
    ref = gen.CRReLU(epsilon=0.2)
    torch.testing.assert_close(y, ref(xs))
    g = torch.randn(xs.shape)  # contiguous: laid out as x inside the kernel
    gx = ops.crrelu_backward_input(g, xs, eps)
    assert gx.stride() == y.stride()
    xr = xs.clone().requires_grad_()
    ref(xr).backward(g)
    torch.testing.assert_close(gx, xr.grad)


def test_channels_last_through_the_module_and_autograd(ops):
    xs = torch.randn(2, 3, 8, 8).to(memory_format=torch.channels_last).requires_grad_()
    m = fused.EafoSiLU()
    y = m(xs)
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    y.backward(torch.ones_like(y))  # ones_like keeps channels_last too
    assert xs.grad.is_contiguous(memory_format=torch.channels_last)


# --- nan and inf parameters ---------------------------------------------------------------


def _plain(name):
    """The closed form and its x-derivative as NumPy functions of (x, *params): no guards."""
    act = catalog.get(name)
    syms = [x, *act.params]
    return (sp.lambdify(syms, act.expr, modules="numpy"),
            sp.lambdify(syms, sp.diff(act.expr, x), modules="numpy"))


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_a_nan_parameter_propagates_as_in_the_plain_formula(ops, name):
    pts = np.concatenate([np.linspace(-6, 6, 49), [0.0, 1e-3, -1e-3]])
    f, df = _plain(name)
    defaults = [float(p) for p in _params(name, requires_grad=False, dtype=torch.float64)]
    for i, p in enumerate(gen.PARAMETERS[name]):
        values = list(defaults)
        values[i] = math.nan
        with np.errstate(all="ignore"):
            want = np.broadcast_to(f(pts, *values), pts.shape)
            want_dx = np.broadcast_to(df(pts, *values), pts.shape)
        ps = [torch.tensor(v, dtype=torch.float64) for v in values]
        xs = torch.tensor(pts)
        got = getattr(ops, name)(xs, *ps).numpy()
        got_dx = getattr(ops, f"{name}_backward_input")(torch.ones_like(xs), xs, *ps).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}, {p}=nan")
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(np.isnan(got_dx), np.isnan(want_dx),
                                      err_msg=f"{name} gradient, {p}=nan")


def test_crrelu_nan_and_inf_epsilon_match_the_paper_module(ops):
    xs = torch.tensor([-50.0, -2.0, -1.0, 0.0, 1e-3, 1.0, 3.0, 50.0, math.inf, -math.inf])
    for value in (math.nan, math.inf, -math.inf):
        m, paper = fused.CRReLU(epsilon=value), PaperCRReLU()
        with torch.no_grad():
            paper.lr.fill_(value)
        got, want = m(xs).detach(), paper(xs).detach()
        # The plain formula's nan at x = +-inf (inf * exp(-inf)) is the guarded value there.
        finite = xs.isfinite()
        torch.testing.assert_close(got[finite], want[finite], equal_nan=True)
    assert fused.CRReLU(epsilon=math.nan)(xs).isnan().all()


def test_finite_parameters_keep_the_guards(ops):
    # A finite epsilon: x = +-inf still gives the limit (relu's value), not nan.
    xs = torch.tensor([math.inf, -math.inf, 1e30])
    assert torch.equal(fused.CRReLU(epsilon=0.3)(xs), torch.relu(xs))


def test_number_hyperparameters_are_passed_as_float64(ops):
    # A hyper-parameter kept as a Python number (torch.nn's style) reaches the kernel exactly.
    m = fused.ELU()
    del m.alpha
    m.alpha = 0.3
    xs = torch.linspace(-3, 3, 41, dtype=torch.float64)
    torch.testing.assert_close(m(xs), torch.nn.functional.elu(xs, alpha=0.3), rtol=1e-15, atol=1e-15)


def test_an_activation_whose_kernel_is_out_of_step_runs_its_torch_code(ops, monkeypatch, caplog):
    """nn.py declaring a parameter the kernel lacks: that activation only falls back, and says so."""
    monkeypatch.setitem(gen.PARAMETERS, "softplus", ("beta", "threshold"))
    with caplog.at_level("WARNING", logger="eafo_sym.fused"):
        found = fused._forward_ops()
    assert "softplus" not in found and set(found) == set(NAMES) - {"softplus"}
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "eafo_sym.fused: no fused kernels match eafo_sym.nn for softplus"
    ]


# --- torch.func -----------------------------------------------------------------------------


def _outcome(f):
    try:
        return f().detach()
    except Exception as err:  # noqa: BLE001 - compared below, whatever it is
        return (type(err), str(err).splitlines()[0])


@pytest.mark.parametrize("transform", ["vmap", "grad", "jacrev", "jacfwd"])
def test_torch_func_transforms_run_the_torch_modules_code(ops, transform):
    """Under a transform the fused module behaves exactly as its eafo_sym.nn parent."""
    xs = torch.randn(3, 4)

    def run(m):
        t = getattr(torch.func, transform)
        if transform == "vmap":
            return lambda: t(m)(xs)
        return lambda: t(lambda v: m(v).sum() if transform == "grad" else m(v))(xs[0])

    got = _outcome(run(fused.CRReLU()))
    want = _outcome(run(gen.CRReLU()))
    if isinstance(want, torch.Tensor):
        torch.testing.assert_close(got, want)
    else:
        assert got == want
