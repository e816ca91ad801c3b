"""eafo_sym: Entropy-based Activation Function Optimization, re-derived with SymPy.

Layers, in the one direction data flows (``docs/layers.md``):

1. **derive** (SymPy only): :mod:`eafo_sym.symbolic` (functional derivative,
   WAFBC, Taylor coefficients, the EAFO correction pipeline) over the input
   laws of :mod:`eafo_sym.laws`; :mod:`eafo_sym.catalog` names the base
   activations and the ones EAFO derives from them;
2. **check** (NumPy/SciPy): :mod:`eafo_sym.numeric` (output entropy,
   quadrature, rankings, independent reference numbers);
3. **print code**: :mod:`eafo_sym.codegen` (torch, NumPy, JAX, fused C++);
4. **run** (torch): the generated :mod:`eafo_sym.nn` and :mod:`eafo_sym.fused`.

The names below are loaded on first use, so ``import eafo_sym`` imports
neither torch nor SciPy, and ``import eafo_sym.nn`` does not import SymPy.

>>> import eafo_sym as ea
>>> ea.derive_crrelu().expr
epsilon*x*exp(-x**2/2) + Max(0, x)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

# Public name -> module that defines it.
_EXPORTS = {
    "x": "symbolic.symbols",
    "y": "symbolic.symbols",
    "eta": "symbolic.symbols",
    "eps": "symbolic.symbols",
    "parse_activation": "parsing",
    "Activation": "symbolic.bases",
    "Law": "laws",
    "output_entropy": "numeric.entropy",
    "output_law": "numeric.entropy",
    "OutputLaw": "numeric.entropy",
    "EntropyIntegrationWarning": "numeric.entropy",
    "lagrangian": "symbolic.functional",
    "functional_derivative": "symbolic.functional",
    "inverse": "symbolic.functional",
    "coordinates_agree": "symbolic.functional",
    "entropy_taylor": "numeric.taylor",
    "entropy_change": "numeric.taylor",
    "second_variation": "numeric.taylor",
    "worst_activation": "symbolic.wafbc",
    "WorstActivation": "symbolic.wafbc",
    "eafo_step": "symbolic.eafo",
    "eafo_iterate": "symbolic.eafo",
    "derive_correction": "symbolic.eafo",
    "derive_crrelu": "symbolic.eafo",
    "Correction": "symbolic.eafo",
}
_SUBMODULES = ("catalog", "laws", "symbolic", "numeric", "codegen", "cache", "parsing")
# Former module names, kept importable with a DeprecationWarning.
_DEPRECATED_MODULES = {"activations": "catalog", "distributions": "laws"}

__all__ = [
    "Activation",
    "Correction",
    "EntropyIntegrationWarning",
    "Law",
    "OutputLaw",
    "WorstActivation",
    "catalog",
    "coordinates_agree",
    "derive_correction",
    "derive_crrelu",
    "eafo_iterate",
    "eafo_step",
    "entropy_change",
    "entropy_taylor",
    "eps",
    "eta",
    "functional_derivative",
    "inverse",
    "lagrangian",
    "laws",
    "output_entropy",
    "output_law",
    "parse_activation",
    "second_variation",
    "worst_activation",
    "x",
    "y",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES or name in _DEPRECATED_MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import catalog, laws
    from .laws import Law
    from .numeric.entropy import EntropyIntegrationWarning, OutputLaw, output_entropy, output_law
    from .numeric.taylor import entropy_change, entropy_taylor, second_variation
    from .parsing import parse_activation
    from .symbolic.bases import Activation
    from .symbolic.eafo import (
        Correction,
        derive_correction,
        derive_crrelu,
        eafo_iterate,
        eafo_step,
    )
    from .symbolic.functional import coordinates_agree, functional_derivative, inverse, lagrangian
    from .symbolic.symbols import eps, eta, x, y
    from .symbolic.wafbc import WorstActivation, worst_activation
