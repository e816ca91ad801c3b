"""Fused CPU kernels: SymPy closed forms printed as C++ over ``at::vec::Vectorized``.

The torch modules of :mod:`eafo_sym.nn` run one ATen kernel per operation;
at small sizes eager PyTorch is then bound by dispatch and by memory passes
(about 20 kernels for CRReLU's forward and backward). The functions printed
here evaluate the whole forward, or the whole backward including the
parameter-gradient sums, in one pass over the input: the same stable, guarded
SymPy forms (:attr:`ActivationForm.forward`, :attr:`ActivationForm.gradients`),
printed with ATen's portable SIMD type, so that the kernels use the same
vectorised ``exp``/``erf``/``tanh`` (SLEEF) as torch's own CPU kernels.

What a printed activation ``<name>`` provides (float and double; the Python
side, :mod:`eafo_sym.fused`, uses the torch modules for other dtypes):

- ``<name>_fwd(x, params) -> Tensor``;
- ``<name>_bwd_x(x, params, grad_output) -> Tensor``;
- ``<name>_bwd(x, params, grad_output) -> list[Tensor]``: the input gradient
  and each parameter's gradient summed over all elements (parameters are
  0-dim), accumulated in double per block of 1024 elements.

The printer keeps the torch modules' semantics at the edges: ``decay_guard``
maps its cofactor's nan and +-inf to +-the largest finite value, ``zero_guard``
sets a nan product to 0 and adds ``clamp(z, 0, 0)`` of each zero factor (a nan
input stays nan), ``Heaviside(u, 0)`` is ``ceil(clamp(u, 0, 1))`` and Max/Min
propagate nan, as ``torch.clamp`` does.

>>> import sympy as sp
>>> from eafo_sym import x
>>> VecPrinter().doprint(sp.Max(0, x) + x * sp.exp(-x**2 / 2))
'(x*(V(T(-0.5))*(x*x)).exp() + at::vec::maximum(V(T(0.0)), x))'
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1

from ..symbolic.symbols import x as X  # noqa: N812 - X is the input symbol, x a code name
from .printers import UnsupportedNodeError
from .source import _G as GRAD_OUTPUT  # backward's incoming gradient; ``g`` in the kernels
from .source import DEFAULT_COMMAND, ActivationForm, _header, _hoist_guard_factors
from .stable import decay_guard, erfc_, sigmoid, softplus, zero_guard

__all__ = ["VecPrinter", "cpp_source", "source_digest", "GRAD_OUTPUT"]


# Elements per parallel chunk: below two chunks at::parallel_for runs inline,
# which is faster than waking a thread for less than ~30 us of work.
_GRAIN = 32768
# Elements summed in the SIMD type before a parameter-gradient block goes to double.
_BLOCK = 1024

_UNARY = {
    sp.exp: "exp",
    expm1: "expm1",
    sp.log: "log",
    sp.tanh: "tanh",
    sp.erf: "erf",
    sp.erfc: "erfc",
    erfc_: "erfc",
    sp.Abs: "abs",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.atan: "atan",
}

_RELATIONS = {
    sp.StrictLessThan: "<",
    sp.LessThan: "<=",
    sp.StrictGreaterThan: ">",
    sp.GreaterThan: ">=",
    sp.Equality: "==",
    sp.Unequality: "!=",
}


def _const(value: sp.Expr) -> str:
    """``V(T(c))``: a numeric constant broadcast to the SIMD type, in double precision."""
    v = float(sp.N(value, 30))
    if math.isnan(v):
        lit = "std::numeric_limits<double>::quiet_NaN()"
    elif math.isinf(v):
        lit = ("" if v > 0 else "-") + "std::numeric_limits<double>::infinity()"
    else:
        lit = repr(v)
    return f"V(T({lit}))"


def _enclosed(s: str) -> bool:
    """Whether ``s`` is one parenthesised group, ``(...)``."""
    if not (s.startswith("(") and s.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(s):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and i < len(s) - 1:
            return False
    return True


class VecPrinter:
    """Prints a guarded, stable SymPy expression as a C++ ``Vectorized`` expression.

    ``V`` is ``at::vec::Vectorized<T>`` in the printed code; symbols print as
    their names (x, parameters, CSE temporaries are ``V`` values in scope).
    Nodes outside the supported set raise :class:`UnsupportedNodeError`.

    >>> from eafo_sym import x
    >>> VecPrinter().doprint(sp.Piecewise((x, x > 0), (2 * x, True)))
    'V::blendv(V(T(2.0))*x, x, (x > V(T(0.0))))'
    >>> VecPrinter().doprint(sp.gamma(x))
    Traceback (most recent call last):
    ...
    eafo_sym.codegen.printers.UnsupportedNodeError: the C++ kernel printer cannot translate ...
    """

    def __init__(self, names: dict[sp.Symbol, str] | None = None) -> None:
        self.names = dict(names or {})

    def doprint(self, e: sp.Basic) -> str:
        """The C++ expression for ``e``."""
        return self._p(sp.sympify(e))

    def _fail(self, e: sp.Basic) -> UnsupportedNodeError:
        return UnsupportedNodeError(
            f"the C++ kernel printer cannot translate {e} ({type(e).__name__})"
        )

    def _p(self, e: sp.Basic) -> str:
        if isinstance(e, (sp.Rel, sp.And, sp.Or)):
            return self._cond(e)  # a CSE temporary holding a condition: a lane mask
        if isinstance(e, sp.Symbol):
            return self.names.get(e, e.name)
        if e.is_number:
            if e.is_extended_real is False:
                raise self._fail(e)
            return _const(e)
        if isinstance(e, sp.Add):
            return self._add(e)
        if isinstance(e, sp.Mul):
            return self._mul(e)
        if isinstance(e, sp.Pow):
            return self._pow(e)
        f = type(e)
        if f in _UNARY:
            return f"{self._atom(e.args[0])}.{_UNARY[f]}()"
        if f is sigmoid:
            # 1/(1 + exp(-t)) is already stable: exp(-t) = inf gives 0, not nan.
            return f"(V(T(1)) / (V(T(1)) + {self._atom(-e.args[0])}.exp()))"
        if f is softplus:
            t = self._p(e.args[0])
            return f"(at::vec::maximum({t}, V(T(0))) + ({t}).abs().neg().exp().log1p())"
        if f in (sp.Max, sp.Min):
            name = "maximum" if f is sp.Max else "minimum"
            args = sorted(e.args, key=sp.default_sort_key)
            out = self._p(args[0])
            for a in args[1:]:
                out = f"at::vec::{name}({out}, {self._p(a)})"
            return out
        if f is sp.Heaviside:
            return self._heaviside(e)
        if f is sp.Piecewise:
            return self._piecewise(e)
        if f is decay_guard:
            t, a = e.args
            return f"({self._atom(t)}*eafo_finite({self._p(a)}))"
        if f is zero_guard:
            *zeros, cof = e.args
            prod = "*".join(self._atom(a) for a in [*zeros, cof])
            out = f"eafo_nan_to_zero({prod})"
            for z in zeros:
                out += f" + eafo_nan_or_zero({self._p(z)})"
            return f"({out})"
        raise self._fail(e)

    def _atom(self, e: sp.Basic) -> str:
        """``e`` printed so that a method call or a product binds to all of it."""
        s = self._p(e)
        return s if _enclosed(s) or not isinstance(e, (sp.Add, sp.Mul)) else f"({s})"

    def _add(self, e: sp.Add) -> str:
        terms = sorted(e.args, key=sp.default_sort_key)
        # A term that is not negated goes first: no leading unary minus to print.
        terms.sort(key=lambda t: t.could_extract_minus_sign())
        out = self._p(terms[0])
        for t in terms[1:]:
            if t.could_extract_minus_sign() and not t.is_number:
                out += f" - {self._atom(-t)}"
            else:
                out += f" + {self._atom(t)}"
        return f"({out})"

    def _mul(self, e: sp.Mul) -> str:
        num, den = [], []
        for f in e.args:
            if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp < 0 and not f.is_number:
                den.append(f.base ** (-f.exp))
            else:
                num.append(f)
        coeff = [f for f in num if f.is_number]
        rest = [f for f in num if not f.is_number]
        parts = [self._p(sp.Mul(*coeff))] if coeff and sp.Mul(*coeff) != 1 else []
        parts += [self._atom(f) for f in sorted(rest, key=sp.default_sort_key)]
        top = "*".join(parts) if parts else "V(T(1))"
        if not den:
            return top
        bottom = "*".join(self._atom(f) for f in sorted(den, key=sp.default_sort_key))
        return f"({top} / {bottom if len(den) == 1 else f'({bottom})'})"

    def _pow(self, e: sp.Pow) -> str:
        b, n = e.base, e.exp
        if n.is_Integer and 1 <= n <= 4:
            a = self._atom(b)
            return "(" + "*".join([a] * int(n)) + ")"
        if n.is_Integer and n < 0:
            return f"(V(T(1)) / {self._pow(b ** (-n)) if -n > 1 else self._atom(b)})"
        if n == sp.S.Half:
            return f"{self._atom(b)}.sqrt()"
        if n == -sp.S.Half:
            return f"{self._atom(b)}.rsqrt()"
        if isinstance(b, sp.Symbol) or b.is_number or n.is_number:
            return f"{self._atom(b)}.pow({self._p(n)})"
        raise self._fail(e)

    def _heaviside(self, e: sp.Heaviside) -> str:
        u = self._p(e.args[0])
        h0 = e.args[1] if len(e.args) > 1 else sp.S.Half
        step = f"at::vec::minimum(at::vec::maximum({u}, V(T(0))), V(T(1))).ceil()"
        if h0 == 0:
            return step  # 0 at 0, 1 above, nan at nan: torch's printed clamp-ceil form
        return f"V::blendv({step}, {_const(h0)}, ({u} == V(T(0))))"

    def _cond(self, c: sp.Basic) -> str:
        if isinstance(c, sp.Symbol):
            return self._p(c)  # a condition CSE gave its own temporary
        if isinstance(c, sp.And):
            return "(" + " & ".join(self._cond(a) for a in c.args) + ")"
        if isinstance(c, sp.Or):
            return "(" + " | ".join(self._cond(a) for a in c.args) + ")"
        if type(c) in _RELATIONS:
            return f"({self._p(c.lhs)} {_RELATIONS[type(c)]} {self._p(c.rhs)})"
        raise self._fail(c)

    def _piecewise(self, e: sp.Piecewise) -> str:
        pieces = list(e.args)
        if pieces[-1].cond != sp.true:
            raise UnsupportedNodeError(
                f"the C++ kernel printer needs a default branch (True) in {e}"
            )
        out = self._p(pieces[-1].expr)
        for piece in reversed(pieces[:-1]):
            out = f"V::blendv({out}, {self._p(piece.expr)}, {self._cond(piece.cond)})"
        return out


_PRELUDE = r"""
#include <torch/extension.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <array>
#include <limits>
#include <vector>

