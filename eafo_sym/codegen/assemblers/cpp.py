"""The C++ extension of the fused CPU kernels: torch operators, one pass forward, one backward.

The torch modules of :mod:`eafo_sym.nn` run one ATen kernel per operation;
at small sizes eager PyTorch is then bound by dispatch and by memory passes
(about 20 kernels for CRReLU's forward and backward). The functions printed
here evaluate the whole forward, or the whole backward including the
parameter-gradient sums, in one pass over the input: the same stable, guarded
SymPy forms (:attr:`ActivationForm.forward`, :attr:`ActivationForm.gradients`),
printed by :class:`~eafo_sym.codegen.printers.cpp.VecPrinter` over ATen's portable SIMD
type. The includes, the guards' and math helpers and the host functions are pasted from the
templates ``fused_prelude.h`` and ``fused_host.cpp`` of :mod:`eafo_sym.codegen.templates`.

Every printed activation ``<name>`` with parameters ``p1, ...`` (0-dim tensors) is a set of
torch operators in the namespace ``eafo_sym`` (``torch.ops.eafo_sym.<op>``), each with a CPU
kernel (float32 and float64), a meta kernel (shapes only: fake tensors, ``torch.compile``,
``torch.export``) and an autograd kernel:

- ``<name>(Tensor x, Tensor p1, ...) -> Tensor``, the forward;
- ``<name>_backward_input(Tensor grad, Tensor x, Tensor p1, ...) -> Tensor``, the input gradient;
- ``<name>_backward(Tensor grad, Tensor x, Tensor p1, ...) -> (Tensor, Tensor, ...)``, with
  parameters only: the input gradient and each parameter's gradient summed over all elements,
  summed in the SIMD type over blocks of 128 elements, each block's lanes then added to
  per-lane double accumulators (a float32 error of about 3e-7 of the sum's scale over 2^21
  elements, where one float accumulator per lane over 1024 elements gave 1.5e-6 with AVX2).

The forward's autograd saves only ``x`` and the parameters. The backward operators are
differentiable once: differentiating them again raises an error that names the torch module
to use instead. Outputs keep the input's layout (channels_last in, channels_last out).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp

from ...symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from .. import templates
from ..files import DEFAULT_COMMAND
from ..forms import GRAD_OUTPUT, ActivationForm, common_subexpressions
from ..printers.cpp import VecPrinter, plain_name
from .common import header

__all__ = ["cpp_source", "schemas"]

#: The operators' namespace: ``torch.ops.eafo_sym``.
NAMESPACE = "eafo_sym"


# Elements per parallel chunk: below two chunks at::parallel_for runs inline,
# which is faster than waking a thread for less than ~30 us of work.
_GRAIN = 32768
# Elements summed in the SIMD type before a parameter-gradient block goes to double: a
# float accumulator's error grows with the number of additions it takes, and the lanes'
# double accumulators make the flush a few vector instructions.
_BLOCK = 128


def _symbols_for(f: ActivationForm) -> dict[sp.Symbol, str]:
    names = {X: "x", GRAD_OUTPUT: "g"}
    names.update({p: f"p_{p}" for p in f.params})
    return names


def _hoist_reciprocals(
    exprs: Sequence[sp.Expr], printer
) -> tuple[list[sp.Expr], list[str]]:
    """``p**-n`` free of x and g: a reciprocal computed once, then a multiply per element.

    The torch modules do the same (``torch.reciprocal`` of the parameter).
    """
    varying = {X, GRAD_OUTPUT}
    pows = sorted(
        {
            e
            for ex in exprs
            for e in sp.preorder_traversal(ex)
            if isinstance(e, sp.Pow) and e.exp.is_Integer and e.exp < 0
            and not e.is_number and not (e.free_symbols & varying)
        },
        key=sp.default_sort_key,
    )
    subs, lines = {}, []
    for i, e in enumerate(pows):
        r = sp.Symbol(f"inv{i}", real=True)
        lines.append(f"  const V {r} = {printer.doprint(e)};")
        printer.param_deps[r] = printer.depends_on(e)
        subs[e] = r
    return [ex.xreplace(subs) for ex in exprs], lines


def _body(
    f: ActivationForm, exprs: Sequence[sp.Expr], printer
) -> tuple[list[str], list[str], list[str]]:
    """CSE into (hoisted lines, per-element lines, results); x- and g-free parts are hoisted.

    The hoisted lines start with the parameters and the plain values the guards use.
    """
    exprs, hoisted = _hoist_reciprocals(exprs, printer)
    # A zero_guard prints each zero factor twice (in the product and in its nan
    # check): give it a temporary, as the torch and NumPy printers do.
    repl, reduced = common_subexpressions(exprs, "t")
    lines: list[str] = []
    varying: set[sp.Symbol] = {X, GRAD_OUTPUT}
    for s, e in repl:
        if e.free_symbols & varying:
            varying.add(s)
            lines.append(f"      const V {s} = {printer.doprint(e)};")
        else:
            hoisted.append(f"  const V {s} = {printer.doprint(e)};")
        printer.param_deps[s] = printer.depends_on(e)  # a guard of s must know its parameters
    results = [printer.doprint(e) for e in reduced]
    return _param_lines(f, printer.plain_sets) + hoisted, lines, results


def _param_lines(f: ActivationForm, plain_sets: Iterable[frozenset[sp.Symbol]]) -> list[str]:
    """The parameters as vectors, and the plain values of the sets the guards name."""
    index = {p: i for i, p in enumerate(f.params)}
    lines = [f"  const V p_{p}(static_cast<T>(ps[{i}]));" for p, i in index.items()]
    for used in sorted(plain_sets, key=plain_name):
        values = ", ".join(f"ps[{index[p]}]" for p in sorted(used, key=index.get))
        lines.append(f"  const V {plain_name(used)} = eafo_plain<V>({{{values}}});")
    return lines


def _printer(f: ActivationForm, printer: type):
    return printer(_symbols_for(f), params=f.params)


def _elementwise(
    name: str, f: ActivationForm, expr: sp.Expr, with_g: bool, printer: type
) -> list[str]:
    """A kernel writing ``expr`` per element (the forward, or grad_output * df/dx)."""
    hoisted, lines, (res,) = _body(f, [expr], _printer(f, printer))
    args = "const V& x, const V& g" if with_g else "const V& x"
    loads = "V::loadu(x_ + i{n}), V::loadu(g_ + i{n})" if with_g else "V::loadu(x_ + i{n})"
    gptr = "const T* __restrict g_, " if with_g else ""
    return [
        "template <typename T>",
        f"void {name}_k(const T* __restrict x_, {gptr}T* __restrict out_,",
        "    int64_t n, const double* ps) {",
        "  using V = at::vec::Vectorized<T>;",
        *hoisted,
        f"  auto body = [&]({args}) -> V {{",
        *[ln[2:] for ln in lines],
        f"    return {res};",
        "  };",
        f"  at::parallel_for(0, n, {_GRAIN}, [&](int64_t b, int64_t e) {{",
        "    int64_t i = b;",
        "    for (; i + V::size() <= e; i += V::size()) {",
        f"      body({loads.format(n='')}).store(out_ + i);",
        "    }",
        "    if (i < e) {",
        "      const int64_t r = e - i;",
        f"      body({loads.format(n=', r')}).store(out_ + i, r);",
        "    }",
        "  });",
        "}",
        "",
    ]


def _reducing(
    name: str, f: ActivationForm, exprs: Sequence[sp.Expr], printer: type
) -> list[str]:
    """The full backward: grad_x per element and every parameter gradient summed."""
    k = len(exprs) - 1
    hoisted, lines, res = _body(f, exprs, _printer(f, printer))
    acc_t = f"std::array<double, {k}>"
    return [
        "template <typename T>",
        f"{acc_t} {name}_k(const T* __restrict x_, const T* __restrict g_, T* __restrict out_,",
        "    int64_t n, const double* ps) {",
        "  using V = at::vec::Vectorized<T>;",
        *hoisted,
        f"  auto body = [&](const V& x, const V& g) -> std::array<V, {k + 1}> {{",
        *[ln[2:] for ln in lines],
        f"    return {{{', '.join(res)}}};",
        "  };",
        f"  {acc_t} zero{{}};",
        "  return at::parallel_reduce(",
        f"      0, n, {_GRAIN}, zero,",
        f"      [&](int64_t b, int64_t e, {acc_t} total) {{",
        f"        alignas(64) std::array<std::array<double, V::size()>, {k}> lanes_d{{}};",
        f"        for (int64_t start = b; start < e; start += {_BLOCK}) {{",
        f"          const int64_t stop = std::min<int64_t>(e, start + {_BLOCK});",
        f"          std::array<V, {k}> acc;",
        "          acc.fill(V(T(0)));",
        "          int64_t i = start;",
        "          for (; i + V::size() <= stop; i += V::size()) {",
        "            const auto rs = body(V::loadu(x_ + i), V::loadu(g_ + i));",
        "            rs[0].store(out_ + i);",
        *[f"            acc[{j}] = acc[{j}] + rs[{j + 1}];" for j in range(k)],
        "          }",
        "          if (i < stop) {",
        "            const int64_t r = stop - i;",
        "            const auto rs = body(V::loadu(x_ + i, r), V::loadu(g_ + i, r));",
        "            rs[0].store(out_ + i, r);",
        *[f"            acc[{j}] = acc[{j}] + V::set(V(T(0)), rs[{j + 1}], r);" for j in range(k)],
        "          }",
        f"          for (int j = 0; j < {k}; ++j) {{",
        "            alignas(64) T lanes[V::size()];",
        "            acc[j].store(lanes);",
        "            for (int l = 0; l < V::size(); ++l) {",
        "              lanes_d[j][l] += static_cast<double>(lanes[l]);",
        "            }",
        "          }",
        "        }",
        f"        for (int j = 0; j < {k}; ++j) {{",
        "          for (int l = 0; l < V::size(); ++l) {",
        "            total[j] += lanes_d[j][l];",
        "          }",
        "        }",
        "        return total;",
        "      },",
        f"      []({acc_t} a, const {acc_t}& c) {{",
        f"        for (int j = 0; j < {k}; ++j) a[j] += c[j];",
        "        return a;",
        "      });",
        "}",
        "",
    ]


def _fill(text: str, f: ActivationForm) -> str:
    """A template section with the words of ``fused_host.cpp``'s list replaced for ``f``."""
    names = [str(p) for p in f.params]
    k = len(names)
    lead = "".join(f", {n}" for n in names)
    words = {
        ", PARAM_DECLS": "".join(f", const at::Tensor& {n}" for n in names),
        ", PARAM_NAMES": lead,
        ", SAVED_PARAMS": "".join(f", s[{i + 1}]" for i in range(k)),
        ", UNDEFINED_PARAM_GRADS": ", at::Tensor()" * k,
        "PARAM_LIST": ", ".join(names),
        "GRAD_TYPES": ", ".join(["at::Tensor"] * (k + 1)),
        "NEEDS_PARAM_GRADS": " || ".join(f"ctx->needs_input_grad({i + 1})" for i in range(k)),
        "NUM_PARAMS": str(k),
        "CLASS_NAME": f.class_name,
        "ACTIVATION": f.name,
    }
    for word, value in words.items():
        text = text.replace(word, value)
    return text


