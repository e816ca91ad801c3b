"""The activation catalog (``eafo_sym.catalog``): names, lazy derived entries, registration."""

import subprocess
import sys
import warnings

import pytest
import sympy as sp

from eafo_sym import catalog, x
from eafo_sym.symbolic.bases import BASES, Activation


def test_every_base_and_derived_name_resolves():
    assert set(BASES) <= set(catalog.names())
    derived = [n for n in catalog.names() if n not in BASES]
    assert derived == ["crrelu", *[f"eafo_{b}" for b in catalog.CORRECTED_BASES]]
    for n in catalog.names():
        f = catalog.resolve(n)
        assert f.free_symbols == {x}, n


def test_derived_entries_come_from_the_pipeline():
    from eafo_sym import derive_correction, derive_crrelu

    assert catalog.get("crrelu").expr == derive_crrelu().expr
    assert catalog.get("eafo_elu").expr == derive_correction(BASES["elu"], taylor_order=0).expr
    assert catalog.get("crrelu").derived and not catalog.get("relu").derived


def test_register_and_errors(monkeypatch):
    monkeypatch.setattr(catalog, "_REGISTRY", dict(catalog._REGISTRY))
    act = Activation("square_plus", x**2 + x, {}, "a test activation")
    catalog.register(act)
    assert catalog.resolve("square_plus") == x**2 + x
    with pytest.raises(ValueError, match="already registered"):
        catalog.register(act)
    with pytest.raises(TypeError, match="takes an Activation"):
        catalog.register("square_plus")
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        catalog.get("nope")
    with pytest.raises(TypeError, match="expected an activation name"):
        catalog.resolve([1])
    assert catalog.resolve(sp.Integer(2)) == 2


def test_deprecated_module_names_still_work():
    for old, new in (("activations", "catalog"), ("distributions", "laws")):
        code = (
            "import warnings\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            f"    import eafo_sym.{old} as m\n"
            f"import eafo_sym.{new} as n\n"
            "assert all(getattr(m, k) is getattr(n, k) for k in n.__all__)\n"
            "print(any(issubclass(i.category, DeprecationWarning) for i in w))\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "True"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import eafo_sym as ea

        assert ea.activations.get is catalog.get
