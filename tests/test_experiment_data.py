"""The data sets of :mod:`eafo_sym.experiment.data`: fixed, stratified, disjoint splits; MNIST-1D
generated offline from make_dataset's defaults."""

from __future__ import annotations

import socket

import numpy as np
import pytest

pytest.importorskip("sklearn")

from eafo_sym.experiment import data  # noqa: E402


def test_split_is_fixed_stratified_and_disjoint():
    digits = data.load("digits")
    assert data.load("digits") is digits  # cached per process
    again = data._digits(0)
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(digits.splits[k], again.splits[k])
    assert again.checksum == digits.checksum
    assert [len(digits.splits[k]) for k in ("train", "val", "test")] == [1077, 360, 360]
    counts = np.bincount(digits.y[digits.splits["test"]], minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~10% of 360 per class
    xtr, _ = digits.part("train")
    assert xtr.shape[1:] == (1, 8, 8) and xtr.dtype == np.float32
    assert abs(float(xtr.mean())) < 1e-5 and abs(float(xtr.std()) - 1) < 1e-4
    assert data._digits(1).checksum != digits.checksum  # the split seed is in the checksum
    with pytest.raises(ValueError, match="split fractions"):
        data.split_indices(digits.y, val=0.6, test=0.5)
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        data.load("cifar")


def test_mnist1d_is_generated_offline_from_the_defaults(monkeypatch):
    pytest.importorskip("mnist1d")

    def no_network(*args, **kwargs):
        raise AssertionError("make_dataset tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    ds = data._mnist1d(0)
    assert ds.x.shape == (5000, 1, 40) and ds.x.dtype == np.float32 and ds.n_classes == 10
    assert [len(ds.splits[k]) for k in ("train", "val", "test")] == [3200, 800, 1000]
    # The package's own test part is the test split; train and validation split its training part.
    np.testing.assert_array_equal(ds.splits["test"], np.arange(4000, 5000))
    parts = [set(ds.splits[k].tolist()) for k in ("train", "val", "test")]
    assert set.union(*parts) == set(range(5000)) and sum(map(len, parts)) == 5000
    assert ds.info["generation_args"]["seed"] == 42 and "url" not in ds.info["generation_args"]
    assert ds.info["generation_args"]["num_samples"] == 5000
    # Deterministic: a second generation gives the same arrays.
    assert data._mnist1d(0).checksum == ds.checksum and len(ds.checksum) == 64
    xtr, _ = ds.part("train")
    assert abs(float(xtr.mean())) < 1e-5 and abs(float(xtr.std()) - 1) < 1e-4
