"""The C++ extension of the fused CPU kernels: one pass forward, one pass backward.

The torch modules of :mod:`eafo_sym.nn` run one ATen kernel per operation;
at small sizes eager PyTorch is then bound by dispatch and by memory passes
(about 20 kernels for CRReLU's forward and backward). The functions printed
here evaluate the whole forward, or the whole backward including the
parameter-gradient sums, in one pass over the input: the same stable, guarded
SymPy forms (:attr:`ActivationForm.forward`, :attr:`ActivationForm.gradients`),
printed by :class:`~eafo_sym.codegen.printers.cpp.VecPrinter` over ATen's portable SIMD
type. The includes, the guards' helpers and the host functions are pasted from the
templates ``fused_prelude.h`` and ``fused_host.cpp`` of :mod:`eafo_sym.codegen.templates`.

What a printed activation ``<name>`` provides (float and double; the Python
side, :mod:`eafo_sym.fused`, uses the torch modules for other dtypes):

- ``<name>_fwd(x, params) -> Tensor``;
- ``<name>_bwd_x(x, params, grad_output) -> Tensor``;
- ``<name>_bwd(x, params, grad_output) -> list[Tensor]``: the input gradient
  and each parameter's gradient summed over all elements (parameters are
  0-dim), accumulated in double per block of 1024 elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp

from ...symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from .. import templates
from ..files import DEFAULT_COMMAND
from ..forms import GRAD_OUTPUT, ActivationForm, common_subexpressions
from ..printers.cpp import VecPrinter
from .common import header

__all__ = ["cpp_source"]


# Elements per parallel chunk: below two chunks at::parallel_for runs inline,
# which is faster than waking a thread for less than ~30 us of work.
_GRAIN = 32768
# Elements summed in the SIMD type before a parameter-gradient block goes to double.
_BLOCK = 1024


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
        subs[e] = r
    return [ex.xreplace(subs) for ex in exprs], lines


def _body(
    exprs: Sequence[sp.Expr], printer
) -> tuple[list[str], list[str], list[str]]:
    """CSE into (hoisted lines, per-element lines, results); x- and g-free parts are hoisted."""
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
    return hoisted, lines, [printer.doprint(e) for e in reduced]


def _param_lines(f: ActivationForm) -> list[str]:
    return [f"  const V p_{p}(static_cast<T>(ps[{i}]));" for i, p in enumerate(f.params)]


def _elementwise(
    name: str, f: ActivationForm, expr: sp.Expr, with_g: bool, printer: type
) -> list[str]:
    """A kernel writing ``expr`` per element (the forward, or grad_output * df/dx)."""
    hoisted, lines, (res,) = _body([expr], printer(_symbols_for(f)))
    args = "const V& x, const V& g" if with_g else "const V& x"
    loads = "V::loadu(x_ + i{n}), V::loadu(g_ + i{n})" if with_g else "V::loadu(x_ + i{n})"
    gptr = "const T* __restrict g_, " if with_g else ""
    return [
        "template <typename T>",
        f"void {name}_k(const T* __restrict x_, {gptr}T* __restrict out_,",
        "    int64_t n, const double* ps) {",
        "  using V = at::vec::Vectorized<T>;",
        *_param_lines(f),
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
    hoisted, lines, res = _body(exprs, printer(_symbols_for(f)))
    acc_t = f"std::array<double, {k}>"
    return [
        "template <typename T>",
        f"{acc_t} {name}_k(const T* __restrict x_, const T* __restrict g_, T* __restrict out_,",
        "    int64_t n, const double* ps) {",
        "  using V = at::vec::Vectorized<T>;",
        *_param_lines(f),
        *hoisted,
        f"  auto body = [&](const V& x, const V& g) -> std::array<V, {k + 1}> {{",
        *[ln[2:] for ln in lines],
        f"    return {{{', '.join(res)}}};",
        "  };",
        f"  {acc_t} zero{{}};",
        "  return at::parallel_reduce(",
        f"      0, n, {_GRAIN}, zero,",
        f"      [&](int64_t b, int64_t e, {acc_t} total) {{",
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
        "              total[j] += static_cast<double>(lanes[l]);",
        "            }",
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


def _host(f: ActivationForm) -> list[str]:
    """The functions Python calls: checks, dtype dispatch, allocation."""
    text = templates.section("fused_host.cpp", "forward")
    if f.params:
        text += "\n" + templates.section("fused_host.cpp", "parameter gradients")
    text = text.replace("ACTIVATION", f.name).replace("NUM_PARAMS", str(len(f.params)))
    return [*text.splitlines(), ""]


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
    """One C++ translation unit (a torch extension) with fused kernels for ``forms``.

    Args:
        forms: The activations; sorted by name in the output.
        command: The command line written into the header.
        printer: The expression printer (constructed with each activation's symbol names).

    Returns:
        The source text; the same input gives byte-identical text. Every printed
        activation adds ``<name>_fwd``, ``<name>_bwd_x`` and (with parameters)
        ``<name>_bwd`` to the extension module.

    >>> from eafo_sym import x
    >>> src = cpp_source([ActivationForm("relu", sp.Max(0, x))])
    >>> src.splitlines()[0]
    '// @generated by eafo-sym codegen -- do not edit.'
    >>> 'm.def("relu_fwd", &relu_fwd' in src
    True
    """
    forms = sorted(forms, key=lambda f: f.name)
    parts = header(forms, command, "//")
    parts += [templates.section("fused_prelude.h", "prelude").rstrip("\n"), "", "namespace {", ""]
    for f in forms:
        parts += _kernels(f, printer)
    parts += ["}  // namespace", ""]
    defs = []
    for f in forms:
        parts += _host(f)
        defs.append(f'  m.def("{f.name}_fwd", &{f.name}_fwd, "{f.class_name} forward");')
        defs.append(f'  m.def("{f.name}_bwd_x", &{f.name}_bwd_x, "{f.class_name} input gradient");')
        if f.params:
            defs.append(f'  m.def("{f.name}_bwd", &{f.name}_bwd, "{f.class_name} gradients");')
    parts += ["PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {", *defs, "}", ""]
    return "\n".join(parts)