namespace {

// T * finite(A) for a decaying T (eafo_sym.codegen.stable.decay_guard): A's nan
// and +-inf become +-the largest finite value, as the torch modules' _finite.
template <typename V>
inline V eafo_finite(const V& a) {
  using T = typename V::value_type;
  const V big(std::numeric_limits<T>::max());
  const V low(-std::numeric_limits<T>::max());
  return V::blendv(at::vec::clamp(a, low, big), big, a.isnan());
}

// zero_guard: a nan product becomes 0 (a zero factor wins over an overflowed
// cofactor); adding clamp(z, 0, 0) of each zero factor keeps a nan input nan.
template <typename V>
inline V eafo_nan_to_zero(const V& p) {
  return V::blendv(p, V(typename V::value_type(0)), p.isnan());
}
template <typename V>
inline V eafo_nan_or_zero(const V& z) {
  return V::blendv(V(typename V::value_type(0)), z, z.isnan());
}

inline void eafo_check(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.device().is_cpu(),
              "eafo_sym fused kernels run on CPU tensors; ", what, " is on ", t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble,
              "eafo_sym fused kernels take float32 or float64; ", what, " is ", t.scalar_type());
}

inline void eafo_check_grad(const at::Tensor& x, const at::Tensor& g) {
  eafo_check(x, "x");
  TORCH_CHECK(g.sizes() == x.sizes() && g.scalar_type() == x.scalar_type(),
              "grad_output must match x in shape and dtype");
}

