"""eafo_sym: Entropy-based Activation Function Optimization, re-derived with SymPy."""

from . import activations, distributions
from ._symbols import eps, eta, x, y

__all__ = ["x", "y", "eta", "eps", "distributions", "activations"]
__version__ = "0.1.0"
