"""Deprecated: the activation registry is :mod:`eafo_sym.catalog`; this name re-exports it."""

import warnings

from .catalog import *  # noqa: F403
from .catalog import __all__  # noqa: F401

warnings.warn(
    "eafo_sym.activations is deprecated; import eafo_sym.catalog instead",
    DeprecationWarning,
    stacklevel=2,
)
