"""Dynamic EAFO modules (eafo_sym/dynamic.py): running law, CRReLU as the frozen case, autograd."""

import math

import pytest

torch = pytest.importorskip("torch")

from eafo_sym import dynamic, nn  # noqa: E402
from eafo_sym.dynamic import DynamicCRReLU  # noqa: E402


@pytest.mark.parametrize("name", sorted(dynamic.ACTIVATIONS))
def test_frozen_at_the_standard_normal_is_the_static_module(name):
    """mu = 0, sigma = 1 frozen: the same outputs and gradients as eafo_sym.nn's twin."""
    torch.manual_seed(0)
    dyn = dynamic.ACTIVATIONS[name](frozen=True).double()
    static = nn.ACTIVATIONS[name.removeprefix("dynamic_")]().double()
    x = 3 * torch.randn(2000, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = dyn(xa), static(xb)
    g = torch.randn_like(x)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(ya, yb, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-13)
    for p, q in zip(dyn.parameters(), static.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-11, atol=1e-12)
    assert float(dyn.mu) == 0.0 and float(dyn.sigma) == 1.0


def test_crrelu_float32_outputs_and_gradients_agree():
    x = torch.randn(4096) * 2
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    dyn, static = DynamicCRReLU(frozen=True), nn.CRReLU()
    dyn(xa).sum().backward()
    static(xb).sum().backward()
    torch.testing.assert_close(dyn(x), static(x))
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(dyn.epsilon.grad, static.epsilon.grad)


def test_running_estimates_follow_the_stream_as_batchnorm():
    """The buffers are the momentum average of torch.mean/torch.std of each batch."""
    torch.manual_seed(1)
    m = DynamicCRReLU(momentum=0.2)
    mu, sigma = 0.0, 1.0
    for _ in range(30):
        x = 1.5 + 0.5 * torch.randn(64, 32)
        m(x)
        mu = 0.8 * mu + 0.2 * float(torch.mean(x))
        sigma = 0.8 * sigma + 0.2 * float(torch.std(x))
    assert float(m.mu) == pytest.approx(mu, rel=1e-5)
    assert float(m.sigma) == pytest.approx(sigma, rel=1e-5)
    # A stationary stream: within the momentum's tolerance of the law's moments. The
    # average's noise is the batch statistic's times sqrt(momentum / (2 - momentum)).
    tol = 4 * 0.5 / math.sqrt(64 * 32) * math.sqrt(0.2 / 1.8)
    assert abs(float(m.mu) - 1.5) < tol + 0.8**30
    assert abs(float(m.sigma) - 0.5) < tol + 0.8**30


def test_per_channel_law_with_dim():
    torch.manual_seed(2)
    m = DynamicCRReLU(dim=1, num_channels=3, momentum=1.0)
    x = torch.randn(8, 3, 5, 5) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    m(x)
    torch.testing.assert_close(m.mu, x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(m.sigma, x.std(dim=(0, 2, 3)))
    with pytest.raises(ValueError, match="3 channels but the input's dimension 1 has 4"):
        m(torch.randn(2, 4))


def test_eval_mode_uses_the_running_law_and_is_deterministic():
    m = DynamicCRReLU()
    m(torch.randn(256) * 3 + 1)
    m.eval()
    before = (m.mu.clone(), m.sigma.clone())
    x = torch.randn(1000)
    y = m(x)
    assert torch.equal(y, m(x))
    assert torch.equal(m.mu, before[0]) and torch.equal(m.sigma, before[1])
    # The forward is the closed form at the running law.
    u = (x - m.mu) / m.sigma
    torch.testing.assert_close(y, torch.relu(x) + m.epsilon * u * torch.exp(-u * u / 2))


def test_no_gradient_reaches_the_law_and_epsilon_learns():
    m = DynamicCRReLU()
    x = torch.randn(100, requires_grad=True)
    m(x).sum().backward()
    assert m.epsilon.grad is not None and x.grad is not None
    assert not m.mu.requires_grad and not m.sigma.requires_grad


def test_gradcheck_in_float64_with_the_law_fixed():
    m = DynamicCRReLU(epsilon=0.3).double().eval()
    m.mu.fill_(0.4)
    m.sigma.fill_(1.7)
    x = torch.randn(20, dtype=torch.float64, requires_grad=True)
    eps = m.epsilon.detach().clone().requires_grad_()

    def f(x, eps):
        return dynamic._DynamicCRReLUFunction.apply(x, eps, m.mu, m.sigma)

    assert torch.autograd.gradcheck(f, (x, eps))
    assert torch.autograd.gradgradcheck(f, (x, eps))
    assert torch.autograd.gradcheck(m, (x,))


def test_backward_saves_only_the_input_and_scalars():
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    m = DynamicCRReLU()
    x = torch.randn(1000, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = m(x)
    y.sum().backward()
    assert sorted(sizes) == [1, 1, 1, 1000]  # epsilon, mu, sigma and x


def test_called_twice_before_one_backward():
    m = DynamicCRReLU()
    x = torch.randn(50, requires_grad=True)
    (m(x) + m(2 * x)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_state_dict_round_trip():
    m = DynamicCRReLU(epsilon=0.05)
    m(torch.randn(300) * 2 + 0.5)
    state = m.state_dict()
    assert set(state) == {"epsilon", "mu", "sigma"}
    fresh = DynamicCRReLU()
    fresh.load_state_dict(state)
    fresh.eval()
    m.eval()
    x = torch.randn(64)
    assert torch.equal(fresh(x), m(x))


@pytest.mark.parametrize("name", sorted(dynamic.ACTIVATIONS))
def test_every_class_constructs_with_no_arguments(name):
    m = dynamic.ACTIVATIONS[name]()
    assert m(torch.randn(10)).shape == (10,)
    assert "momentum=0.1" in repr(m)
    assert dynamic.get_act_layer(name) is type(m)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"momentum": 0.0}, "momentum must be a number in"),
        ({"momentum": "fast"}, "momentum must be a number in"),
        ({"dim": 1.5}, "dim must be an int"),
        ({"num_channels": 3}, "needs dim="),
        ({"dim": 1, "num_channels": 0}, "num_channels must be a positive int"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DynamicCRReLU(**kwargs)


def test_under_torch_compile_the_law_updates_as_in_eager():
    torch.manual_seed(3)
    eager, compiled = DynamicCRReLU(), DynamicCRReLU()
    run = torch.compile(compiled)
    for _ in range(3):
        x = torch.randn(512) * 2 + 1
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = eager(xa), run(xb)
        ya.sum().backward()
        yb.sum().backward()
        torch.testing.assert_close(ya, yb)
        torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(eager.mu, compiled.mu)
    torch.testing.assert_close(eager.sigma, compiled.sigma)
    torch.testing.assert_close(eager.epsilon.grad, compiled.epsilon.grad)
