"""``eafo_sym.codegen.modules`` and the generated torch functions against mpmath.

Property tests on random inputs for :func:`to_numpy` and for the functions of
``eafo_sym/nn.py``, and the callables ``to_numpy`` returns.

Tolerance (float64): ``|got - ref| <= 16 ulp * max(|ref|, 1)``, i.e. 16 ulp
relative, with an absolute floor of 16 ulp of 1. The floor is needed where a
value or derivative crosses zero (Mish' near x = -1.19, CELU near 0): there a
few roundings of O(1) terms give an O(ulp) absolute error that is unbounded
relative to the tiny exact value. The reference is the registry's closed
form evaluated by mpmath at 50 digits.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from eafo_sym import catalog as activations
from eafo_sym import eps, x
from eafo_sym.codegen import to_numpy

NAMES = sorted(activations.names())
ULP = np.finfo(np.float64).eps
finite = st.floats(-60.0, 60.0, allow_nan=False, allow_infinity=False).filter(
    lambda v: abs(v) > 1e-9  # away from the kink of max(0, x), where SymPy's H(0) = 1/2
)
_cache: dict[str, tuple] = {}


def _ref(name):
    if name not in _cache:
        act = activations.get(name)
        e = act.bind()
        _cache[name] = (
            sp.lambdify(x, e, modules="mpmath"),
            sp.lambdify(x, sp.diff(e, x), modules="mpmath"),
            to_numpy(act.expr, act.params),
        )
    return _cache[name]


def _mp(f, v):
    with mpmath.workdps(50):
        return float(f(mpmath.mpf(v)))


def _assert_close(got, ref, what):
    assert abs(got - ref) <= 16 * ULP * max(abs(ref), 1.0), f"{what}: {got!r} vs {ref!r}"


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, derandomize=True)
@given(v=finite)
def test_numpy_matches_mpmath(name, v):
    f, _, fn = _ref(name)
    _assert_close(float(fn(np.array([v]))[0]), _mp(f, v), f"{name}({v})")


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, derandomize=True)
@given(v=finite)
def test_torch_value_and_gradient_match_mpmath(name, v):
    torch = pytest.importorskip("torch")
    from eafo_sym import nn as gen

    f, df, _ = _ref(name)
    params = [
        torch.tensor(float(d), dtype=torch.float64)
        for d in activations.get(name).params.values()
    ]
    xs = torch.tensor([v], dtype=torch.float64)
    y = getattr(gen, f"{name}_fwd")(xs, *params)
    g = getattr(gen, f"{name}_bwd_x")(xs, *params, torch.ones_like(xs))
    _assert_close(float(y[0]), _mp(f, v), f"{name}({v})")
    _assert_close(float(g[0]), _mp(df, v), f"{name}'({v})")


def test_to_numpy_callable():
    f = to_numpy(sp.Max(0, x) + eps * x * sp.exp(-(x**2) / 2), {eps: 0.01})
    assert f(np.array([2.0]))[0] == pytest.approx(2 + 0.02 * math.exp(-2), rel=1e-15)
    assert f(np.array([2.0]), epsilon=0.0)[0] == 2.0
    assert to_numpy(sp.Integer(3))(np.zeros(2)).tolist() == [3.0, 3.0]

