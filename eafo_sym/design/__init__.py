"""EAFO as a design tool: a base activation and an input law in, the derivation and code out.

:func:`design` derives and checks the correction (:mod:`eafo_sym.design.core`);
:func:`write_design` writes a derivation notebook, the module files and a report
(:mod:`eafo_sym.design.files`). ``eafo-sym design`` is the command line for both.
"""

from .core import Check, Design, Piece, design, resolve_base

__all__ = ["Check", "Design", "Piece", "design", "resolve_base"]
