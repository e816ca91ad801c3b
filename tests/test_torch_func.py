"""torch.func and higher derivatives through the generated modules, against independent numbers.

References: torch.nn's own activations (whose double backward torch implements by hand),
torch's finite differences (``gradcheck``/``gradgradcheck`` in float64) and a plain
per-sample loop for vmap. Every derivative the modules give here, first and second order,
is printed from SymPy; none comes from autograd of the printed code.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.func import functional_call, grad, hessian, jacfwd, jacrev, stack_module_state, vmap  # noqa: E402

from eafo_sym import catalog  # noqa: E402
from eafo_sym import nn as gen  # noqa: E402

NAMES = sorted(catalog.names())
#: Namesakes with parameters torch.nn takes the same way, and their torch.nn classes.
TWINS = {
    "relu": torch.nn.ReLU, "leaky_relu": torch.nn.LeakyReLU, "prelu": torch.nn.PReLU,
    "elu": torch.nn.ELU, "celu": torch.nn.CELU, "selu": torch.nn.SELU, "gelu": torch.nn.GELU,
    "silu": torch.nn.SiLU, "mish": torch.nn.Mish, "softplus": torch.nn.Softplus,
    "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh,
}


def _inputs(n=12, seed=0):
    torch.manual_seed(seed)
    xs = torch.randn(n, dtype=torch.float64) * 2
    return torch.where(xs.abs() < 0.05, xs + 0.2, xs)  # away from the kinks at 0


def _function_and_args(name):
    m = gen.ACTIVATIONS[name]().double()
    xs = _inputs()
    params = [p.detach().clone().requires_grad_() for p in m._arguments(xs)]
    fn = getattr(gen, f"_{type(m).__name__}Function")
    return fn, xs.requires_grad_(), params


@pytest.mark.parametrize("name", NAMES)
def test_double_backward_and_forward_mode_against_finite_differences(name):
    fn, xs, params = _function_and_args(name)
    assert torch.autograd.gradcheck(fn.apply, (xs, *params), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(fn.apply, (xs, *params), check_fwd_over_rev=True,
                                        check_rev_over_rev=True)


def test_gradient_penalty_matches_torch_nn_gelu():
    """The issue's example: a penalty on the input gradient, differentiated again."""
    results = []
    for act in (gen.GELU(), torch.nn.GELU()):
        torch.manual_seed(0)
        w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
        x = torch.tensor([0.3, -1.2, 0.8], requires_grad=True)
        y = act(w * x).sum()
        (gx,) = torch.autograd.grad(y, x, create_graph=True)
        (gx**2).sum().backward()
        results.append(w.grad.clone())
    torch.testing.assert_close(results[0], results[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(TWINS))
def test_hessians_match_torch_nn(name):
    """jacrev(jacrev), jacfwd(jacrev) (torch.func.hessian) and jacfwd(jacfwd) agree with torch.nn."""
    ours, theirs = gen.ACTIVATIONS[name]().double(), TWINS[name]().double()
    xs = _inputs(6)

    def f(m):
        return lambda t: (m(t) * torch.arange(1.0, 7.0, dtype=t.dtype)).sum()

    ref = jacrev(jacrev(f(theirs)))(xs)
    for transform in (hessian, lambda g: jacrev(jacrev(g)), lambda g: jacfwd(jacfwd(g))):
        torch.testing.assert_close(transform(f(ours))(xs), ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grad(f(ours))(xs), grad(f(theirs))(xs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_and_per_sample_gradients_match_a_loop(name):
    m = gen.ACTIVATIONS[name]().double()
    xs = _inputs(15).reshape(5, 3)
    torch.testing.assert_close(vmap(m)(xs), torch.stack([m(r) for r in xs]))
    torch.testing.assert_close(vmap(m, in_dims=1, out_dims=1)(xs), m(xs))
    params = dict(m.named_parameters())
    if not params:
        return

    def loss(p, row):
        return (functional_call(m, p, (row,)) ** 2).sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, xs)
    for k, p in params.items():
        loop = torch.stack([torch.autograd.grad(loss(params, r), p)[0] for r in xs])
        torch.testing.assert_close(per_sample[k], loop, rtol=1e-10, atol=1e-12)


def test_vmap_over_an_ensemble_of_parameters():
    """Batched parameters, one shared input: model ensembling with stack_module_state."""
    models = [gen.CRReLU(epsilon=e).double() for e in (0.01, -0.3, 0.7)]
    params, buffers = stack_module_state(models)
    xs = _inputs(8)

    def run(p, b, t):
        return functional_call(models[0], (p, b), (t,))

    out = vmap(run, in_dims=(0, 0, None))(params, buffers, xs)
    torch.testing.assert_close(out, torch.stack([m(xs) for m in models]))

    def loss(p, b, t):
        return run(p, b, t).pow(2).sum()

    g = vmap(grad(loss), in_dims=(0, 0, None))(params, buffers, xs)
    loop = [torch.autograd.grad(m(xs).pow(2).sum(), m.epsilon)[0] for m in models]
    torch.testing.assert_close(g["epsilon"], torch.stack(loop))


def test_per_channel_prelu_under_vmap_and_double_backward():
    ours = gen.PReLU(num_parameters=3, init=0.1).double()
    theirs = torch.nn.PReLU(num_parameters=3, init=0.1).double()
    xs = _inputs(24).reshape(2, 3, 4)
    batch = _inputs(48, seed=3).reshape(2, 2, 3, 4)
    torch.testing.assert_close(vmap(ours)(batch), vmap(theirs)(batch))
    grads = []
    for m in (ours, theirs):
        x = xs.clone().requires_grad_()
        (gx,) = torch.autograd.grad(m(x).pow(3).sum(), x, create_graph=True)
        (gw,) = torch.autograd.grad(gx.pow(2).sum(), m.weight)
        grads.append(gw)
    torch.testing.assert_close(grads[0], grads[1])


def test_third_derivatives_are_refused_clearly():
    x = torch.tensor([0.3, -1.1], dtype=torch.float64, requires_grad=True)
    (g1,) = torch.autograd.grad(gen.CRReLU().double()(x).sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="third and higher derivatives .* are not printed"):
        torch.autograd.grad(g2.sum(), x)


def test_plain_backward_saves_nothing_more():
    """create_graph=False takes the printed gradients directly: no second-order graph."""
    x = torch.randn(5, requires_grad=True)
    (g,) = torch.autograd.grad(gen.SiLU()(x).sum(), x)
    assert g.grad_fn is None
