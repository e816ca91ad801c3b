"""The stable forms (``eafo_sym.codegen.stable``): rewrites and guards, at the SymPy level.

What the printed code makes of them at the edges is tested with each printer
(``tests/test_codegen_printers_torch.py``, ``tests/test_codegen_printers_numpy.py``).
"""

from __future__ import annotations

import sympy as sp

from eafo_sym import eps, x
from eafo_sym.codegen.stable import erfc_, guard_products, sigmoid, softplus, stabilize


def test_stable_rewrites():
    assert stabilize(1 / (1 + sp.exp(-x))) == sigmoid(x)
    assert stabilize(sp.log(1 + sp.exp(x))) == softplus(x)
    assert stabilize(1 - sp.erf(x)) == erfc_(x)
    assert sp.diff(sigmoid(x), x) == sigmoid(x) * (1 - sigmoid(x))
    assert guard_products(eps * x * sp.exp(-x), x) != eps * x * sp.exp(-x)



def test_exponentials_are_merged_and_rationals_of_exp_become_sigmoid_polynomials():
    # exp(-x^2/2) * cosh(x)^2: cosh overflows where the product is tiny.
    e = (x / 2 - sp.tanh(x)) * sp.exp(-(x**2) / 2) * sp.cosh(x) ** 2
    assert not stabilize(e).has(sp.cosh)
    # exp(x)/(1 + exp(x))**2 = s*(1 - s), a polynomial in the bounded s.
    r = sp.exp(x) / (1 + sp.exp(x)) ** 2
    assert stabilize(r).has(sigmoid) and not stabilize(r).has(sp.exp)
