"""The C++ extension assembler (``eafo_sym.codegen.assemblers.cpp``) and the committed file.

These tests need no compiler; ``tests/test_fused.py`` builds and runs the kernels.
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from eafo_sym import eps, x
from eafo_sym.codegen import ActivationForm, cpp_source
from eafo_sym.codegen.backends import CPP_PATH
from eafo_sym.codegen.files import source_digest
from eafo_sym.codegen.registry import backend_source, registry_forms

CPP_COMMAND = "eafo-sym codegen --backend cpp"
a = sp.Symbol("alpha", positive=True)


def test_committed_cpp_is_up_to_date():
    fresh = backend_source("cpp", command=CPP_COMMAND)
    assert fresh == Path(CPP_PATH).read_text(encoding="utf-8"), (
        "eafo_sym/csrc/fused.cpp is stale: run `eafo-sym codegen --backend cpp`"
    )


def test_every_registered_activation_has_its_three_kernels():
    text = Path(CPP_PATH).read_text(encoding="utf-8")
    for f in registry_forms():
        for fn in ["fwd", "bwd_x", *(["bwd"] if f.params else [])]:
            assert f'm.def("{f.name}_{fn}", &{f.name}_{fn}' in text, (f.name, fn)


def test_parameter_only_temporaries_are_hoisted_out_of_the_loop():
    f = ActivationForm("scaled", x / a + eps * x * sp.exp(-x / a), {a: 2.0, eps: 0.1})
    src = cpp_source([f])
    body = src[src.index("void scaled_fwd_k") : src.index("auto body")]
    assert "const V inv0 = (V(T(1)) / p_alpha);" in body, body
    assert "/" not in src[src.index("auto body") : src.index("at::parallel_for")]


def test_source_is_deterministic_and_digest_tracks_it():
    forms = registry_forms(["crrelu", "gelu"])
    one, two = cpp_source(forms), cpp_source(list(reversed(forms)))
    assert one == two
    assert source_digest(one) == source_digest(two) != source_digest(one + " ")