def _host(f: ActivationForm) -> list[str]:
    """The operators' kernels: CPU, meta and autograd."""
    section = lambda name: templates.section("fused_host.cpp", name)  # noqa: E731
    text = section("forward")
    if f.params:
        text += "\n" + section("parameter gradients")
    body = section("backward with parameters" if f.params else "backward without parameters")
    text += "\n" + section("autograd").replace("    BACKWARD_BODY\n", body)
    text += "\n" + section("backward autograd")
    if f.params:
        text += "\n" + section("backward autograd with parameters")
    return [*_fill(text, f).splitlines(), ""]


def schemas(f: ActivationForm) -> dict[str, str]:
    """The operators of ``f``: name -> schema (without the namespace).

    >>> from eafo_sym import x, eps
    >>> crrelu = ActivationForm("crrelu", sp.Max(0, x) + eps * x * sp.exp(-x**2 / 2), {eps: 0.1})
    >>> for schema in schemas(crrelu).values():
    ...     print(schema)
    crrelu(Tensor x, Tensor epsilon) -> Tensor
    crrelu_backward_input(Tensor grad, Tensor x, Tensor epsilon) -> Tensor
    crrelu_backward(Tensor grad, Tensor x, Tensor epsilon) -> (Tensor, Tensor)
    """
    params = "".join(f", Tensor {p}" for p in f.params)
    backward = f"(Tensor grad, Tensor x{params})"
    out = {
        f.name: f"{f.name}(Tensor x{params}) -> Tensor",
        f"{f.name}_backward_input": f"{f.name}_backward_input{backward} -> Tensor",
    }
    if f.params:
        grads = ", ".join(["Tensor"] * (len(f.params) + 1))
        out[f"{f.name}_backward"] = f"{f.name}_backward{backward} -> ({grads})"
    return out


