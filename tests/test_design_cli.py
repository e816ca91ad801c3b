"""``eafo-sym derive --base`` and the module files of ``eafo-sym design``."""

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from eafo_sym.cli import main


def _line_after(out: str, heading: str) -> str:
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(heading))
    return lines[i + 1].strip()


def test_derive_base_formula_matches_minus_p_over_fprime_prime(capsys):
    assert main(["derive", "--base", "x + 3/10*tanh(x)", "--dist", "logistic",
                 "--order", "1"]) == 0
    out = capsys.readouterr().out
    assert "base: x + 3*tanh(x)/10" in out and "the interval of x + 3/10*tanh(x)" in out
    dh_df = sp.lambdify(sp.Symbol("x"), sp.sympify(_line_after(out, "functional derivative")))
    # Independently: -(p/f')' by central differences of SciPy's logistic density.
    p, fp = stats.logistic.pdf, lambda t: 1 + 0.3 / np.cosh(t) ** 2
    for t in (-1.3, 0.4, 2.2):
        h = 1e-5
        ref = -(p(t + h) / fp(t + h) - p(t - h) / fp(t - h)) / (2 * h)
        assert float(dh_df(t)) == pytest.approx(ref, rel=1e-6)
    assert "corrected activation (eps learnable):" in out and "CRReLU" not in out


def test_derive_base_name_keeps_its_parameters_symbolic(capsys):
    assert main(["derive", "--base", "softplus", "--order", "1"]) == 0
    out = capsys.readouterr().out
    assert "base: log(exp(beta*x) + 1)/beta" in out
    # c_1 = E[s'/f'] with no closed form: printed as an Integral and its value.
    c1 = next(line for line in out.splitlines() if line.strip().startswith("c_1 = "))
    value = float(c1.rsplit("(", 1)[1].rstrip(")"))
    # Independently: s = (beta + x(e^{beta x} + 1)) e^{-x(2 beta + x)/2} at beta = 1,
    # c_1 = integral p s'/f' with f' = sigmoid(x).
    from scipy import integrate

    def s(t):
        return (1 + t * (np.exp(t) + 1)) * np.exp(-t * (2 + t) / 2)

    ref, _ = integrate.quad(lambda t: stats.norm.pdf(t) * (s(t + 1e-5) - s(t - 1e-5)) / 2e-5
                            * (1 + np.exp(-t)), -30, 30, limit=200)
    assert value == pytest.approx(ref, rel=1e-6)
    assert "eps of sign -1" in out and ref > 0


@pytest.mark.parametrize(
    ("base", "message"),
    [("swish", "unknown activation 'swish'"), ("sin(x)", "oscillates without end"),
     ("x*y", "unknown name 'y'"), ("log(x)", "not real")],
)
def test_derive_bad_base_is_one_line_exit_2(capsys, base, message):
    assert main(["derive", "--base", base]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def _load_module(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("design_module_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_design_torch_module_has_the_law_as_buffers(tmp_path):
    torch = pytest.importorskip("torch")
    from eafo_sym.design import design
    from eafo_sym.design.files import module_source
    from eafo_sym.laws import normal
    from eafo_sym.symbolic.symbols import eps, x

    d = design("relu", normal(1, 2), taylor_order=0)
    path = tmp_path / "module_torch.py"
    path.write_text(module_source(d, "torch", "eafo-sym design --base relu"))
    mod = _load_module(path)
    (cls,) = mod.ACTIVATIONS.values()
    m = cls(dtype=torch.float64)  # eps in float64: the exact 0.01
    state = m.state_dict()
    assert set(state) == {"epsilon", "mu", "sigma"}
    assert [n for n, _ in m.named_parameters()] == ["epsilon"]
    assert {n: float(b) for n, b in m.named_buffers()} == {"mu": 1.0, "sigma": 2.0}
    assert state["mu"].dtype == torch.float64
    # The closed form at the law's values: the design's corrected activation.
    closed = sp.lambdify(x, d.corrected.subs(eps, sp.Rational(1, 100)))
    t = torch.linspace(-4, 6, 101, dtype=torch.float64)
    assert torch.allclose(m(t), torch.as_tensor(closed(t.numpy()), dtype=torch.float64),
                          rtol=1e-10, atol=1e-13)
    # The buffers are what the module computes with: another law's values, another output.
    # Up to the positive constant eps absorbs, the shape the design derives under that law.
    other = cls(mu=0.0, sigma=1.0, dtype=torch.float64)
    shape0 = sp.lambdify(x, design("relu", normal(), taylor_order=0).shape)(t.numpy())
    bulk = np.abs(shape0) > 1e-3  # away from where other(t) - relu(t) is all rounding
    ratio = (other(t) - torch.relu(t)).detach().numpy()[bulk] / shape0[bulk]
    assert ratio.min() > 0 and ratio.max() == pytest.approx(ratio.min(), rel=1e-9)
    m.load_state_dict(other.state_dict())
    assert float(m.mu) == 0.0 and torch.allclose(m(t), other(t))
    # float32 input: float32 output; gradcheck in float64 through x and eps.
    assert m(t.float()).dtype == torch.float32
    m = cls().double()
    xin = torch.linspace(0.1, 3.7, 17, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: m(v), (xin,))
    epsilon = m.epsilon
    assert torch.autograd.gradcheck(
        lambda e: mod.eafo_relu_fwd(xin.detach(), e, m.mu, m.sigma), (epsilon.detach()
                                                                     .requires_grad_(),))
    (m(xin).sum()).backward()
    assert m.epsilon.grad is not None and m.mu.grad is None
