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