def _registration(forms: Sequence[ActivationForm]) -> list[str]:
    """The schemas, and the CPU, meta and autograd kernel of every operator."""
    defs, cpu, meta, autograd = [], [], [], []
    for f in forms:
        for op, schema in schemas(f).items():
            defs.append(f'  m.def("{schema}");')
            kernel = f"{f.name}_forward" if op == f.name else op
            cpu.append(f'  m.impl("{op}", &{kernel});')
            meta.append(f'  m.impl("{op}", &{op}_meta);')
            autograd.append(f'  m.impl("{op}", &{op}_autograd);')
    return [
        f"TORCH_LIBRARY({NAMESPACE}, m) {{", *defs, "}", "",
        f"TORCH_LIBRARY_IMPL({NAMESPACE}, CPU, m) {{", *cpu, "}", "",
        f"TORCH_LIBRARY_IMPL({NAMESPACE}, Meta, m) {{", *meta, "}", "",
        f"TORCH_LIBRARY_IMPL({NAMESPACE}, Autograd, m) {{", *autograd, "}", "",
    ]


def _kernels(f: ActivationForm, printer: type) -> list[str]:
    g = f.gradients
    out = [f"// {f.name}: {sp.sstr(f.expr)}"]
    out += _elementwise(f"{f.name}_fwd", f, f.forward, False, printer)
    out += _elementwise(f"{f.name}_bwd_x", f, GRAD_OUTPUT * g[X], True, printer)
    if f.params:
        out += _reducing(
            f"{f.name}_bwd", f, [GRAD_OUTPUT * g[v] for v in [X, *f.params]], printer
        )
    return out


