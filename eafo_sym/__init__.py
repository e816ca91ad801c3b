"""eafo_sym: Entropy-based Activation Function Optimization, re-derived with SymPy.

Layers, in the one direction data flows: derivations (SymPy only:
:mod:`~eafo_sym.variations`, :mod:`~eafo_sym.taylor`, :mod:`~eafo_sym.wafbc`,
:mod:`~eafo_sym.eafo`), numeric checks (NumPy/SciPy: :mod:`~eafo_sym.entropy`),
code generation (:mod:`eafo_sym.codegen`) and the generated torch modules
(:mod:`eafo_sym.nn`, imported only on request: ``import eafo_sym`` never
imports torch).

>>> import eafo_sym as ea
>>> ea.derive_crrelu().expr
epsilon*x*exp(-x**2/2) + Max(0, x)
"""

from . import activations, distributions
from ._symbols import eps, eta, x, y
from .eafo import Correction, derive_correction, derive_crrelu, eafo_iterate, eafo_step
from .entropy import EntropyIntegrationWarning, OutputLaw, output_entropy, output_law
from .parsing import parse_activation
from .taylor import entropy_change, entropy_taylor, second_variation
from .variations import coordinates_agree, functional_derivative, inverse, lagrangian
from .wafbc import WorstActivation, worst_activation

__all__ = [
    "x",
    "y",
    "eta",
    "eps",
    "activations",
    "distributions",
    "parse_activation",
    "output_entropy",
    "output_law",
    "OutputLaw",
    "EntropyIntegrationWarning",
    "lagrangian",
    "functional_derivative",
    "inverse",
    "coordinates_agree",
    "entropy_taylor",
    "entropy_change",
    "second_variation",
    "worst_activation",
    "WorstActivation",
    "eafo_step",
    "eafo_iterate",
    "derive_correction",
    "derive_crrelu",
    "Correction",
]
__version__ = "0.1.0"
