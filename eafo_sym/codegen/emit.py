"""Straight-line torch code with in-place reuse of dead temporaries.

Eager PyTorch runs one kernel per operation and allocates a fresh tensor for
each result; for a memory-bound activation the allocations (page faults on
fresh memory) cost as much as the arithmetic. This emitter flattens the
(CSE-reduced) expressions into one operation per line and writes an
operation in place (``t.mul_(...)``, ``t.exp_()``) when its first operand is
a temporary this function created, has the input's shape, is floating point
and is not used afterwards. The input, the parameters and ``grad_output`` are
never written.

More choices are made for speed on CPU, where eager PyTorch is bound by
dispatch on small tensors and bool tensors are slow on any size: a product
used once as a term of a sum is folded into it as ``addcmul_``
(:meth:`_Emitter.fuse_products`); ``exp`` of a non-positive argument is printed
as ``exp2`` (:func:`decaying_exp_as_exp2`); a two-branch Piecewise on a
threshold of x is a blend of steps instead of ``torch.where``
(:func:`piecewise_as_blend`); the product guards and one-sided clamps go through
helpers of the generated file (``_finite``, ``_zero_wins_``, ``_at_least``,
``_at_most``) with no comparison in eager mode;
and a result that has the input's dtype for sure is written into a dead
temporary's buffer (``out=``, :class:`_BufferPool`) instead of a fresh one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from sympy.codegen.cfunctions import exp2

from .printers.base import float_literal
from .printers.torch import TORCH_OPS
from .stable import decay_guard, zero_guard

__all__ = ["emit", "decaying_exp_as_exp2", "piecewise_as_blend"]

_BOOL = (sp.core.relational.Relational, sp.And, sp.Or, sp.Not)


class _Emitter:
    def __init__(self, printer, x: sp.Symbol, in_place: bool = True) -> None:
        self.printer = printer
        self.x = x
        self.in_place = in_place
        self.ops: list[tuple[str, str, list[str], bool]] = []  # name, code template, uses, inplace
        self.count = 0
        self.xdep: dict[str, bool] = {}
        self.owned: set[str] = set()
        self.boolean: set[str] = set()
        self.alias: dict[sp.Symbol, sp.Basic] = {}

    def _new(self) -> sp.Symbol:
        s = sp.Symbol(f"_u{self.count}", real=True)
        self.count += 1
        return s

    def _is_xdep(self, e: sp.Basic) -> bool:
        return any(s == self.x or self.xdep.get(s.name, False) for s in e.free_symbols)

    def operand(self, e: sp.Basic) -> sp.Basic:
        """Flatten ``e``; return an atom (symbol or number) that stands for it."""
        if isinstance(e, sp.Symbol):
            return self.alias.get(e, e)
        if e.is_Atom or (isinstance(e, sp.Expr) and e.is_number):
            return e
        if isinstance(e, sp.Piecewise):
            pairs = [(self.operand(p.expr), p.cond if p.cond == sp.true else self.operand(p.cond))
                     for p in e.args]
            node = sp.Piecewise(*pairs, evaluate=False)
        elif isinstance(e, (sp.Add, sp.Mul, sp.Pow)):
            node = e.func(*[self.operand(a) for a in e.args], evaluate=False)
        elif isinstance(e, sp.Heaviside):
            node = sp.Heaviside(self.operand(e.args[0]), *e.args[1:])
        else:
            node = e.func(*[self.operand(a) for a in e.args])
        return self._op(node, boolean=isinstance(e, _BOOL))

    def _ownable(self, a: sp.Basic, uses_after: bool) -> bool:
        return (
            isinstance(a, sp.Symbol)
            and a.name in self.owned
            and self.xdep.get(a.name, False)
            and a.name not in self.boolean
            and not uses_after
        )

    def _op(self, node: sp.Basic, boolean: bool) -> sp.Symbol:
        name = self._new()
        uses = sorted({s.name for s in node.free_symbols})
        self.ops.append((name.name, node, uses, boolean))
        self.xdep[name.name] = self._is_xdep(node)
        self.owned.add(name.name)
        if boolean:
            self.boolean.add(name.name)
        return name

    def fuse_products(self, outputs: Sequence[sp.Basic]) -> list[sp.Basic]:
        """Move a product used once, only as a term of a sum, into that sum (for addcmul).

        ``s = a*b; t = u + s`` becomes ``t = u + a*b``, printed as
        ``u.addcmul_(a, b)``: one kernel instead of two. The operands are SSA
        values, so computing the product later reads the same tensors; liveness
        (and with it in-place reuse) is worked out afterwards on the new list.
        """
        count: dict[str, int] = {}
        for _, _, uses, _ in self.ops:
            for u in uses:
                count[u] = count.get(u, 0) + 1
        for o in outputs:
            for s in getattr(o, "free_symbols", ()):
                count[s.name] = count.get(s.name, 0) + 2
        index = {name: i for i, (name, *_) in enumerate(self.ops)}
        dropped: set[int] = set()
        for i, (name, node, _, boolean) in enumerate(self.ops):
            if boolean or not isinstance(node, sp.Add):
                continue
            args = list(node.args)
            fused = {}
            for k, a in enumerate(args):
                j = index.get(a.name) if isinstance(a, sp.Symbol) else None
                if j is not None and count.get(a.name) == 1 and _is_product(self.ops[j][1]):
                    fused[k] = j
            if len(fused) == sum(isinstance(a, sp.Symbol) for a in args):
                # Keep one tensor term to accumulate into (addcmul needs an input tensor).
                fused.pop(min(fused, key=lambda k: self.ops[fused[k]][0]), None)
            for k, j in fused.items():
                args[k] = self.ops[j][1]
                dropped.add(j)
            if fused:
                new = sp.Add(*args, evaluate=False)
                self.ops[i] = (name, new, sorted({s.name for s in new.free_symbols}), boolean)
        self.ops = [op for j, op in enumerate(self.ops) if j not in dropped]
        return self._renumber(outputs)

    def _renumber(self, outputs: Sequence[sp.Basic]) -> list[sp.Basic]:
        """Number the temporaries 0, 1, 2, ... again after products were folded away."""
        rename = {
            sp.Symbol(name, real=True): sp.Symbol(f"_u{k}", real=True)
            for k, (name, *_) in enumerate(self.ops)
        }
        ops = []
        for name, node, uses, boolean in self.ops:
            new = rename[sp.Symbol(name, real=True)].name
            ops.append((new, node.xreplace(rename), sorted(
                rename.get(sp.Symbol(u, real=True), sp.Symbol(u)).name for u in uses), boolean))
        for attr in ("xdep", "owned", "boolean"):
            old = getattr(self, attr)
            mapped = {rename.get(sp.Symbol(k, real=True), sp.Symbol(k)).name: k for k in old}
            if isinstance(old, dict):
                setattr(self, attr, {n: old[k] for n, k in mapped.items()})
            else:
                setattr(self, attr, set(mapped))
        self.ops = ops
        return [o.xreplace(rename) if isinstance(o, sp.Basic) else o for o in outputs]

    # --- printing with liveness -------------------------------------------------------

    def lines(self, outputs: Sequence[sp.Basic], indent: str) -> list[str]:
        last: dict[str, int] = {}
        for i, (_, _, uses, _) in enumerate(self.ops):
            for u in uses:
                last[u] = i
        for o in outputs:
            for s in getattr(o, "free_symbols", ()):
                last[s.name] = len(self.ops)
        self._pool = pool = _BufferPool(last)
        out = []
        for i, (name, node, _, boolean) in enumerate(self.ops):
            def dead(a, i=i):
                return isinstance(a, sp.Symbol) and last.get(a.name, -1) <= i

            x_like = not boolean and self._x_like(node)
            written = None if boolean or not self.in_place else self._inplace(name, node, dead)
            if written is None:
                buf = pool.take() if x_like and self.in_place else None
                form = None if buf is None else self._out_form(node, buf)
                if form is None:
                    pool.give_back(buf)  # no out= form: a fresh tensor after all
                    buf = None
                    code = f"{name} = {self.printer.doprint(node)}"
                else:
                    code = f"{name} = {form}"
                pool.result(name, buf, x_like)
            else:
                code, into = written
                if into is not None:
                    pool.alias(name, into.name)
                else:
                    pool.result(name, None, x_like)
            pool.release_after(i)
            out.append(indent + code)
        return out

    def _x_like(self, node: sp.Basic) -> bool:
        """Has the input's dtype for sure: built from x, grad_output, such temps and numbers.

        Parameters are tensors of unknown dtype and shape, so a result that reads
        one is never written into a reused buffer (a float32 slope on a float16
        input gives a float32 temporary).
        """
        for s in node.free_symbols:
            if s == self.x or s.name == "grad_output":
                continue
            if s.name in self.owned and self._pool.is_x_like(s.name):
                continue
            return False
        return True

    def _finite_call(self, cof: sp.Basic) -> str:
        """``_finite(cof)``; an input-like symbol's scratch copy goes into a dead buffer.

        The buffer is free again right after the line: the copy is consumed at once. The
        bare input gets ``_finite_input`` (a clamp: a nan input needs no select, the
        decaying factor is nan there too), which under torch.compile leaves no comparison
        masks for the partitioner to save for the backward.
        """
        p = self.printer.doprint
        helper = "_finite_input" if cof == self.x else "_finite"
        if isinstance(cof, sp.Symbol) and self._x_like(cof):
            buf = self._pool.take()
            if buf is not None:
                self._pool.give_back(buf)
                return f"{helper}({p(cof)}, out={buf})"
        return f"{helper}({p(cof)})"

    def _out_form(self, node: sp.Basic, buf: str) -> str | None:
        """``node`` written into the dead buffer ``buf`` (``out=``), or None if not supported."""
        p = self.printer.doprint
        if isinstance(node, sp.Mul):
            c = sp.Mul(*[a for a in node.args if a.is_number])
            syms = [a for a in node.args if not a.is_number]
            if not syms or not all(isinstance(a, sp.Symbol) for a in syms):
                return None
            if len(syms) == 1:
                head = f"torch.mul({p(syms[0])}, {float_literal(c)}, out={buf})"
                return head
            head = f"torch.mul({p(syms[0])}, {p(syms[1])}, out={buf})"
            chain = "".join(f".mul_({p(a)})" for a in syms[2:])
            return head + chain + ("" if c == 1 else f".mul_({float_literal(c)})")
        if isinstance(node, sp.Pow) and node.exp == 2 and isinstance(node.base, sp.Symbol):
            return f"torch.mul({p(node.base)}, {p(node.base)}, out={buf})"
        if isinstance(node, sp.Add):
            syms = [a for a in node.args if isinstance(a, sp.Symbol)]
            nums = [a for a in node.args if a.is_number]
            if not syms or len(syms) + len(nums) != len(node.args):
                return None
            first, *rest = syms + [sp.Add(*nums)] if nums else syms
            if not rest:
                return None
            head = f"torch.add({p(first)}, {p(rest[0])}, out={buf})"
            return head + "".join(f".add_({p(a)})" for a in rest[1:])
        if type(node) in TORCH_OPS and isinstance(node.args[0], sp.Symbol):
            return f"{TORCH_OPS[type(node)][0]}({p(node.args[0])}, out={buf})"
        if isinstance(node, (sp.Max, sp.Min)) and len(node.args) == 2:
            nums = [a for a in node.args if a.is_number]
            syms = [a for a in node.args if isinstance(a, sp.Symbol)]
            if len(nums) != 1 or len(syms) != 1:
                return None
            helper = "_at_least" if isinstance(node, sp.Max) else "_at_most"
            return f"{helper}({p(syms[0])}, {float_literal(nums[0])}, out={buf})"
        if isinstance(node, sp.Heaviside) and node.args[1:] == (sp.S.Zero,) \
                and isinstance(node.args[0], sp.Symbol):
            return f"torch.clamp({p(node.args[0])}, 0.0, 1.0, out={buf}).ceil_()"
        return None

    def _fused_sum(self, name: str, node: sp.Add, target, dead) -> tuple[str, sp.Symbol | None]:
        """A sum with products folded in: ``u.addcmul_(a, b, value=c)...``, and ``u``."""
        p = self.printer.doprint

        def factors(prod: sp.Basic) -> str:
            if isinstance(prod, decay_guard):
                t, cof = prod.args
                own = isinstance(cof, sp.Symbol) and self._ownable(cof, not dead(cof)) \
                    and cof != t
                return f"{f'_finite_({p(cof)})' if own else self._finite_call(cof)}, {p(t)}"
            c = sp.Mul(*[a for a in prod.args if a.is_number])
            a, b = (p(f) for f in prod.args if not f.is_number)
            return f"{a}, {b}" if c == 1 else f"{a}, {b}, value={float_literal(c)}"

        prods = [a for a in node.args if _is_product(a)]
        rest = [a for a in node.args if not _is_product(a)]
        head = target([a for a in rest if isinstance(a, sp.Symbol)])
        if head is not None:
            rest.remove(head)
            code = f"{head}"
        else:
            # A fresh tensor from the first product, then everything in place.
            base = next(a for a in rest if isinstance(a, sp.Symbol))
            rest.remove(base)
            code = f"torch.addcmul({p(base)}, {factors(prods.pop(0))})"
        code += "".join(f".addcmul_({factors(q)})" for q in prods)
        code += "".join(f".add_({p(a)})" for a in rest)
        return f"{name} = {code}", head

    def _inplace(self, name: str, node: sp.Basic, dead) -> tuple[str, sp.Symbol | None] | None:
        """The line for ``node`` written into an owned temporary, and that temporary.

        The temporary is None when the line makes a fresh tensor itself (a guard
        helper on a new product); the whole result is None when ``node`` has no
        such form, so the caller prints it out of place.
        """
        p = self.printer.doprint

        def target(cands):
            for a in cands:
                if self._ownable(a, not dead(a)) and list(node.args).count(a) == 1:
                    return a
            return None

        if isinstance(node, sp.Add) and any(_is_product(a) for a in node.args):
            return self._fused_sum(name, node, target, dead)
        if isinstance(node, (sp.Add, sp.Mul)):
            t = target([a for a in node.args if isinstance(a, sp.Symbol)])
            if t is None:
                return None
            rest = list(node.args)
            rest.remove(t)
            if isinstance(node, sp.Mul):
                c = sp.Mul(*[a for a in rest if a.is_number])
                syms = [a for a in rest if not a.is_number]
                chain = [f".mul_({p(a)})" for a in syms]
                if c == -1:
                    chain.append(".neg_()")
                elif c != 1:
                    chain.append(f".mul_({p(c)})")
            else:
                chain = [f".add_({p(a)})" for a in rest]
            return f"{name} = {t}" + "".join(chain), t
        if isinstance(node, sp.Pow):
            t = target([node.base])
            method = {2: "square_", -1: "reciprocal_", sp.S.Half: "sqrt_"}.get(node.exp)
            if t is None or method is None:
                return None
            return f"{name} = {t}.{method}()", t
        if type(node) in TORCH_OPS:
            t = target([node.args[0]])
            if t is None:
                return None
            return f"{name} = {t}.{TORCH_OPS[type(node)][1]}()", t
        if isinstance(node, sp.Heaviside) and node.args[1:] == (sp.S.Zero,):
            t = target([node.args[0]])
            return None if t is None else (f"{name} = {t}.clamp_(0.0, 1.0).ceil_()", t)
        if isinstance(node, (sp.Max, sp.Min)) and len(node.args) == 2:
            nums = [a for a in node.args if a.is_number]
            syms = [a for a in node.args if not a.is_number]
            if len(nums) != 1 or (t := target(syms)) is None:
                return None
            helper = "_at_least_" if isinstance(node, sp.Max) else "_at_most_"
            return f"{name} = {helper}({t}, {float_literal(nums[0])})", t
        if isinstance(node, decay_guard):
            # _finite/_finite_ (helpers of the generated file) clamp to the dtype's
            # finite range: one vectorised pass in eager and under Inductor, whose
            # nan_to_num lowering tests nan one element at a time (2x the fused kernel).
            t, cof = node.args
            if isinstance(cof, sp.Symbol) and self._ownable(cof, not dead(cof)) and cof != t:
                return f"{name} = _finite_({cof}).mul_({p(t)})", cof
            if isinstance(t, sp.Symbol) and self._ownable(t, not dead(t)) and cof != t:
                return f"{name} = {t}.mul_({self._finite_call(cof)})", t
            return f"{name} = {p(t)}*{self._finite_call(cof)}", None
        if isinstance(node, zero_guard):
            # _zero_wins_ (a helper of the generated file) sets the 0*inf nans of the
            # plain product to 0 without a bool mask: comparisons and masked writes
            # are 5-20x slower than arithmetic in torch's CPU kernels.
            *zeros, cof = node.args
            into = None
            if isinstance(cof, sp.Symbol) and self._ownable(cof, not dead(cof)) \
                    and cof not in zeros:
                into = cof
                prod = f"{cof}" + "".join(f".mul_({p(z)})" for z in zeros)
            else:
                first, *rest = zeros
                prod = f"({p(first)}*{p(cof)})" + "".join(f".mul_({p(z)})" for z in rest)
            more = "".join(f".add_(torch.clamp({p(z)}, 0.0, 0.0))" for z in zeros[1:])
            return f"{name} = _zero_wins_({prod}, {p(zeros[0])}){more}", into
        return None


class _BufferPool:
    """Which input-like temporaries' buffers are dead, so that a new result can reuse one.

    Eager PyTorch allocates every out-of-place result; on a CPU a fresh buffer
    is often fresh pages from the OS (page faults) once the heap has been
    trimmed, which costs more than the kernel at 2^16..2^20 elements. Names
    that alias one buffer (in-place chains) are tracked together: a buffer is
    free once every name on it is dead.
    """

    def __init__(self, last: dict[str, int]) -> None:
        self.last = last
        self.members: dict[str, list[str]] = {}  # buffer (the name that allocated it) -> names
        self.buffer: dict[str, str] = {}  # temp name -> its buffer
        self.x_like: dict[str, bool] = {}  # buffer -> holds the input's dtype
        self.free: list[str] = []
        self.released: set[str] = set()

    def is_x_like(self, name: str) -> bool:
        return self.x_like.get(self.buffer.get(name, ""), False)

    def take(self) -> str | None:
        return self.free.pop(0) if self.free else None

    def give_back(self, buf: str | None) -> None:
        if buf is not None:
            self.free.insert(0, buf)

    def result(self, name: str, buf: str | None, x_like: bool) -> None:
        """``name`` in a fresh buffer (``buf`` None) or written into ``buf`` with out=."""
        if buf is None:
            self.members[name] = []
            self.x_like[name] = x_like
            buf = name
        else:
            # out= keeps the buffer's dtype: it was input-like and so is the result.
            buf = self.buffer.get(buf, buf)
            self.released.discard(buf)
        self._join(name, buf)

    def alias(self, name: str, target: str) -> None:
        """``name`` was computed in place on ``target``: the same buffer."""
        self._join(name, self.buffer.get(target, target))

    def _join(self, name: str, buf: str) -> None:
        self.buffer[name] = buf
        self.members.setdefault(buf, []).append(name)

    def release_after(self, i: int) -> None:
        """Free the input-like buffers whose every name is last used at op ``i``."""
        for buf, names in self.members.items():
            if buf in self.released or not self.x_like.get(buf, False):
                continue
            if max(self.last.get(n, -1) for n in names) == i:
                self.free.append(buf)
                self.released.add(buf)


def _is_product(node: sp.Basic) -> bool:
    """A product addcmul takes: two tensor factors and a numeric coefficient, or a decay guard."""
    if isinstance(node, decay_guard):
        return True
    if not isinstance(node, sp.Mul):
        return False
    return sum(1 for a in node.args if not a.is_number) == 2


_STEPS = {  # condition on x vs c -> (H0 of the chosen branch's step, its side of c)
    ">": (0, sp.Max),
    ">=": (1, sp.Max),
    "<": (0, sp.Min),
    "<=": (1, sp.Min),
}
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


def _threshold(cond: sp.Basic, x: sp.Symbol) -> tuple[str, sp.Expr] | None:
    """``(op, c)`` for a condition ``x op c`` with a number c (either side), else None."""
    if not isinstance(cond, sp.core.relational.Relational) or cond.rel_op not in _STEPS:
        return None
    if cond.lhs == x and cond.rhs.is_number and cond.rhs.is_finite:
        return cond.rel_op, cond.rhs
    if cond.rhs == x and cond.lhs.is_number and cond.lhs.is_finite:
        return _FLIP[cond.rel_op], cond.lhs
    return None


def piecewise_as_blend(e: sp.Basic, x: sp.Symbol) -> sp.Basic:
    """Two-branch ``Piecewise((a, x > c), (b, True))`` as a blend with no bool tensor.

    ``H(x - c) * a(max(x, c)) + (1 - H(x - c)) * b(min(x, c))`` with the step's value
    at ``x = c`` taken from the condition. Each branch is evaluated only on its
    own side of ``c`` (the other side sees ``a(c)`` or ``b(c)``, finite), so a
    step that is 0 never meets an infinite branch and ``0 * inf`` cannot occur;
    a nan input still gives nan through the steps. Why: torch.where needs a
    comparison, and comparisons and selects are 5-20x slower than arithmetic in
    torch's CPU kernels; the steps are two clamps and a ceil. Other Piecewise
    forms, or branches that are not finite at ``c``, are left as they are.

    >>> from eafo_sym import x
    >>> piecewise_as_blend(sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True)), x)
    (1 - Heaviside(x, 0))*(exp(Min(0, x)) - 1) + Heaviside(x, 0)*Max(0, x)
    """

    def blend(pw: sp.Piecewise) -> sp.Basic:
        if len(pw.args) != 2 or pw.args[1].cond != sp.true:
            return pw
        (a, cond), (b, _) = pw.args
        found = _threshold(cond, x)
        if found is None:
            return pw
        op, c = found
        h0, side = _STEPS[op]
        other = sp.Min if side is sp.Max else sp.Max
        ends = (a.subs(x, c), b.subs(x, c))
        if any(v.has(sp.zoo, sp.oo, -sp.oo, sp.nan) or v.is_finite is False for v in ends):
            return pw
        sign = 1 if side is sp.Max else -1
        ha = sp.Heaviside(sign * (x - c), h0)
        # 1 - ha is b's step H(-sign*(x - c), 1 - h0), one kernel from ha.
        return ha * a.subs(x, side(x, c)) + (1 - ha) * b.subs(x, other(x, c))

    return e.replace(lambda n: isinstance(n, sp.Piecewise), blend)


def decaying_exp_as_exp2(e: sp.Basic) -> sp.Basic:
    """``exp(u)`` with ``u <= 0`` as ``exp2(u/log(2))``, the constant folded into u's coefficient.

    Why: torch's CPU ``exp`` kernel is 3-4x slower than its ``exp2`` kernel
    (measured with torch 2.13: 2^16 float32 elements, 28 us against 9 us), and
    ``exp`` dominates every activation with a Gaussian factor. Folding
    ``1/log(2)`` into the argument's numeric coefficient costs no extra
    operation; it adds one rounding of the argument, whose absolute effect on
    the result is ``|u| exp(u) * 2**-p <= 2**-p / e`` when ``u <= 0``: below one
    unit in the last place of 1. For ``u > 0`` the error would grow with
    ``|u|`` relative to the result, so those stay ``exp``.

    >>> from eafo_sym import x
    >>> decaying_exp_as_exp2(sp.exp(-x**2 / 2))
    exp2(-0.721347520444482*x**2)
    >>> decaying_exp_as_exp2(sp.exp(x))
    exp(x)
    """

    def fold(a: sp.exp) -> sp.Basic:
        c, rest = a.args[0].as_coeff_Mul()
        return exp2(sp.Float(float(c / sp.log(2))) * rest)

    return e.replace(lambda a: isinstance(a, sp.exp) and a.args[0].is_nonpositive, fold)


def emit(
    assignments: Sequence[tuple[sp.Symbol, sp.Expr]],
    outputs: Sequence[sp.Expr],
    printer,
    x: sp.Symbol,
    indent: str = "    ",
    *,
    in_place: bool = True,
) -> tuple[list[str], list[str]]:
    """Lines computing ``outputs`` (after the CSE ``assignments``) and the printed outputs.

    ``in_place=False``: one fresh tensor per operation (no in-place writes, no reused
    buffers, no folded products), for code that autograd differentiates as written
    (TorchScript's): an in-place write can overwrite a value its backward needs.
    """
    em = _Emitter(printer, x, in_place)
    for s, e in assignments:
        em.alias[s] = em.operand(e)
    outs = [em.operand(o) for o in outputs]
    if in_place:
        outs = em.fuse_products(outs)
    return em.lines(outs, indent), [printer.doprint(o) for o in outs]
