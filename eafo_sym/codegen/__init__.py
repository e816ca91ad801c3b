"""Code generation: SymPy closed forms to torch, NumPy and JAX code and modules.

The layers, in the order data flows: :mod:`.stable` puts a closed form in a
numerically stable form (SymPy level); :mod:`.printers` and
:mod:`.torch_printer` print expressions for torch, NumPy/SciPy and JAX;
:mod:`.source` prints whole files (forward, analytic backward, autograd
Function, module, registry); :mod:`.modules` executes that source
(:func:`to_torch`, :func:`to_numpy`); :mod:`.cpp` prints the same forms as
fused C++ kernels (:mod:`eafo_sym.fused` builds and runs them); :mod:`.files`
writes generated files atomically;
:mod:`.registry` does all of it for :mod:`eafo_sym.activations` (``eafo_sym/nn.py``).

The package imports without torch; functions that need torch import it when
called.
"""

from .cpp import cpp_source
from .files import GENERATED_MARKER, write_generated
from .modules import to_numpy, to_torch
from .printers import UnsupportedNodeError, jax_code, numpy_code, torch_code
from .registry import nn_source, registry_forms
from .source import ActivationForm, numpy_source, torch_source

__all__ = [
    "GENERATED_MARKER",
    "ActivationForm",
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