// The parameters' values (0-dim tensors of any floating dtype), in double.
inline std::vector<double> eafo_params(const std::vector<at::Tensor>& ps, size_t n) {
  TORCH_CHECK(ps.size() == n, "expected ", n, " parameters, got ", ps.size());
  std::vector<double> v;
  for (const auto& p : ps) {
    TORCH_CHECK(p.dim() == 0,
                "eafo_sym fused kernels take 0-dim parameters, got shape ", p.sizes());
    v.push_back(p.item<double>());
  }
  return v;
}

}  // namespace
"""


def _symbols_for(f: ActivationForm) -> dict[sp.Symbol, str]:
    names = {X: "x", GRAD_OUTPUT: "g"}
    names.update({p: f"p_{p}" for p in f.params})
    return names


def _hoist_reciprocals(
    exprs: Sequence[sp.Expr], printer: VecPrinter
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
    exprs: Sequence[sp.Expr], printer: VecPrinter
) -> tuple[list[str], list[str], list[str]]:
    """CSE into (hoisted lines, per-element lines, results); x- and g-free parts are hoisted."""
    exprs, hoisted = _hoist_reciprocals(exprs, printer)
    syms = sp.numbered_symbols("t")
    repl, reduced = sp.cse(list(exprs), symbols=syms, order="canonical")
    # A zero_guard prints each zero factor twice (in the product and in its nan
    # check): give it a temporary, as the torch and NumPy printers do.
    repl, reduced = _hoist_guard_factors(repl, reduced, syms)
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


def _elementwise(name: str, f: ActivationForm, expr: sp.Expr, with_g: bool) -> list[str]:
    """A kernel writing ``expr`` per element (the forward, or grad_output * df/dx)."""
    printer = VecPrinter(_symbols_for(f))
    hoisted, lines, (res,) = _body([expr], printer)
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


def _reducing(name: str, f: ActivationForm, exprs: Sequence[sp.Expr]) -> list[str]:
    """The full backward: grad_x per element and every parameter gradient summed."""
    k = len(exprs) - 1
    printer = VecPrinter(_symbols_for(f))
    hoisted, lines, res = _body(exprs, printer)
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


_HOST = """\
at::Tensor {n}_fwd(const at::Tensor& x, const std::vector<at::Tensor>& ps) {{
  eafo_check(x, "x");
  const auto pv = eafo_params(ps, {k});
  const auto xc = x.contiguous();
  auto out = at::empty_like(xc);
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "{n}_fwd", [&] {{
    {n}_fwd_k<scalar_t>(
        xc.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), xc.numel(), pv.data());
  }});
  return out;
}}

