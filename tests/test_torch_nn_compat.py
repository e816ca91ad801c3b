"""The namesake classes against torch.nn: signatures, attributes, state_dicts, repr, values.

Every check compares with torch.nn itself (``inspect.signature``, ``state_dict``, ``repr``,
outputs), or with the paper's module (:class:`eafo_sym.paper.PaperCRReLU`), or with the
plain closed form evaluated by NumPy for nan and infinite parameters.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from eafo_sym import catalog, x  # noqa: E402
from eafo_sym import nn as gen  # noqa: E402
from eafo_sym.codegen.interfaces import INTERFACES  # noqa: E402
from eafo_sym.paper import PaperCRReLU  # noqa: E402

TWINS = sorted(INTERFACES)
#: Non-default constructor arguments per class, the same for both (torch.nn's keywords).
CUSTOM = {
    "relu": {"inplace": True}, "leaky_relu": {"negative_slope": 0.2, "inplace": True},
    "prelu": {"num_parameters": 3, "init": 0.1}, "elu": {"alpha": 0.5}, "celu": {"alpha": 2.0},
    "selu": {"inplace": True}, "gelu": {"approximate": "none"}, "silu": {"inplace": True},
    "mish": {}, "softplus": {"beta": 2.0, "threshold": 15.0}, "sigmoid": {}, "tanh": {},
}


def _pair(name, **kwargs):
    ours = gen.ACTIVATIONS[name](**kwargs)
    theirs = getattr(torch.nn, type(ours).__name__)(**kwargs)
    return ours, theirs


def test_the_interface_table_covers_every_torch_nn_namesake():
    assert sorted(INTERFACES) == sorted(CUSTOM)
    for name in TWINS:
        assert hasattr(torch.nn, type(gen.ACTIVATIONS[name]()).__name__)


@pytest.mark.parametrize("name", TWINS)
def test_same_constructor_arguments_and_defaults(name):
    ours, theirs = _pair(name)

    def args(cls):
        sig = inspect.signature(cls.__init__)
        return [(p.name, p.default) for p in sig.parameters.values()
                if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "device", "dtype")]

    theirs_args = args(type(theirs))
    if theirs_args == [("args", inspect.Parameter.empty)]:
        theirs_args = []  # Sigmoid, Tanh: torch.nn takes no arguments
    assert args(type(ours)) == theirs_args


@pytest.mark.parametrize("name", TWINS)
def test_same_attributes_state_dict_and_repr(name):
    for kwargs in ({}, CUSTOM[name]):
        ours, theirs = _pair(name, **kwargs)
        assert repr(ours) == repr(theirs)
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
            k: tuple(v.shape) for k, v in theirs.state_dict().items()
        }
        for attr in vars(theirs):
            if not attr.startswith("_") and attr != "training":
                assert getattr(ours, attr) == getattr(theirs, attr), attr


@pytest.mark.parametrize("name", TWINS)
def test_torch_nn_checkpoints_load_both_ways_and_give_torch_nn_values(name):
    ours, theirs = _pair(name, **CUSTOM[name])
    for p in theirs.parameters():
        torch.nn.init.uniform_(p, -0.5, 0.5)
    ours.load_state_dict(theirs.state_dict())
    torch.manual_seed(0)
    xs = torch.randn(4, 3, 5, dtype=torch.float64) * 3
    ours, theirs = ours.double(), theirs.double()
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    y1, y2 = ours(x1 * 1), theirs(x2 * 1)  # * 1: torch.nn's inplace=True needs a non-leaf
    torch.testing.assert_close(y1, y2, rtol=1e-12, atol=1e-12)
    y1.pow(2).sum().backward()
    y2.pow(2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-12)
    for p1, p2 in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-12, atol=1e-12)
    theirs.load_state_dict(gen.ACTIVATIONS[name](**CUSTOM[name]).state_dict())


def test_float64_modules_use_the_exact_hyper_parameters():
    one = torch.tensor([-1.0], dtype=torch.float64)
    assert gen.LeakyReLU().double()(one).item() == -0.01  # not -0.009999999776
    assert gen.LeakyReLU().double()(one).item() == torch.nn.LeakyReLU().double()(one).item()
    xs = torch.linspace(-5, 5, 101, dtype=torch.float64)
    for name in ("selu", "elu", "celu", "softplus"):
        ours, theirs = _pair(name)
        torch.testing.assert_close(ours(xs), theirs(xs), rtol=2e-16, atol=2e-16)


def test_crrelu_loads_the_papers_lr_checkpoints():
    paper = PaperCRReLU(lr=0.3)
    ours = gen.CRReLU()
    ours.load_state_dict(paper.state_dict())
    assert ours.epsilon.item() == pytest.approx(0.3)
    assert list(ours.state_dict()) == ["epsilon"]
    xs = torch.randn(100) * 3
    torch.testing.assert_close(ours(xs), paper(xs))
    nested = torch.nn.Sequential(torch.nn.Linear(2, 2), PaperCRReLU(lr=-0.2))
    mine = torch.nn.Sequential(torch.nn.Linear(2, 2), gen.CRReLU())
    mine.load_state_dict(nested.state_dict())
    assert mine[1].epsilon.item() == pytest.approx(-0.2)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        gen.CRReLU().load_state_dict({"epsilon": torch.tensor(0.1), "lr": torch.tensor(0.2)})


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="approximate='tanh' has no printed closed form"):
        gen.GELU(approximate="tanh")
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a real number"):
        gen.LeakyReLU(negative_slope="big")
    with pytest.raises(ValueError, match="num_parameters must be a positive integer"):
        gen.PReLU(num_parameters=0)
    with pytest.raises(ValueError, match="PReLU has 3 parameters but the input's channel"):
        gen.PReLU(num_parameters=3)(torch.randn(2, 4))
    assert gen.ELU(alpha=torch.tensor(0.5)).alpha == 0.5  # a 0-dim tensor is a number


def test_derived_classes_take_device_and_dtype():
    m = gen.CRReLU(0.2, dtype=torch.float64, device="cpu")
    assert m.epsilon.dtype == torch.float64 and m.epsilon.item() == 0.2
    assert repr(gen.EafoELU(epsilon=0.05)) == "EafoELU(alpha=1, epsilon=0.05)"
    assert "epsilon=<()>" in repr(gen.CRReLU(device="meta"))


def _plain(name):
    """The closed form as NumPy evaluates it, with no stable rewriting and no guard."""
    act = catalog.get(name)
    return sp.lambdify([x, *act.params], act.expr, modules="numpy")


PARAMETRISED = sorted(n for n in catalog.names() if catalog.get(n).params)


@pytest.mark.parametrize("name", PARAMETRISED)
@pytest.mark.parametrize("special", [math.nan, math.inf, -math.inf])
def test_nan_and_infinite_parameters_are_never_masked(name, special):
    """Where the plain formula is nan or infinite, so is the printed forward; elsewhere equal.

    The printed forward may be nan where the plain formula is not: a two-branch
    Piecewise (ELU, CELU, SELU) is printed as a blend that evaluates both branches,
    and a nan or infinite parameter of the other branch reaches the blend; and an
    infinite rate inside a stable primitive (softplus(beta*x)/beta) is inf/inf.
    """
    act = catalog.get(name)
    xs = np.array([-2.5, -0.7, 0.4, 1.3, 3.0])
    f = _plain(name)
    for i in range(len(act.params)):
        args = [torch.tensor(float(d), dtype=torch.float64) for d in act.params.values()]
        args[i] = torch.tensor(special, dtype=torch.float64)
        with np.errstate(all="ignore"):
            ref = np.asarray(f(xs, *[a.item() for a in args]), dtype=float) * np.ones_like(xs)
        got = getattr(gen, f"{name}_fwd")(torch.from_numpy(xs), *args).numpy()
        where = f"{name}: {list(act.params)[i]} = {special}"
        assert np.isnan(got[np.isnan(ref)]).all(), (where, got, ref)
        inf = np.isinf(ref)
        assert np.array_equal(got[inf], ref[inf]) or np.isnan(got[inf]).all(), (where, got, ref)
        both = np.isfinite(ref) & np.isfinite(got)
        np.testing.assert_allclose(got[both], ref[both], rtol=1e-12, atol=1e-12)
        assert not np.isfinite(got[~np.isfinite(ref)]).any(), (where, got, ref)
        if math.isnan(special) and not act.expr.has(sp.Piecewise):  # no blend: the same nans
            assert np.array_equal(np.isnan(got), np.isnan(ref)), (where, got, ref)


def test_crrelu_with_a_nan_epsilon_outputs_nan():
    m = gen.CRReLU(epsilon=math.nan)
    y = m(torch.tensor([-3.0, 0.5, 2.0, 1e30]))
    assert torch.isnan(y).all()


@pytest.mark.parametrize("name", TWINS)
def test_the_gradient_at_a_kink_is_torch_nns(name):
    """At x = 0 torch.nn returns the left derivative (ReLU 0, LeakyReLU its slope, ELU alpha)."""
    ours, theirs = _pair(name, **CUSTOM[name])
    ours, theirs = ours.double(), theirs.double()
    x1 = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)  # PReLU: 3 channels
    x2 = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    ours(x1 * 1).sum().backward()
    theirs(x2 * 1).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", ["eafo_leaky_relu", "eafo_prelu"])
def test_a_derived_activation_gives_its_left_derivative_at_the_kink(name):
    """The printed gradient at 0 is SymPy's one-sided limit from the left, not a blend."""
    act = catalog.get(name)
    # Not the defaults: EAFO-LeakyReLU's slopes alpha + eps/alpha and 1 + eps agree there.
    values = {p: (0.3 if str(p) == "alpha" else 0.05) for p in act.params}
    d = sp.diff(act.expr, x).subs(values)
    left = float(sp.limit(d, x, 0, "-"))
    right = float(sp.limit(d, x, 0, "+"))
    assert abs(left - right) > 1e-3  # a kink indeed
    module = gen.ACTIVATIONS[name](**{str(p): v for p, v in values.items()}).double()
    t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    module(t).sum().backward()
    assert float(t.grad) == pytest.approx(left, rel=1e-7, abs=1e-12)
