"""The dynamic EAFO backend's printer: the torch module printer, under its own backend name."""

from __future__ import annotations

from .torch import EafoTorchModulePrinter

__all__ = ["DynamicTorchPrinter"]


class DynamicTorchPrinter(EafoTorchModulePrinter):
    """Prints ``eafo_sym/dynamic.py``: torch code, exactly as for ``eafo_sym/nn.py``."""

    backend = "dynamic"
