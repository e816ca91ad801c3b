"""The digits and their split, :mod:`eafo_sym.experiment.data`: fixed, stratified, disjoint."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from eafo_sym.experiment import data  # noqa: E402


def test_split_is_fixed_stratified_and_disjoint():
    digits = data.load()
    again = data.load()
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(digits.splits[k], again.splits[k])
    assert [len(digits.splits[k]) for k in ("train", "val", "test")] == [1077, 360, 360]
    counts = np.bincount(digits.y[digits.splits["test"]], minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~10% of 360 per class
    xtr, _ = digits.part("train")
    assert xtr.shape[1:] == (1, 8, 8) and xtr.dtype == np.float32
    assert abs(float(xtr.mean())) < 1e-5 and abs(float(xtr.std()) - 1) < 1e-4
    with pytest.raises(ValueError, match="split fractions"):
        data.split_indices(digits.y, val=0.6, test=0.5)

