"""The layer-entropy estimator of :mod:`eafo_sym.experiment.entropy`, checked against the
package's own output law (``eafo_sym.output_law``/``output_entropy``) where the input law is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eafo_sym import output_entropy
from eafo_sym.experiment.entropy import (
    DELTA,
    layer_entropy,
    mixed_entropy,
    reference_entropy,
    spacing_entropy,
)
from eafo_sym.laws import laplace, logistic, normal

torch = pytest.importorskip("torch")
import eafo_sym.nn as generated  # noqa: E402

N = 40_000


def _outputs(name: str, z: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return generated.ACTIVATIONS[name]()(torch.as_tensor(z, dtype=torch.float64)).numpy()


@pytest.mark.parametrize(
    ("name", "law", "sampler"),
    [
        ("gelu", normal(), lambda r: r.standard_normal(N)),
        ("relu", normal(), lambda r: r.standard_normal(N)),
        ("crrelu", normal(), lambda r: r.standard_normal(N)),
        ("leaky_relu", normal(), lambda r: r.standard_normal(N)),
        ("tanh", logistic(), lambda r: r.logistic(0, 1, N)),
        ("relu", laplace(), lambda r: r.laplace(0, 1, N)),
        ("elu", laplace(), lambda r: r.laplace(0, 1, N)),
    ],
)
def test_estimate_matches_the_exact_quantised_entropy(name, law, sampler):
    y = _outputs(name, sampler(np.random.default_rng(7)))
    exact = reference_entropy(name, law)
    assert math.isfinite(exact)
    assert mixed_entropy(y) == pytest.approx(exact, abs=0.03)


def test_continuous_outputs_reduce_to_the_differential_entropy():
    # No atom: H_delta = h(f(X)) - log(delta), with h from output_entropy (an independent route:
    # the change-of-variables quadrature, not output_law's decomposition).
    for name in ("gelu", "silu", "tanh"):
        h = output_entropy(name, normal())
        assert reference_entropy(name, normal()) == pytest.approx(h - math.log(DELTA), abs=1e-8)
    z = np.random.default_rng(3).standard_normal(N)
    assert spacing_entropy(z) == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=0.02)


def test_atoms_are_counted_not_differentiated():
    # ReLU of N(0,1): an atom of 1/2 at 0 and a half-normal; output_entropy says -inf.
    assert output_entropy("relu", normal()) == -math.inf
    half_normal = 0.5 * math.log(math.pi * math.e / 2)
    exact = math.log(2) + 0.5 * (half_normal - math.log(DELTA))
    assert reference_entropy("relu", normal()) == pytest.approx(exact, abs=1e-8)
    # A pure atom has entropy 0 at any resolution; two equal atoms log 2.
    assert mixed_entropy(np.zeros(100)) == 0.0
    assert mixed_entropy(np.repeat([0.0, 1.0], 50)) == pytest.approx(math.log(2))


def test_the_estimate_is_consistent_as_n_grows():
    exact = reference_entropy("relu", normal())
    errors = []
    for n in (500, 5000, 50_000):
        z = np.random.default_rng(n).standard_normal((20, n))
        errors.append(np.mean([abs(mixed_entropy(np.maximum(row, 0)) - exact) for row in z]))
    assert errors[2] < errors[1] < errors[0]


def test_layer_entropy_averages_over_units_and_checks_its_input():
    z = np.random.default_rng(0).standard_normal((5000, 4))
    z[:, 1] *= 2.0  # a wider unit has log 2 more entropy
    per_unit = [mixed_entropy(z[:, i]) for i in range(4)]
    assert layer_entropy(z) == pytest.approx(np.mean(per_unit))
    assert per_unit[1] - per_unit[0] == pytest.approx(math.log(2), abs=0.05)
    with pytest.raises(ValueError, match="samples, units"):
        layer_entropy(z[:, 0])
    with pytest.raises(ValueError, match="at least 10 samples"):
        mixed_entropy(np.ones(3))
    with pytest.raises(ValueError, match="delta must be positive"):
        mixed_entropy(z[:, 0], delta=0)
