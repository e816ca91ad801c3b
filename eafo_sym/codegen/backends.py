"""The code backends, one row each: what prints the code, what lays out the file, where it goes.

``eafo-sym codegen --backend NAME`` takes its choices from :data:`BACKENDS`, writes the
whole registry to the row's ``default_path`` when it has one, and the freshness tests check
every such committed file against its generator. A row names its printer and its assembler
by ``"module:attribute"`` inside :mod:`eafo_sym.codegen`, loaded on first use: reading the
table (the CLI does, at start-up) imports neither SymPy nor torch.

>>> sorted(BACKENDS)
['cpp', 'dynamic', 'jax', 'numpy', 'torch']
>>> BACKENDS["cpp"].runtime, BACKENDS["cpp"].default_path.name
('eafo_sym.fused', 'fused.cpp')
>>> resolve("fortran")
Traceback (most recent call last):
...
ValueError: unknown backend 'fortran'; choose cpp, dynamic, jax, numpy or torch
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import DEFAULT_COMMAND

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .forms import ActivationForm

__all__ = ["BACKENDS", "CPP_PATH", "DYNAMIC_PATH", "NN_PATH", "Backend", "numpy_source", "resolve"]

_PACKAGE = Path(__file__).resolve().parent.parent

#: Where ``eafo-sym codegen`` writes the torch modules by default.
NN_PATH = _PACKAGE / "nn.py"

#: Where ``eafo-sym codegen --backend dynamic`` writes the dynamic EAFO modules.
DYNAMIC_PATH = _PACKAGE / "dynamic.py"

#: Where ``eafo-sym codegen --backend cpp`` writes the fused kernels (:mod:`eafo_sym.fused`).
CPP_PATH = _PACKAGE / "csrc" / "fused.cpp"


def _load(reference: str) -> Any:
    """The attribute named by ``"module:attribute"``, the module relative to eafo_sym.codegen."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(f".{module}", __package__), attribute)


@dataclass(frozen=True)
class Backend:
    """One code backend.

    Attributes:
        name: What ``--backend`` calls it.
        printer: ``"module:Class"`` of its expression printer (:mod:`eafo_sym.codegen.printers`).
        assembler: ``"module:function"`` of its file assembler
            (:mod:`eafo_sym.codegen.assemblers`), called as
            ``assembler(forms, command, printer=printer_class)``.
        default_path: Where the whole registry is written by default (None: stdout).
        runtime: The module that runs the file at ``default_path`` (None: none).
        help: One line for ``eafo-sym codegen --help``.
    """

    name: str
    printer: str
    assembler: str
    default_path: Path | None = None
    runtime: str | None = None
    help: str = ""

    def printer_class(self) -> type:
        """The expression printer class (imports its module)."""
        return _load(self.printer)

    def source(self, forms: Iterable[ActivationForm], command: str) -> str:
        """The file for ``forms``, with ``command`` in its header."""
        return _load(self.assembler)(list(forms), command, printer=self.printer_class())


#: Backend name -> row. A new backend is a new row here (and the modules it names).
BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in [
        Backend(
            "torch",
            "printers.torch:EafoTorchModulePrinter",
            "assemblers.torch:nn_module_source",
            NN_PATH,
            "eafo_sym.nn",
            "torch.nn modules with an analytic backward",
        ),
        Backend(
            "cpp",
            "printers.cpp:VecPrinter",
            "assemblers.cpp:cpp_source",
            CPP_PATH,
            "eafo_sym.fused",
            "fused C++ CPU kernels, one pass each way",
        ),
        Backend(
            "dynamic",
            "printers.dynamic:DynamicTorchPrinter",
            "assemblers.dynamic:dynamic_source",
            DYNAMIC_PATH,
            "eafo_sym.dynamic",
            "torch modules whose EAFO correction follows the running law N(mu, sigma) of "
            "their input",
        ),
        Backend(
            "numpy",
            "printers.numpy:EafoSciPyPrinter",
            "assemblers.arrays:array_source",
            help="NumPy/SciPy functions and their derivatives",
        ),
        Backend(
            "jax",
            "printers.jax:EafoJaxPrinter",
            "assemblers.arrays:array_source",
            help="JAX functions and their derivatives",
        ),
    ]
}


def resolve(name: str) -> Backend:
    """The row for ``name``.

    Raises:
        ValueError: No such backend; the message lists the known ones.
    """
    if name not in BACKENDS:
        known = sorted(BACKENDS)
        raise ValueError(
            f"unknown backend {name!r}; choose {', '.join(known[:-1])} or {known[-1]}"
        )
    return BACKENDS[name]


def numpy_source(
    forms: Iterable[ActivationForm], backend: str = "numpy", command: str = DEFAULT_COMMAND
) -> str:
    """A standalone NumPy/SciPy (or JAX) file: ``<name>(x, ...)`` and ``<name>_grad(x, ...)``.

    >>> import sympy as sp
    >>> from eafo_sym import x
    >>> from eafo_sym.codegen import ActivationForm
    >>> src = numpy_source([ActivationForm("relu", sp.Max(0, x))])
    >>> "def relu_grad(x):" in src
    True
    """
    arrays = [n for n, b in BACKENDS.items() if b.assembler == BACKENDS["numpy"].assembler]
    if backend not in arrays:
        raise ValueError(f"unknown backend {backend!r}; choose {' or '.join(sorted(arrays))}")
    return BACKENDS[backend].source(forms, command)
