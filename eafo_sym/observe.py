"""Observation hooks: the pre-activation statistics a network actually produces.

:func:`observe` puts a forward pre-hook on every activation layer of a model (the package's
modules of :mod:`eafo_sym.nn`, :mod:`eafo_sym.dynamic` and :mod:`eafo_sym.paper`, and the
elementwise ones of ``torch.nn``) and records, per layer and batch, the statistics of
:func:`eafo_sym.numeric.measured.describe` (mean, std, skewness, excess kurtosis, the
fraction below zero and an Anderson-Darling normality statistic), plus a bounded random
subsample of the inputs for :func:`eafo_sym.numeric.measured.measured_correction`. The hooks
only read their input: the model's outputs are unchanged, and they are removed when the
``with`` block ends.

>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
>>> with observe(model) as seen:
...     _ = model(torch.randn(64, 4))
>>> list(seen), len(seen["1"].batches), seen["1"].samples().shape
(['1'], 1, (512,))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from .numeric.measured import describe

__all__ = ["LayerRecord", "Observation", "is_activation", "observe"]

#: Modules whose classes are activations of this package.
_PACKAGE_MODULES = ("eafo_sym.nn", "eafo_sym.dynamic", "eafo_sym.paper")

#: torch.nn's activation module that holds classes that are not elementwise activations.
_NOT_ELEMENTWISE = (torch.nn.MultiheadAttention,)


def is_activation(module: torch.nn.Module) -> bool:
    """Whether ``module`` is an activation layer :func:`observe` hooks by default.

    >>> is_activation(torch.nn.GELU()), is_activation(torch.nn.Linear(2, 2))
    (True, False)
    """
    cls = type(module)
    if isinstance(module, _NOT_ELEMENTWISE):
        return False
    return cls.__module__ == "torch.nn.modules.activation" or cls.__module__ in _PACKAGE_MODULES


@dataclass
class LayerRecord:
    """What one activation layer saw.

    Attributes:
        name: The layer's qualified name in the model (``named_modules``).
        kind: Its class name.
        batches: One :func:`~eafo_sym.numeric.measured.describe` dict per batch.
        kept: The subsampled pre-activations, one array per batch.
    """

    name: str
    kind: str
    batches: list[dict[str, float]] = field(default_factory=list)
    kept: list[np.ndarray] = field(default_factory=list)

    def samples(self) -> np.ndarray:
        """All kept pre-activations, concatenated (float64)."""
        return np.concatenate(self.kept) if self.kept else np.empty(0)

    def last(self) -> dict[str, float]:
        """The statistics of the latest batch."""
        if not self.batches:
            raise ValueError(f"layer {self.name!r} has seen no batch")
        return self.batches[-1]


class Observation(dict):
    """Layer name -> :class:`LayerRecord`, in the model's order."""

    def table(self) -> list[dict[str, float | str]]:
        """One row per layer: its name, kind and latest statistics."""
        return [{"layer": r.name, "kind": r.kind, **r.last()} for r in self.values() if r.batches]


@contextmanager
def observe(
    model: torch.nn.Module,
    *,
    samples: int = 10_000,
    per_batch: int = 4096,
    only=None,
    seed: int = 0,
) -> Iterator[Observation]:
    """Record the pre-activation statistics of ``model``'s activation layers.

    Args:
        model: Any ``torch.nn.Module``.
        samples: Most pre-activations kept per layer (the latest batches' subsamples).
        per_batch: Most pre-activations kept from one batch (drawn without replacement).
        only: A predicate on modules choosing the layers (default :func:`is_activation`).
        seed: Seed of the subsampling.

    Yields:
        An :class:`Observation`, filled while the block runs forward passes.

    Raises:
        TypeError: ``model`` is not a torch module.
        ValueError: ``samples`` or ``per_batch`` below 1, or no layer to observe.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"observe: model must be a torch.nn.Module, got {type(model).__name__}")
    for name, value in (("samples", samples), ("per_batch", per_batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"observe: {name} must be a positive int, got {value!r}")
    choose = is_activation if only is None else only
    rng = np.random.default_rng(seed)
    seen = Observation()
    handles = []

    def hook_for(record: LayerRecord):
        def hook(module, args):
            if not args or not isinstance(args[0], torch.Tensor) or args[0].numel() < 10:
                return None
            a = args[0].detach().to("cpu", torch.float64).reshape(-1).numpy()
            record.batches.append(describe(a, seed=seed))
            take = a if a.size <= per_batch else rng.choice(a, per_batch, replace=False)
            record.kept.append(take.copy())
            if sum(k.size for k in record.kept) > samples:
                record.kept = [np.concatenate(record.kept)[-samples:]]
            return None  # a pre-hook that returns None leaves the input as it is

        return hook

    for name, module in model.named_modules():
        if choose(module):
            record = LayerRecord(name or type(module).__name__, type(module).__name__)
            seen[record.name] = record
            handles.append(module.register_forward_pre_hook(hook_for(record)))
    if not handles:
        raise ValueError("observe: the model has no activation layer to observe")
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()
