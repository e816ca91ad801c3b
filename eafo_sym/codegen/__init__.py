"""Code generation: SymPy closed forms to torch, NumPy and JAX code and modules.

The package imports without torch; functions that need torch import it when
called. See :func:`torch_code`, :func:`to_torch`, :func:`torch_source`.
"""

from .files import GENERATED_MARKER, write_generated
from .modules import to_numpy, to_torch
from .printers import UnsupportedNodeError, jax_code, numpy_code, torch_code
from .source import ActivationForm, numpy_source, torch_source

__all__ = [
    "GENERATED_MARKER",
    "ActivationForm",
    "UnsupportedNodeError",
    "jax_code",
    "numpy_code",
    "numpy_source",
    "to_numpy",
    "to_torch",
    "torch_code",
    "torch_source",
    "write_generated",
]
