"""eafo_sym/dynamic.py is the generator's output, and its generator refuses what it cannot print."""

import pytest

from eafo_sym.codegen.assemblers.dynamic import NOT_PRINTED, dynamic_form
from eafo_sym.codegen.backends import DYNAMIC_PATH
from eafo_sym.codegen.registry import backend_source


def test_committed_file_is_fresh():
    expected = backend_source("dynamic", command="eafo-sym codegen --backend dynamic")
    assert DYNAMIC_PATH.read_text(encoding="utf-8") == expected, (
        "eafo_sym/dynamic.py is stale: run `eafo-sym codegen --backend dynamic`"
    )


def test_only_derived_activations_have_dynamic_twins():
    with pytest.raises(ValueError, match="relu is not an EAFO-derived activation"):
        dynamic_form("relu")
    with pytest.raises(ValueError, match="dynamic EAFO needs an EAFO-derived activation"):
        backend_source("dynamic", ["gelu"])
    for name, why in NOT_PRINTED.items():
        with pytest.raises(ValueError, match="has no dynamic twin"):
            dynamic_form(name)
        assert why


def test_the_form_is_the_parametric_correction():
    f = dynamic_form("crrelu")
    assert [str(p) for p in f.params] == ["epsilon", "mu", "sigma"]
    assert [str(p) for p in f.learnable_params] == ["epsilon"]


def test_a_base_names_the_twin_of_its_correction():
    text = backend_source("dynamic", ["relu", "crrelu"])
    assert text.count("class DynamicCRReLU(torch.nn.Module):") == 1
