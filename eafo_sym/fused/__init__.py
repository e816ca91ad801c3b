"""Fused CPU activation modules: the modules of :mod:`eafo_sym.nn`, one kernel per pass.

Each class here subclasses its :mod:`eafo_sym.nn` namesake (same parameters,
same ``state_dict``, drop-in) and runs float32/float64 CPU tensors through C++
kernels printed from the same SymPy forms (:mod:`eafo_sym.codegen.assemblers.cpp`,
committed as ``eafo_sym/csrc/fused.cpp``): the forward in one pass, the
backward (input gradient and parameter-gradient sums) in one more, saving only
the input. Outputs keep the input's memory format (channels_last stays channels_last).

The kernels are **torch operators** (``torch.ops.eafo_sym.<name>``, and
``<name>_backward_input`` and ``<name>_backward`` for the gradients), each with a CPU
kernel, a meta kernel (fake tensors) and autograd, so ``torch.compile`` calls them
without a graph break, ``torch.export`` records them and ``torch.library.opcheck`` passes
for each. Everything else runs the printed torch code of the parent class: other dtypes,
other devices, parameters that are not 0-dim, torch.func transforms (``vmap``, ``grad``,
...), and ``torch.compile`` before the kernels are loaded in the process. Inductor cannot
fuse an operator with its neighbours (a bias before it, a residual after it), which it does
with :mod:`eafo_sym.nn`'s torch code: under ``torch.compile``, time both
(``benchmarks/bench_crrelu.py`` has a row for each).

A nan or infinite parameter propagates as in the plain closed form: the guards that keep
the value at ``x = +-inf`` finite step aside for it (``CRReLU(epsilon=nan)`` gives nan).
The kernels are differentiable once: differentiating their backward again
(``create_graph=True``, then backward: gradient penalties, Hessian-vector products) raises
an error naming the :mod:`eafo_sym.nn` module to use instead.

The first use builds the kernels (:mod:`eafo_sym.fused.build`: about a minute, once per
environment, one line on stderr when it starts and one when it ends);
``python -m eafo_sym.fused --build`` builds ahead of time. Where they cannot be built (no
compiler, no ninja, a directory that cannot be written), the first forward logs one
warning line with the cause and the modules run the printed torch code for the rest of
the process. :func:`load` builds and raises :class:`BuildError` instead; :func:`available`
tells without raising.

>>> from eafo_sym.fused import CRReLU, eligible
>>> half = torch.ones(3, dtype=torch.float16)
>>> eligible(half, ())                    # float16: the printed torch code runs, no build
False
>>> CRReLU()(half).dtype
torch.float16
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import torch

from .. import nn as _nn
from .build import SOURCE_PATH, BuildError, load_library

__all__ = [
    "ACTIVATIONS",
    "FUSED_DTYPES",
    "SOURCE_PATH",
    "BuildError",
    "available",
    "eligible",
    "get_act_layer",
    "load",
    "unavailable_reason",
]

log = logging.getLogger(__name__)

#: dtypes the kernels are instantiated for.
FUSED_DTYPES = (torch.float32, torch.float64)

_lock = threading.Lock()


class _State:
    """The kernels of this process: loaded once, or failed once (then never retried)."""

    ops: dict[str, Any] | None = None  # registry name -> its forward operator
    failure: str | None = None
    warned = False


def _forward_ops() -> dict[str, Any]:
    """Each activation's forward operator, if it takes the parameters nn.py declares.

    An activation whose operator does not (the two generated files out of step) runs its
    torch code, and one warning line names it.
    """
    namespace = torch.ops.eafo_sym
    ops, stale = {}, []
    for name, params in _nn.PARAMETERS.items():
        op = getattr(namespace, name, None)
        arguments = [] if op is None else [a.name for a in op.default._schema.arguments]
        if len(arguments) != 1 + len(params):
            stale.append(name)
            continue
        ops[name] = op.default
    if stale:
        log.warning("eafo_sym.fused: no fused kernels match eafo_sym.nn for %s (regenerate "
                    "both with `eafo-sym codegen` and `eafo-sym codegen --backend cpp`); "
                    "running their torch code", ", ".join(stale))
    return ops


def load(verbose: bool = False) -> Any:
    """Build (first use in an environment: about a minute) and load the fused kernels.

    Args:
        verbose: Show the compiler's output.

    Returns:
        ``torch.ops.eafo_sym``, the operators' namespace.

    Raises:
        BuildError: The kernels cannot be built or loaded here; the message says why in one
            line. A failure is remembered: later calls raise it again without retrying.
    """
    with _lock:
        if _State.ops is None:
            if _State.failure is not None:
                raise BuildError(_State.failure)
            try:
                load_library(verbose)
                _State.ops = _forward_ops()
            except BuildError as err:
                _State.failure = str(err)
                raise
            except Exception as err:  # noqa: BLE001 - any failure of the toolchain: one line
                _State.failure = f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"
                raise BuildError(_State.failure) from err
    return torch.ops.eafo_sym


def available() -> bool:
    """Whether the fused kernels build (or are built) here; never raises."""
    try:
        load()
    except BuildError:
        return False
    return True


def unavailable_reason() -> str | None:
    """Why the kernels are unavailable, in one line (None if they load); builds if needed."""
    return None if available() else _State.failure


def _ops_for_forward() -> dict[str, Any] | None:
    """The loaded operators for a module's forward (building on first use), or None.

    A failure is logged once, as one line, and the modules run the printed torch code.
    """
    if _State.ops is not None:
        return _State.ops
    try:
        load()
    except BuildError as err:
        if not _State.warned:
            _State.warned = True
            log.warning("eafo_sym.fused: the fused kernels are unavailable, running the "
                        "printed torch code of eafo_sym.nn instead: %s", err)
        return None
    return _State.ops


def eligible(x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> bool:
    """Whether the fused kernels take this call (else the torch code runs).

    Float32/float64 CPU tensors with 0-dim floating-point CPU parameters.
    """
    return (
        x.device.type == "cpu"
        and x.dtype in FUSED_DTYPES
        and all(
            p.dim() == 0 and p.device.type == "cpu" and p.is_floating_point() for p in params
        )
    )


def _fused_class(name: str, base: type) -> type:
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The operators take the parameters in the printed functions' order (nn.PARAMETERS);
        # the generated class hands them over as tensors (PReLU's weight as a 0-dim view).
        params = tuple(self._arguments(x))
        if eligible(x, params):
            if torch.compiler.is_compiling():
                # Traced: the operator if this process has loaded it (a build cannot run
                # inside a trace), else the torch code, which the compiler fuses itself.
                ops = _State.ops
            elif torch._C._are_functorch_transforms_active():
                ops = None  # vmap, grad, jacrev, ...: the torch code supports them
            else:
                ops = _ops_for_forward()
            if ops is not None and name in ops:
                return ops[name](x, *params)
        return base.forward(self, x)

    doc = (
        f"{base.__name__} with fused CPU kernels (float32/float64); see :mod:`eafo_sym.fused`.\n\n"
        f"    Same parameters and state_dict as :class:`eafo_sym.nn.{base.__name__}`, which\n"
        f"    it subclasses; other dtypes and devices use that class's torch code. The\n"
        f"    kernels are the operator ``torch.ops.eafo_sym.{name}``.\n"
    )
    attrs = {"forward": forward, "__doc__": doc, "__module__": __name__}
    return type(base.__name__, (base,), attrs)


#: Registry name -> fused class, as :data:`eafo_sym.nn.ACTIVATIONS`.
ACTIVATIONS: dict[str, type] = {
    name: _fused_class(name, cls) for name, cls in _nn.ACTIVATIONS.items()
}
globals().update({cls.__name__: cls for cls in ACTIVATIONS.values()})
__all__ += sorted(cls.__name__ for cls in ACTIVATIONS.values())


def get_act_layer(name):
    """The fused class registered as ``name``; classes pass through (timm's convention)."""
    if isinstance(name, type):
        return name
    _nn.get_act_layer(name)  # an unknown name: the same ValueError as eafo_sym.nn's
    return ACTIVATIONS[name]
