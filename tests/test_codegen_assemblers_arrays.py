"""The array-function files (``eafo_sym.codegen.assemblers.arrays``): JAX against NumPy and autodiff.

The files ``eafo-sym codegen --backend numpy`` and ``--backend jax`` print share one layout;
the JAX file's values and derivatives are held to the NumPy file's and to JAX autodiff.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from eafo_sym import catalog as activations  # noqa: E402
from eafo_sym.codegen.registry import backend_source  # noqa: E402

NAMES = sorted(activations.names())
# The kinks of max(0, x) and friends: printed derivatives take torch's subgradient there.
XS = np.concatenate([np.linspace(-8.0, 8.0, 160), [-40.0, -1e-3, 1e-3, 40.0]])


@pytest.fixture(scope="module")
def generated():
    jax.config.update("jax_enable_x64", True)  # compare in float64, as the NumPy code runs

    def load(backend):
        ns: dict = {}
        exec(compile(backend_source(backend), f"<{backend}>", "exec"), ns)  # noqa: S102 - our own printed code
        return ns["ACTIVATIONS"]

    return load("numpy"), load("jax")


@pytest.mark.parametrize("name", NAMES)
def test_jax_values_and_derivatives_match_numpy(generated, name):
    np_acts, jax_acts = generated
    (f, df), (jf, jdf) = np_acts[name], jax_acts[name]
    with np.errstate(all="ignore"):
        ref, dref = f(XS), df(XS)
    np.testing.assert_allclose(np.asarray(jf(jnp.asarray(XS))), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(jdf(jnp.asarray(XS))), dref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_printed_derivative_is_jax_autodiff_of_printed_forward(generated, name):
    _, jax_acts = generated
    jf, jdf = jax_acts[name]
    auto = jax.vmap(jax.grad(jf))(jnp.asarray(XS))
    np.testing.assert_allclose(np.asarray(auto), np.asarray(jdf(jnp.asarray(XS))), rtol=1e-9, atol=1e-9)
