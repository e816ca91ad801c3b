"""The activations of :mod:`eafo_sym.catalog`, prepared for code generation and printed.

Which parameters are learned: the EAFO-derived activations' parameters (the
paper trains CRReLU's ``eps``) and PReLU's slope. The others (LeakyReLU's
slope, ELU/CELU/SELU's alpha and lambda, Softplus's beta) are fixed
hyper-parameters in ``torch.nn`` and stay fixed here (buffers), so a baseline
does not silently become a different, learnable activation.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import catalog
from .backends import resolve
from .files import DEFAULT_COMMAND
from .forms import ActivationForm

__all__ = ["LEARNABLE", "backend_source", "nn_source", "registry_forms"]

#: Base (non-derived) activations whose parameters are learned, as in torch.nn.
LEARNABLE = frozenset({"prelu"})


def registry_forms(names: Sequence[str] | None = None) -> list[ActivationForm]:
    """Forms for the named registry activations (all registered ones by default).

    >>> [f.class_name for f in registry_forms(["relu", "prelu"])]
    ['ReLU', 'PReLU']
    >>> registry_forms(["prelu"])[0].learnable_params
    [alpha]
    >>> registry_forms(["elu"])[0].learnable_params
    []
    """
    forms = []
    for name in names if names is not None else catalog.names():
        act = catalog.get(name)
        learn = act.params if (act.derived or act.name in LEARNABLE) else ()
        forms.append(ActivationForm.from_activation(act, learnable=list(learn)))
    return forms


def backend_source(
    backend: str, names: Sequence[str] | None = None, command: str = DEFAULT_COMMAND
) -> str:
    """Source for ``backend`` (a name in :data:`~.backends.BACKENDS`) and the named activations.

    Raises:
        ValueError: An unknown backend.
    """
    return resolve(backend).source(registry_forms(names), command)


def nn_source(names: Sequence[str] | None = None, command: str = DEFAULT_COMMAND) -> str:
    """The text of ``eafo_sym/nn.py`` (all registered activations, torch backend)."""
    return backend_source("torch", names, command)
