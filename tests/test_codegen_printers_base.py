"""What the printers share (``eafo_sym.codegen.printers.base``): unsupported nodes are refused."""

from __future__ import annotations

import pytest
import sympy as sp

from eafo_sym import x
from eafo_sym.codegen import UnsupportedNodeError, jax_code, numpy_code, torch_code


@pytest.mark.parametrize(
    "printer, node",
    [
        (torch_code, sp.zeta(x)),
        (torch_code, sp.besselj(0, x)),
        (torch_code, sp.Function("myfun")(x)),
        (numpy_code, sp.zeta(x)),
        (numpy_code, sp.Function("myfun")(x)),
        (jax_code, sp.zeta(x)),
        (jax_code, sp.besselj(0, x)),
    ],
)
def test_unsupported_node_is_named(node, printer):
    name = type(node).__name__
    with pytest.raises((TypeError, ValueError), match=f"unsupported SymPy node {name}"):
        printer(node + x)


def test_unsupported_node_error_is_a_type_error():
    assert issubclass(UnsupportedNodeError, TypeError)

