"""File assemblers: whole generated files from activation forms, one module per file layout.

An assembler is a function ``(forms, command=..., *, printer=...) -> str``: it sorts the
forms by name, prints each with ``printer`` (an expression printer class of
:mod:`eafo_sym.codegen.printers`), lays the printed code out with the helper code of
:mod:`eafo_sym.codegen.templates`, and returns the file's text, byte-identical for the same
input. :mod:`.torch` lays out torch module files (``eafo_sym/nn.py``), :mod:`.arrays` NumPy
and JAX function files, :mod:`.cpp` the C++ extension of the fused kernels
(``eafo_sym/csrc/fused.cpp``); :mod:`.common` holds what they share (the header).
"""
