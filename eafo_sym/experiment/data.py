"""scikit-learn's digits with a fixed, stratified train/validation/test split.

The split depends only on ``split_seed`` (not on the training seed), so every
activation and every seed sees exactly the same images; the indices are saved
next to the results so that anyone can check them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Digits", "load", "split_indices"]


@dataclass(frozen=True)
class Digits:
    """The digits as float32 images ``(n, 1, 8, 8)`` and int64 labels, split three ways.

    Attributes:
        x: Standardised pixels, shape ``(n, 1, 8, 8)``.
        y: Labels 0-9, shape ``(n,)``.
        splits: ``{"train", "val", "test"}`` -> sorted index arrays into ``x``/``y``.
        mean: Pixel mean of the training part (raw scale 0-16) used to standardise.
        std: Pixel standard deviation of the training part (raw scale).
    """

    x: np.ndarray
    y: np.ndarray
    splits: dict[str, np.ndarray]
    mean: float
    std: float

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of one split (``"train"``, ``"val"`` or ``"test"``)."""
        idx = self.splits[name]
        return self.x[idx], self.y[idx]


def split_indices(
    y: np.ndarray, *, seed: int = 0, val: float = 0.2, test: float = 0.2
) -> dict[str, np.ndarray]:
    """A stratified train/val/test split of ``range(len(y))``, deterministic in ``seed``.

    Args:
        y: Class labels.
        seed: Seed of the split (fixed for the whole experiment).
        val: Fraction for validation.
        test: Fraction for testing.

    Returns:
        Sorted, disjoint index arrays covering every sample.

    >>> y = np.repeat(np.arange(3), 10)
    >>> s = split_indices(y, seed=0, val=0.2, test=0.2)
    >>> [len(s[k]) for k in ("train", "val", "test")]
    [18, 6, 6]
    >>> sorted(np.bincount(y[s["test"]]).tolist())
    [2, 2, 2]
    """
    from sklearn.model_selection import train_test_split

    if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
        raise ValueError(
            f"split fractions must be in (0, 1) with val + test < 1, got {val}, {test}"
        )
    idx = np.arange(len(y))
    rest, te = train_test_split(idx, test_size=test, stratify=y, random_state=seed)
    tr, va = train_test_split(
        rest, test_size=val / (1 - test), stratify=y[rest], random_state=seed + 1
    )
    return {"train": np.sort(tr), "val": np.sort(va), "test": np.sort(te)}


def load(*, split_seed: int = 0, val: float = 0.2, test: float = 0.2) -> Digits:
    """Load scikit-learn's digits (shipped with the package, no download) and split them.

    Pixels are standardised with one scalar mean and standard deviation taken
    from the training part only, so no statistic leaks from validation or test.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images.astype(np.float64)
    y = bunch.target.astype(np.int64)
    splits = split_indices(y, seed=split_seed, val=val, test=test)
    train = x[splits["train"]]
    mean, std = float(train.mean()), float(train.std())
    x = ((x - mean) / std).astype(np.float32)[:, None, :, :]
    return Digits(x=x, y=y, splits=splits, mean=mean, std=std)
