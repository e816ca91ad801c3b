"""Subcommands of ``eafo-sym``, one module each (see :mod:`eafo_sym.cli`)."""