def cpp_source(
    forms: Iterable[ActivationForm],
    command: str = DEFAULT_COMMAND,
    *,
    printer: type = VecPrinter,
) -> str:
    """One C++ translation unit (a library of torch operators) with fused kernels for ``forms``.

    Args:
        forms: The activations; sorted by name in the output.
        command: The command line written into the header.
        printer: The expression printer (constructed with each activation's symbol names
            and its parameters).

    Returns:
        The source text; the same input gives byte-identical text. Every printed
        activation adds the operators of :func:`schemas` to ``torch.ops.eafo_sym``.

    >>> from eafo_sym import x
    >>> src = cpp_source([ActivationForm("relu", sp.Max(0, x))])
    >>> src.splitlines()[0]
    '// @generated by eafo-sym codegen -- do not edit.'
    >>> 'm.def("relu(Tensor x) -> Tensor");' in src
    True
    """
    forms = sorted(forms, key=lambda f: f.name)
    parts = header(forms, command, "//")
    parts += [templates.section("fused_prelude.h", "prelude").rstrip("\n"), "", "namespace {", ""]
    for f in forms:
        parts += _kernels(f, printer)
    for f in forms:
        parts += _host(f)
    parts += ["}  // namespace", ""]
    parts += _registration(forms)
    return "\n".join(parts)
