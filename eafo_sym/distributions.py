"""Deprecated: the input laws are :mod:`eafo_sym.laws`; this name re-exports them."""

import warnings

from .laws import *  # noqa: F403
from .laws import __all__  # noqa: F401

warnings.warn(
    "eafo_sym.distributions is deprecated; import eafo_sym.laws instead",
    DeprecationWarning,
    stacklevel=2,
)
