"""The C++ extension assembler (``eafo_sym.codegen.assemblers.cpp``) and the committed file.

These tests need no compiler; ``tests/test_fused.py`` builds and runs the kernels.
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from eafo_sym import eps, x
from eafo_sym.codegen import ActivationForm, cpp_source
from eafo_sym.codegen.assemblers.cpp import schemas
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


def test_every_registered_activation_is_a_set_of_operators():
    text = Path(CPP_PATH).read_text(encoding="utf-8")
    for f in registry_forms():
        ops = schemas(f)
        assert sorted(ops) == sorted(
            [f.name, f"{f.name}_backward_input", *([f"{f.name}_backward"] if f.params else [])]
        )
        for op, schema in ops.items():
            assert f'  m.def("{schema}");' in text, schema
            # Each operator has a CPU, a meta and an autograd kernel.
            kernel = f"{f.name}_forward" if op == f.name else op
            for impl in (kernel, f"{op}_meta", f"{op}_autograd"):
                assert f'  m.impl("{op}", &{impl});' in text, (op, impl)
    assert text.count("TORCH_LIBRARY(eafo_sym, m)") == 1
    for key in ("CPU", "Meta", "Autograd"):
        assert text.count(f"TORCH_LIBRARY_IMPL(eafo_sym, {key}, m)") == 1


def test_schemas_name_the_parameters_in_the_modules_order():
    f = ActivationForm("two", a * x + eps * sp.exp(-(x**2)), {a: 1.0, eps: 0.1})
    assert schemas(f) == {
        "two": "two(Tensor x, Tensor alpha, Tensor epsilon) -> Tensor",
        "two_backward_input": "two_backward_input(Tensor grad, Tensor x, Tensor alpha, "
        "Tensor epsilon) -> Tensor",
        "two_backward": "two_backward(Tensor grad, Tensor x, Tensor alpha, Tensor epsilon) "
        "-> (Tensor, Tensor, Tensor)",
    }
    src = cpp_source([f])
    assert "at::Tensor two_forward(const at::Tensor& x, const at::Tensor& alpha, " \
        "const at::Tensor& epsilon) {" in src
    assert "ctx->needs_input_grad(1) || ctx->needs_input_grad(2)" in src
    assert "eafo_sym.fused.Two: the fused kernels have no second derivative" in src
    # No word of the host template is left unreplaced.
    for word in ("ACTIVATION", "PARAM_DECLS", "PARAM_NAMES", "PARAM_LIST", "SAVED_PARAMS",
                 "GRAD_TYPES", "NUM_PARAMS", "CLASS_NAME", "BACKWARD_BODY", "NEEDS_PARAM"):
        assert word not in src, word


def test_guards_over_parameters_get_hoisted_plain_values():
    """A nan/inf parameter must pass its guards: the kernels hoist the plain value they use.

    A parameter that is a factor of the guarded product stays outside the guard
    (``stable.guard_products``); one inside the cofactor (here ``x + alpha``) needs the
    plain value.
    """
    f = ActivationForm(
        "g", sp.Max(0, x) + eps * (x + a) * sp.exp(-(x**2) / 2), {a: 1.0, eps: 0.1}
    )
    src = cpp_source([f])
    fwd = src[src.index("void g_fwd_k") : src.index("auto body")]
    assert "const V plain_alpha = eafo_plain<V>({ps[0]});" in fwd, fwd
    body = src[src.index("auto body") : src.index("at::parallel_for")]
    assert ", plain_alpha)" in body
    assert "p_epsilon*(" in body  # the factor epsilon is outside the guard


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

