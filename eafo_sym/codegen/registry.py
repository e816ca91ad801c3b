"""The activations of :mod:`eafo_sym.activations`, prepared for code generation.

Which parameters are learned: the EAFO-derived activations' parameters (the
paper trains CRReLU's ``eps``) and PReLU's slope. The others (LeakyReLU's
slope, ELU/CELU/SELU's alpha and lambda, Softplus's beta) are fixed
hyper-parameters in ``torch.nn`` and stay fixed here (buffers), so a baseline
does not silently become a different, learnable activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .. import catalog as activations
from .source import DEFAULT_COMMAND, ActivationForm, numpy_source, torch_source

__all__ = ["LEARNABLE", "registry_forms", "nn_source", "backend_source", "NN_PATH", "CPP_PATH"]

#: Base (non-derived) activations whose parameters are learned, as in torch.nn.
LEARNABLE = frozenset({"prelu"})

#: Where ``eafo-sym codegen`` writes the torch modules by default.
NN_PATH = Path(__file__).resolve().parent.parent / "nn.py"

#: Where ``eafo-sym codegen --backend cpp`` writes the fused kernels (:mod:`eafo_sym.fused`).
CPP_PATH = Path(__file__).resolve().parent.parent / "csrc" / "fused.cpp"

#: Default output per backend when every activation is printed (None: stdout).
DEFAULT_PATHS = {"torch": NN_PATH, "cpp": CPP_PATH}


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
    for name in names if names is not None else activations.names():
        act = activations.get(name)
        learn = act.params if (act.derived or act.name in LEARNABLE) else ()
        forms.append(ActivationForm.from_activation(act, learnable=list(learn)))
    return forms


_NN_DOC = """\
Torch modules for every activation in :mod:`eafo_sym.activations`.

Printed by :mod:`eafo_sym.codegen` from the SymPy closed forms and their
analytic derivatives. Each class constructs with no arguments (timm's
``act_layer`` convention), works on any shape and on float16, bfloat16,
float32 and float64, and has a backward that saves only its input.
``ACTIVATIONS`` maps registry names (``"crrelu"``, ``"gelu"``, ...) to classes
and ``get_act_layer(name)`` looks one up.

CRReLU's learnable correction size is called ``epsilon`` here (the SymPy
symbol); the paper's pseudocode calls it ``lr``. Its default 0.01 is the
paper's. Learned parameters: those of derived activations and PReLU's slope;
the other base activations keep torch.nn's fixed hyper-parameters (buffers).
"""


def nn_source(names: Sequence[str] | None = None, command: str = DEFAULT_COMMAND) -> str:
    """The text of ``eafo_sym/nn.py`` (all registered activations, torch backend)."""
    return torch_source(registry_forms(names), command=command, doc=_NN_DOC)


def backend_source(
    backend: str, names: Sequence[str] | None = None, command: str = DEFAULT_COMMAND
) -> str:
    """Source for ``backend`` ("torch", "cpp", "numpy" or "jax") and the named activations."""
    if backend == "torch":
        return nn_source(names, command)
    if backend == "cpp":
        from .cpp import cpp_source

        return cpp_source(registry_forms(names), command=command)
    return numpy_source(registry_forms(names), backend=backend, command=command)
