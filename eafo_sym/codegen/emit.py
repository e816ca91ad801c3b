"""Straight-line torch code with in-place reuse of dead temporaries.

Eager PyTorch runs one kernel per operation and allocates a fresh tensor for
each result; for a memory-bound activation the allocations (page faults on
fresh memory) cost as much as the arithmetic. This emitter flattens the
(CSE-reduced) expressions into one operation per line and writes an
operation in place (``t.mul_(...)``, ``t.exp_()``) when its first operand is
a temporary this function created, has the input's shape, is floating point
and is not used afterwards. The input, the parameters and ``grad_output`` are
never written.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from .stable import decay_guard, erfc_, sigmoid, zero_guard

__all__ = ["emit"]

_UNARY_INPLACE = {
    sp.exp: "exp_",
    sp.tanh: "tanh_",
    sigmoid: "sigmoid_",
    log1p: "log1p_",
    expm1: "expm1_",
    sp.erf: "erf_",
    sp.erfc: "erfc_",
    erfc_: "erfc_",
    sp.Abs: "abs_",
    sp.log: "log_",
    sp.sin: "sin_",
    sp.cos: "cos_",
}
_BOOL = (sp.core.relational.Relational, sp.And, sp.Or, sp.Not)


class _Emitter:
    def __init__(self, printer, x: sp.Symbol) -> None:
        self.printer = printer
        self.x = x
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

    # --- printing with liveness -------------------------------------------------------

    def lines(self, outputs: Sequence[sp.Basic], indent: str) -> list[str]:
        last: dict[str, int] = {}
        for i, (_, _, uses, _) in enumerate(self.ops):
            for u in uses:
                last[u] = i
        for o in outputs:
            for s in getattr(o, "free_symbols", ()):
                last[s.name] = len(self.ops)
        out = []
        for i, (name, node, _, boolean) in enumerate(self.ops):
            def dead(a, i=i):
                return isinstance(a, sp.Symbol) and last.get(a.name, -1) <= i

            code = None if boolean else self._inplace(name, node, dead)
            if code is None:
                code = f"{name} = {self.printer.doprint(node)}"
            out.append(indent + code)
        return out

    def _inplace(self, name: str, node: sp.Basic, dead) -> str | None:
        p = self.printer.doprint

        def target(cands):
            for a in cands:
                if self._ownable(a, not dead(a)) and list(node.args).count(a) == 1:
                    return a
            return None

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
            return f"{name} = {t}" + "".join(chain)
        if isinstance(node, sp.Pow):
            t = target([node.base])
            method = {2: "square_", -1: "reciprocal_", sp.S.Half: "sqrt_"}.get(node.exp)
            if t is None or method is None:
                return None
            return f"{name} = {t}.{method}()"
        if type(node) in _UNARY_INPLACE:
            t = target([node.args[0]])
            if t is None:
                return None
            return f"{name} = {t}.{_UNARY_INPLACE[type(node)]}()"
        if isinstance(node, sp.Heaviside) and node.args[1:] == (sp.S.Zero,):
            t = target([node.args[0]])
            return None if t is None else f"{name} = {t}.clamp_(0.0, 1.0).ceil_()"
        if isinstance(node, (sp.Max, sp.Min)) and len(node.args) == 2:
            nums = [a for a in node.args if a.is_number]
            syms = [a for a in node.args if not a.is_number]
            if len(nums) != 1 or (t := target(syms)) is None:
                return None
            kw = "min" if isinstance(node, sp.Max) else "max"
            return f"{name} = {t}.clamp_({kw}={p(nums[0])})"
        if isinstance(node, decay_guard):
            t, cof = node.args
            if isinstance(cof, sp.Symbol) and self._ownable(cof, not dead(cof)) and cof != t:
                return f"{name} = {cof}.nan_to_num_().mul_({p(t)})"
            if isinstance(t, sp.Symbol) and self._ownable(t, not dead(t)) and cof != t:
                return f"{name} = {t}.mul_(torch.nan_to_num({p(cof)}))"
            return None
        if isinstance(node, zero_guard):
            *zeros, cof = node.args
            if not all(isinstance(z, sp.Symbol) for z in zeros):
                return None
            if isinstance(cof, sp.Symbol) and self._ownable(cof, not dead(cof)) \
                    and cof not in zeros:
                head = f"{name} = {cof}" + "".join(f".mul_({z})" for z in zeros)
            else:
                return None
            fills = "".join(f".masked_fill_({z} == 0, 0.0)" for z in zeros)
            return head + fills
        return None


def emit(
    assignments: Sequence[tuple[sp.Symbol, sp.Expr]],
    outputs: Sequence[sp.Expr],
    printer,
    x: sp.Symbol,
    indent: str = "    ",
) -> tuple[list[str], list[str]]:
    """Lines computing ``outputs`` (after the CSE ``assignments``) and the printed outputs."""
    em = _Emitter(printer, x)
    for s, e in assignments:
        em.alias[s] = em.operand(e)
    outs = [em.operand(o) for o in outputs]
    return em.lines(outs, indent), [printer.doprint(o) for o in outs]
