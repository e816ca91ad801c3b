"""Code generation: SymPy closed forms to torch, NumPy, JAX and C++ code, files and modules.

The layers, in the order data flows:

- :mod:`.stable`: closed forms in a numerically stable form (SymPy level);
- :mod:`.forms`: :class:`ActivationForm`, an activation ready to print (stable forward,
  analytic gradients) and the common-subexpression step every printer shares;
- :mod:`.printers`: one expression printer per target, each a subclass of SymPy's own
  (:mod:`.printers.torch`, :mod:`.printers.numpy`, :mod:`.printers.jax`,
  :mod:`.printers.cpp` on ``sympy.printing.c.C99CodePrinter``), refusing by name what a
  target cannot translate (:class:`UnsupportedNodeError`);
- :mod:`.emit`: straight-line torch code with in-place reuse of dead temporaries;
- :mod:`.interfaces`: torch.nn's constructor arguments, attributes and ``state_dict`` names
  for the torch classes that share a torch.nn name (``LeakyReLU(negative_slope=...)``);
- :mod:`.assemblers`: whole files from forms (torch modules, NumPy/JAX functions, the C++
  extension), pasting the hand-written helper code of :mod:`.templates`, which are real,
  linted source files;
- :mod:`.backends`: :data:`BACKENDS`, one row per backend: name, printer, assembler,
  default output path, runtime module;
- :mod:`.registry`: all of it for the activations of :mod:`eafo_sym.catalog`
  (``eafo_sym/nn.py``, ``eafo_sym/csrc/fused.cpp``);
- :mod:`.modules`: :func:`to_torch` and :func:`to_numpy` execute the printed source;
  :mod:`.files` writes generated files atomically.

Adding a backend, say Triton: write ``printers/triton.py`` with a printer class (a subclass
of the closest SymPy printer and of :class:`.printers.base.Refusals`, with ``backend =
"triton"``), and ``assemblers/triton.py`` with a function ``(forms, command, *, printer) ->
str`` that lays out the file, its helper code in ``templates/`` (or reuse an assembler: the
JAX backend is its printer plus the NumPy backend's assembler); then add the row
``Backend("triton", "printers.triton:TritonPrinter", "assemblers.triton:triton_source",
default_path, runtime, help)`` to :data:`BACKENDS`. ``eafo-sym codegen --backend triton``,
:func:`.registry.backend_source` and the freshness test of a committed default file follow
from the row.

Every name below loads on first use, so that ``import eafo_sym.codegen`` imports neither
SymPy nor torch (the runtime :mod:`eafo_sym.fused` uses :func:`.files.source_digest`), and
asking for torch code imports torch only where it is installed (SymPy's torch printer does).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> module (relative to this package) that defines it.
_EXPORTS = {
    "ActivationForm": "forms",
    "BACKENDS": "backends",
    "Backend": "backends",
    "GENERATED_MARKER": "files",
    "UnsupportedNodeError": "printers.base",
    "cpp_source": "assemblers.cpp",
    "jax_code": "printers.jax",
    "nn_source": "registry",
    "numpy_code": "printers.numpy",
    "numpy_source": "backends",
    "registry_forms": "registry",
    "to_numpy": "modules",
    "to_torch": "modules",
    "torch_code": "printers.torch",
    "torch_source": "assemblers.torch",
    "write_generated": "files",
}

__all__ = [
    "ActivationForm",
    "BACKENDS",
    "Backend",
    "GENERATED_MARKER",
    "UnsupportedNodeError",
    "cpp_source",
    "jax_code",
    "nn_source",
    "numpy_code",
    "numpy_source",
    "registry_forms",
    "to_numpy",
    "to_torch",
    "torch_code",
    "torch_source",
    "write_generated",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .assemblers.cpp import cpp_source
    from .assemblers.torch import torch_source
    from .backends import BACKENDS, Backend, numpy_source
    from .files import GENERATED_MARKER, write_generated
    from .forms import ActivationForm
    from .modules import to_numpy, to_torch
    from .printers.base import UnsupportedNodeError
    from .printers.jax import jax_code
    from .printers.numpy import numpy_code
    from .printers.torch import torch_code
    from .registry import nn_source, registry_forms
