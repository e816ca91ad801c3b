"""The symbols every derivation shares.

All are declared real so that SymPy simplifies ``sqrt(x**2)`` and friends the
way a reader of the paper expects.
"""

import sympy as sp

__all__ = ["x", "y", "eta", "eps", "param"]

#: The pre-activation (input) variable.
x = sp.Symbol("x", real=True)
#: The activation's output variable (used by the y-space, inverse-function form).
y = sp.Symbol("y", real=True)
#: The EAFO step size in function space.
eta = sp.Symbol("eta", positive=True)
#: CRReLU's correction size (the paper's learnable scalar, ``lr`` in its pseudocode).
eps = sp.Symbol("epsilon", real=True)


def param(name: str) -> sp.Symbol:
    """Return the real parameter symbol called ``name``.

    One constructor keeps assumptions identical everywhere, so that two
    modules that mention ``alpha`` get the same SymPy object.

    >>> param("alpha") == sp.Symbol("alpha", real=True)
    True
    """
    if name == "epsilon":
        return eps
    return sp.Symbol(name, real=True)
