"""Expression printers: one module per target language, each a subclass of SymPy's own.

- :mod:`.base`: what they share (:class:`~.base.UnsupportedNodeError`, the refusal of nodes
  a target cannot translate, the fixes to SymPy 1.14 the Python-syntax printers need);
- :mod:`.torch`: ``sympy.printing.pytorch.TorchPrinter`` fixed, :func:`~.torch.torch_code`,
  and ``TORCH_OPS``, the one table of torch operation names (the emitter uses it too);
- :mod:`.numpy`: ``sympy.printing.numpy.SciPyPrinter`` fixed, :func:`~.numpy.numpy_code`;
- :mod:`.jax`: ``sympy.printing.numpy.JaxPrinter`` fixed, :func:`~.jax.jax_code`;
- :mod:`.cpp`: ``sympy.printing.c.C99CodePrinter`` printing ``at::vec::Vectorized`` code.

This package imports nothing itself: :mod:`.torch` imports torch (through SymPy's printer)
where it is installed, and only what asks for torch code should pay for that.
"""