at::Tensor {n}_bwd_x(
    const at::Tensor& x, const std::vector<at::Tensor>& ps, const at::Tensor& g) {{
  eafo_check_grad(x, g);
  const auto pv = eafo_params(ps, {k});
  const auto xc = x.contiguous();
  const auto gc = g.contiguous();
  auto out = at::empty_like(xc);
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "{n}_bwd_x", [&] {{
    {n}_bwd_x_k<scalar_t>(xc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(),
        out.data_ptr<scalar_t>(), xc.numel(), pv.data());
  }});
  return out;
}}
"""

_HOST_PARAMS = """\
std::vector<at::Tensor> {n}_bwd(
    const at::Tensor& x, const std::vector<at::Tensor>& ps, const at::Tensor& g) {{
  eafo_check_grad(x, g);
  const auto pv = eafo_params(ps, {k});
  const auto xc = x.contiguous();
  const auto gc = g.contiguous();
  auto out = at::empty_like(xc);
  std::array<double, {k}> sums{{}};
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "{n}_bwd", [&] {{
    sums = {n}_bwd_k<scalar_t>(xc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(),
        out.data_ptr<scalar_t>(), xc.numel(), pv.data());
  }});
  std::vector<at::Tensor> res{{out}};
  for (int j = 0; j < {k}; ++j) {{
    res.push_back(at::scalar_tensor(sums[j], ps[j].options()));
  }}
  return res;
}}
"""


def _host(f: ActivationForm) -> list[str]:
    """The functions Python calls: checks, dtype dispatch, allocation."""
    n, k = f.name, len(f.params)
    text = _HOST.format(n=n, k=k) + ("\n" + _HOST_PARAMS.format(n=n, k=k) if k else "")
    return [*text.splitlines(), ""]


def _kernels(f: ActivationForm) -> list[str]:
    g = f.gradients
    out = [f"// {f.name}: {sp.sstr(f.expr)}"]
    out += _elementwise(f"{f.name}_fwd", f, f.forward, with_g=False)
    out += _elementwise(f"{f.name}_bwd_x", f, GRAD_OUTPUT * g[X], with_g=True)
    if f.params:
        out += _reducing(f"{f.name}_bwd", f, [GRAD_OUTPUT * g[v] for v in [X, *f.params]])
    return out


def cpp_source(forms: Iterable[ActivationForm], command: str = DEFAULT_COMMAND) -> str:
    """One C++ translation unit (a torch extension) with fused kernels for ``forms``.

    Args:
        forms: The activations; sorted by name in the output.
        command: The command line written into the header.

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
    header = [
        ln.replace("#", "//", 1) if ln.startswith("#") else ln
        for ln in _header(forms, command, [])
        if "ruff" not in ln
    ]
    parts = [*header, _PRELUDE.strip(), "", "namespace {", ""]
    for f in forms:
        parts += _kernels(f)
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


def source_digest(text: str) -> str:
    """A short digest naming a build of ``text`` (a changed kernel gets a new name).

    >>> len(source_digest("x"))
    12
    """
    return hashlib.sha256(text.encode()).hexdigest()[:12]
