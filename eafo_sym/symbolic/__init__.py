"""The derivations, in SymPy only (no SciPy, no torch).

* :mod:`.symbols`: the shared symbols ``x``, ``y``, ``eta``, ``eps``;
* :mod:`.bases`: the base activations and the :class:`~.bases.Activation` type;
* :mod:`.pieces`: splitting an activation into smooth pieces, exact integrals;
* :mod:`.functional`: Lagrangians, the functional derivative in both
  coordinates, the inverse (``docs/mathematics.md`` §2-3);
* :mod:`.wafbc`: the worst activation with boundary conditions (§4);
* :mod:`.taylor`: exact Taylor coefficients of the entropy (§5);
* :mod:`.eafo`: the EAFO step and the one correction pipeline (§6-7).
"""
