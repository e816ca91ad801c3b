"""eafo_sym.design: the checked design of any base under any law, and eafo-sym design."""

import json

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

from eafo_sym.design import design
from eafo_sym.laws import logistic, normal, student_t
from eafo_sym.symbolic.symbols import eps, x


def _minus_p_over_fprime_prime(pdf, fprime, t, h=1e-4):
    return -(pdf(t + h) / fprime(t + h) - pdf(t - h) / fprime(t - h)) / (2 * h)


def test_relu_normal_reproduces_crrelu_and_its_sign():
    d = design("relu", normal())
    assert d.passed and {c.name for c in d.checks} >= {"c_1", "c_2", "c_3", "c_4"}
    assert sp.simplify(d.shape - x * sp.exp(-x**2 / 2)) == 0
    assert d.descent_sign == -1 and d.metric == "y"
    assert d.entropy_change is not None and d.entropy_change < 0  # descent lowers H
    lo, hi = d.eps_range
    assert lo < 0 < hi
    # Independently: f' + eps s' > 0 on x > 0 just inside the range, not just outside it.
    s1 = sp.lambdify(x, sp.diff(d.shape, x))
    ts = np.linspace(0, 8, 4001)
    assert np.all(1 + 0.99 * hi * s1(ts) > 0) and np.any(1 + 1.01 * hi * s1(ts) < 0)


def test_tanh_perturbation_under_logistic_against_independent_numbers():
    d = design("x + 0.3*tanh(x)", logistic(), taylor_order=1)
    assert d.passed
    c = d.correction
    law = stats.logistic()
    fprime = lambda t: 1 + 0.3 / np.cosh(t) ** 2  # noqa: E731
    g = sp.lambdify(x, c.coefficient * d.shape / c.weight)
    for t in (-2.0, 0.3, 1.7):
        assert float(g(t)) == pytest.approx(_minus_p_over_fprime_prime(law.pdf, fprime, t),
                                            rel=1e-6)
    # c_1 = integral p s'/f', quadrature with s' by finite differences.
    s = sp.lambdify(x, d.shape)
    c1, _ = integrate.quad(lambda t: law.pdf(t) * (s(t + 1e-5) - s(t - 1e-5)) / 2e-5
                           / fprime(t), -40, 40, limit=200)
    assert float(d.taylor[0]) == pytest.approx(c1, rel=1e-6)


def test_softplus_under_student_t():
    d = design("softplus", student_t(5), taylor_order=1)
    assert d.passed and d.correction.gradient_step_eps.has(sp.Symbol)
    # The end term at +oo has no closed limit here: the sign is reported undetermined, not guessed.
    assert d.descent_sign in (-1, 0, 1)


def test_silu_is_handled_by_branches():
    d = design("silu", normal(), taylor_order=0)
    assert d.correction.turning_points and d.correction.weight != 1
    live = [p for p in d.pieces if not p.flat]
    assert sum(len(p.branches) for p in live) == 2
    assert d.passed


def test_iterates_and_corrected_activation():
    d = design("relu", normal(), steps=2, taylor_order=0)
    assert len(d.iterates) == 3
    assert d.corrected.has(eps)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": "y + x"}, "unknown name 'y'"),
        ({"base": "relu", "metric": "z"}, "metric must be"),
        ({"base": "relu", "steps": 0}, "steps must be"),
        ({"base": "3"}, "constant"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    base = kwargs.pop("base")
    with pytest.raises(ValueError, match=message):
        design(base, normal(), **kwargs)


def test_symbolic_law_is_refused_with_what_to_do():
    from eafo_sym.laws import parametric

    with pytest.raises(ValueError, match="give the law's parameters"):
        design("relu", parametric("normal"))


def test_cli_writes_and_refuses_to_overwrite(tmp_path, capsys):
    from eafo_sym.cli import main

    out = tmp_path / "d"
    assert main(["design", "--base", "relu", "--out", str(out), "--backend", "numpy"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert {"design.ipynb", "design.json", "design.md", "module_numpy.py"} <= set(names)
    report = json.loads((out / "design.json").read_text())
    assert report["passed"] and report["descent_sign"] == -1
    import nbformat

    nb = nbformat.read(out / "design.ipynb", as_version=4)
    assert all(c.get("outputs") is not None for c in nb.cells if c.cell_type == "code")
    assert not any(o.get("output_type") == "error" for c in nb.cells
                   if c.cell_type == "code" for o in c.outputs)
    ns: dict = {}
    exec(compile((out / "module_numpy.py").read_text(), "module_numpy.py", "exec"), ns)  # noqa: S102
    # A foreign folder is refused: one line on stderr, exit 2.
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    capsys.readouterr()
    assert main(["design", "--base", "relu", "--out", str(foreign)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (foreign / "notes.txt").read_text() == "keep"
    assert len([e for e in err if not e.startswith("[design]")]) == 1


def test_cli_bad_formula_exits_2(capsys):
    from eafo_sym.cli import main

    assert main(["design", "--base", "exp(y)", "--out", "unused"]) == 2
    assert "y" in capsys.readouterr().err


def test_whole_line_entropy_with_the_atom_of_relu():
    d = design("relu", normal(), taylor_order=0)
    w = d.whole_line
    # ReLU's output has mass 1/2 at 0 (the law's CDF at 0); the correction spreads it out.
    assert [(v, pytest.approx(m, abs=1e-12)) for v, m in w.base_atoms] == [(0.0, 0.5)]
    assert w.base_entropy == -np.inf and w.corrected_atoms == ()
    assert np.isfinite(w.corrected_entropy) and w.change == np.inf
    assert any(c.name == "atom of f(X) at 0" and c.passed for c in d.checks)


def test_whole_line_change_agrees_with_the_interval_change_without_atoms():
    # No flat piece, the interval is the whole line: two quadratures of the same change
    # (output_law of f and f_eps, and entropy_change along the shape) must agree.
    d = design("x + 0.3*tanh(x)", logistic(), taylor_order=1)
    w = d.whole_line
    assert w.base_atoms == () == w.corrected_atoms and d.correction.interval == (-sp.oo, sp.oo)
    assert w.change == pytest.approx(d.entropy_change, rel=1e-6, abs=1e-10)
    assert w.change < 0  # the descent sign lowers the entropy


def test_gelu_is_handled_by_branches_not_refused():
    d = design("gelu", normal(), taylor_order=0)
    (turn,) = d.correction.turning_points
    assert -1 < float(turn) < 0  # GELU's minimum, at x = -0.75...
    assert sum(len(p.branches) for p in d.pieces if not p.flat) == 2
    assert d.taylor == () and d.passed
    assert sp.simplify(d.correction.weight - sp.diff(d.base, x) ** 2) == 0
    # The weighted gradient against -(p/f')' * f'^2 by central differences, independently.
    fp = sp.lambdify(x, sp.diff(d.base, x), "scipy")
    g = sp.lambdify(x, d.correction.coefficient * d.shape, "scipy")
    for t in (-2.5, 0.4, 1.9):
        ref = _minus_p_over_fprime_prime(stats.norm.pdf, fp, t, h=1e-5) * fp(t) ** 2
        assert float(g(t)) == pytest.approx(ref, rel=1e-6)
    # GELU's output law is known; the corrected one is not computed: the shape's printed
    # form overflows (exp(2 x^2) over exp(2 x^2)) in the far tail, and the design says None.
    assert d.whole_line is None
