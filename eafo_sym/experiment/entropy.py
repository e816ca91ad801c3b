r"""Output entropy of an activation layer from samples, for outputs with atoms and without.

An activation's output can be continuous (GELU), have atoms (ReLU puts the mass
``P(x <= 0)`` on 0) or both, so its differential entropy is ``-inf`` for some
activations and finite for others: it cannot rank them. The study uses the
entropy of the output **quantised at a fixed resolution** ``delta``, whose
limit for small ``delta`` is, for atoms of masses ``m_i`` and a continuous
part of mass ``c`` and normalised differential entropy ``h_c``,

.. math:: H_\delta = -\sum_i m_i \log m_i - c \log c + c\,(h_c - \log \delta),

finite for both kinds. :func:`mixed_entropy` estimates it from samples: the
atoms are values repeated in at least ``atom_fraction`` of the samples, their
masses are counted, and ``h_c`` comes from Vasicek's m-spacing estimator on
the remaining values. :func:`reference_entropy` computes the same quantity
exactly from :func:`eafo_sym.output_law` for a known input law, which is how
the estimator is checked (``tests/test_experiment_entropy.py``). A layer's
entropy is the mean over its units (:func:`layer_entropy`).

>>> import numpy as np
>>> z = np.random.default_rng(0).standard_normal(20000)
>>> h = mixed_entropy(z, delta=1.0)  # N(0, 1): 0.5 log(2 pi e) = 1.4189
>>> bool(abs(h - 1.4189) < 0.02)
True
>>> h = mixed_entropy(np.maximum(z, 0), delta=1.0)  # ReLU: atom 1/2 + half-normal
>>> bool(abs(h - (np.log(2) + 0.5 * 0.7258)) < 0.02)
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["DELTA", "layer_entropy", "mixed_entropy", "reference_entropy", "spacing_entropy"]

#: The fixed resolution of the quantised entropy (the same for every layer and activation).
DELTA = 0.01


def spacing_entropy(values: np.ndarray) -> float:
    """Vasicek's m-spacing estimate of the differential entropy of 1-D samples.

    Uses ``m = round(sqrt(n))`` and the usual boundary clamping; ties (zero
    spacings) are floored at the float32 resolution of the values' scale.

    >>> u = np.random.default_rng(1).uniform(0, 2, 20000)
    >>> bool(abs(spacing_entropy(u) - np.log(2)) < 0.02)
    True
    """
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = v.size
    if n < 4:
        raise ValueError(f"spacing_entropy() needs at least 4 samples, got {n}")
    m = max(1, int(round(math.sqrt(n))))
    hi = v[np.minimum(np.arange(n) + m, n - 1)]
    lo = v[np.maximum(np.arange(n) - m, 0)]
    floor = max(np.finfo(np.float32).eps * float(np.abs(v).max()), 1e-30)
    spacing = np.maximum(hi - lo, floor)
    # Vasicek's estimator with Ebrahimi's boundary weights (the spacing shrinks at the ends).
    i = np.arange(1, n + 1)
    c = np.where(i <= m, 1 + (i - 1) / m, np.where(i >= n - m + 1, 1 + (n - i) / m, 2.0))
    return float(np.mean(np.log(n * spacing / (c * m))))


def mixed_entropy(
    values: np.ndarray, delta: float = DELTA, *, atom_fraction: float = 0.01
) -> float:
    """Estimate the quantised entropy ``H_delta`` of 1-D samples with atoms, without, or both.

    Args:
        values: Samples of the output.
        delta: The resolution (see the module docstring).
        atom_fraction: A value repeated in at least this fraction of the samples
            (and at least 3 times) is an atom.

    Returns:
        ``H_delta`` in nats.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    if n < 10:
        raise ValueError(f"mixed_entropy() needs at least 10 samples, got {n}")
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta}")
    uniq, counts = np.unique(v, return_counts=True)
    is_atom = counts >= max(3, atom_fraction * n)
    masses = counts[is_atom] / n
    rest = v[~np.isin(v, uniq[is_atom])]
    h = float(-np.sum(masses * np.log(masses)))
    c = rest.size / n
    if rest.size >= 4:
        h += -c * math.log(c) + c * (spacing_entropy(rest) - math.log(delta))
    return h


def reference_entropy(f: Any, dist: Any, delta: float = DELTA) -> float:
    """The exact ``H_delta`` of ``f(X)`` for a known input law, from :func:`eafo_sym.output_law`.

    Args:
        f: An activation as :func:`eafo_sym.output_law` takes it (a registry name, ...).
        dist: The input law (an :class:`eafo_sym.laws.Law`).
        delta: The resolution.
    """
    from ..numeric.entropy import output_law

    law = output_law(f, dist)
    atoms = np.array([m for _, m in law.atoms if m > 0])
    c = law.continuous_mass
    # c (h_c - log c) ... written with the unnormalised entropy -int q_c log q_c = c h_c - c log c.
    return float(-np.sum(atoms * np.log(atoms)) + law.unnormalised_entropy - c * math.log(delta))


def layer_entropy(outputs: np.ndarray, delta: float = DELTA, *, max_units: int = 64) -> float:
    """Mean :func:`mixed_entropy` over a layer's units.

    Args:
        outputs: Samples ``(n, units)`` (every other axis already flattened into ``n``).
        delta: The resolution.
        max_units: At most this many units, evenly spaced, are used.
    """
    a = np.asarray(outputs)
    if a.ndim != 2:
        raise ValueError(f"layer_entropy() needs (samples, units), got shape {a.shape}")
    units = np.unique(np.linspace(0, a.shape[1] - 1, min(max_units, a.shape[1])).astype(int))
    return float(np.mean([mixed_entropy(a[:, u], delta) for u in units]))
