"""Parse activation formulas from untrusted text, without ``eval`` or ``sympify``.

:func:`sympy.sympify` runs Python code, so user text never reaches it. The text
is parsed by :mod:`ast` and every node is checked against a whitelist: numbers,
the input ``x``, declared parameter names, the constants ``pi`` and ``e``, the
arithmetic operators and calls of known functions. Anything else (attribute
access, subscripts, dunder names, lambdas, comprehensions, keyword arguments,
unknown names or functions) is rejected with a :class:`ValueError` that names
the offending part.

The text is also held to a size budget *before* SymPy builds anything from
it, because SymPy evaluates numbers eagerly (``((9**999)**999)**999`` would be
computed digit by digit) and simplifies ``Max`` arguments pairwise: at most
:data:`MAX_OPERATIONS` operators and calls, :data:`MAX_DEPTH` levels of
nesting, :data:`MAX_ARGUMENTS` arguments of ``max``/``min``, exponents up to
:data:`MAX_NUMERIC_EXPONENT`, and numbers (literals and constant
subexpressions alike) below ``2**MAX_CONSTANT_BITS``, i.e. inside the float64
range, and exact fractions of at most 8192 bits. A number that is not finite
or not real (``log(0)``, ``sqrt(-1)``) is rejected where it appears.

>>> parse_activation("max(0, x) + 0.5*x*exp(-x**2/2)")
x*exp(-x**2/2)/2 + Max(0, x)
>>> parse_activation("a*x", params=["a"])
a*x
>>> parse_activation("__import__('os')")
Traceback (most recent call last):
...
ValueError: formula: name '__import__' is not allowed (dunder names are rejected)
>>> parse_activation("x.real")
Traceback (most recent call last):
...
ValueError: formula: attribute access '.real' is not allowed
>>> parse_activation("((9**999)**999)**999")
Traceback (most recent call last):
...
ValueError: formula: number '9 ** 999' is about 10**953, above the float64 range (10**308)
>>> parse_activation("log(0)*x")
Traceback (most recent call last):
...
ValueError: formula: 'log(0)' is not finite (zoo)
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable

import sympy as sp

from .budget import TimeUp, time_limit
from .symbolic.symbols import param, x

__all__ = [
    "FUNCTIONS",
    "MAX_ARGUMENTS",
    "MAX_CONSTANT_BITS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NUMERIC_EXPONENT",
    "MAX_OPERATIONS",
    "PARSE_SECONDS",
    "parse_activation",
]

#: Longest formula accepted; longer text is refused before parsing.
MAX_LENGTH = 2000
#: Deepest nesting of the syntax tree accepted (a chain ``a + b + c`` is one level).
MAX_DEPTH = 60
#: Most operators, unary signs and function calls in one formula.
MAX_OPERATIONS = 250
#: Most arguments of one ``max``/``min`` (SymPy compares them pairwise).
MAX_ARGUMENTS = 16
#: Largest |exponent| of a power whose exponent is a number.
MAX_NUMERIC_EXPONENT = 1000
#: Numbers must stay below ``2**MAX_CONSTANT_BITS`` in magnitude (float64 ends at 2**1024).
MAX_CONSTANT_BITS = 1024
#: Wall time allowed for building the expression (a last guard behind the limits above).
PARSE_SECONDS = 10.0

_LOG10_2 = math.log10(2)
# Exact rationals (tiny ones included) stay this short, so arithmetic on them stays cheap.
_MAX_EXACT_BITS = 8192


def _heaviside(t: sp.Expr) -> sp.Expr:
    # H(0) = 1/2, SymPy's default, written explicitly so printers see the choice.
    return sp.Heaviside(t, sp.S.Half)


#: Function names a formula may call, and the SymPy constructor each maps to.
FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], int | None]] = {
    "exp": (sp.exp, 1),
    "log": (sp.log, 1),
    "ln": (sp.log, 1),
    "sqrt": (sp.sqrt, 1),
    "abs": (sp.Abs, 1),
    "Abs": (sp.Abs, 1),
    "sin": (sp.sin, 1),
    "cos": (sp.cos, 1),
    "tanh": (sp.tanh, 1),
    "sinh": (sp.sinh, 1),
    "cosh": (sp.cosh, 1),
    "atan": (sp.atan, 1),
    "arctan": (sp.atan, 1),
    "erf": (sp.erf, 1),
    "erfc": (sp.erfc, 1),
    "sigmoid": (lambda t: 1 / (1 + sp.exp(-t)), 1),
    "softplus": (lambda t: sp.log(1 + sp.exp(t)), 1),
    "heaviside": (_heaviside, 1),
    "Heaviside": (_heaviside, 1),
    "max": (sp.Max, None),
    "Max": (sp.Max, None),
    "min": (sp.Min, None),
    "Min": (sp.Min, None),
}

_CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def _describe(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node parse() makes
        return type(node).__name__


class _Builder:
    def __init__(self, params: dict[str, sp.Symbol]):
        self.params = params

    def fail(self, what: str) -> ValueError:
        return ValueError(f"formula: {what}")

    def build(self, node: ast.AST, depth: int = 0) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.fail(f"{type(node).__name__} '{_describe(node)}' is not allowed")
        out = method(node, depth + 1)
        if out.is_number:
            self.check_number(out, node)
        elif out.is_Mul or out.is_Add:
            # x*10**300*10**300 is not a number, but its constant factor (or term) is.
            const = out.as_independent(*out.free_symbols, as_Add=out.is_Add)[0]
            self.check_number(const, node)
        return out

    def check_number(self, value: sp.Expr, node: ast.AST) -> None:
        """Refuse a number that is not finite, not real, or outside the float64 range."""
        if value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise self.fail(f"'{_describe(node)}' is not finite ({value})")
        if value.is_Rational:
            if value != 0 and math.log2(abs(value.p)) - math.log2(value.q) >= MAX_CONSTANT_BITS:
                raise self.fail(
                    f"number '{_describe(node)}' is about 10**{_decimal_exponent(value)}, "
                    "above the float64 range (10**308)"
                )
            bits = max(abs(value.p).bit_length(), value.q.bit_length())
            if bits > _MAX_EXACT_BITS:
                raise self.fail(
                    f"number '{_describe(node)}' needs {bits} bits written exactly, "
                    f"more than {_MAX_EXACT_BITS}"
                )
            return
        approx = value.evalf(15)
        if approx.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise self.fail(f"'{_describe(node)}' is not finite ({approx})")
        re, im = approx.as_real_imag()
        if im != 0 and abs(im) > 1e-12 * (1 + abs(re)):
            raise self.fail(f"'{_describe(node)}' is not a real number ({approx})")
        if abs(re) >= 2**MAX_CONSTANT_BITS:
            raise self.fail(
                f"number '{_describe(node)}' is about 10**{_decimal_exponent(re)}, "
                f"above the float64 range (10**308)"
            )

    def _Expression(self, node: ast.Expression, depth: int) -> sp.Expr:
        return self.build(node.body, depth)

    def _Constant(self, node: ast.Constant, depth: int) -> sp.Expr:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(f"constant {v!r} is not a real number")
        if isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")):
                raise self.fail(f"constant {v!r} is not finite")
            return sp.Rational(repr(v))
        return sp.Integer(v)

    def _Name(self, node: ast.Name, depth: int) -> sp.Expr:
        name = node.id
        if name.startswith("__"):
            raise self.fail(f"name '{name}' is not allowed (dunder names are rejected)")
        if name == "x":
            return x
        if name in self.params:
            return self.params[name]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(f"function '{name}' used without a call")
        raise self.fail(
            f"unknown name '{name}' (the input is 'x'; declare parameters with params=[...])"
        )

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> sp.Expr:
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        raise self.fail(f"operator in '{_describe(node)}' is not allowed")

    def _BinOp(self, node: ast.BinOp, depth: int) -> sp.Expr:
        op = type(node.op)
        if op is ast.BitXor:
            raise self.fail(f"'^' in '{_describe(node)}' is XOR in Python; write powers as '**'")
        if op not in _BINOPS:
            raise self.fail(f"operator in '{_describe(node)}' is not allowed")
        if op is ast.Pow:
            return self._power(node, depth)
        # A chain a + b - c (or a * b / c) is one level, summed in one step: a long sum
        # is not deep nesting, and Add(*terms) is linear where repeated a + b is not.
        additive = op in (ast.Add, ast.Sub)
        chain = (ast.Add, ast.Sub) if additive else (ast.Mult, ast.Div)
        operands: list[tuple[type, ast.AST]] = []
        head: ast.AST = node
        while isinstance(head, ast.BinOp) and type(head.op) in chain:
            operands.append((type(head.op), head.right))
            head = head.left
        terms = [self.build(head, depth)]
        for kind, operand in reversed(operands):
            value = self.build(operand, depth)
            if kind is ast.Div:
                if value.is_zero:
                    raise self.fail(f"division by zero in '{_describe(node)}'")
                value = 1 / value
            elif kind is ast.Sub:
                value = -value
            terms.append(value)
        return sp.Add(*terms) if additive else sp.Mul(*terms)

    def _power(self, node: ast.BinOp, depth: int) -> sp.Expr:
        left, right = self.build(node.left, depth), self.build(node.right, depth)
        if right.is_number and abs(right) > MAX_NUMERIC_EXPONENT:
            raise self.fail(
                f"power '{_describe(node)}' has an exponent above {MAX_NUMERIC_EXPONENT}"
            )
        if left.is_Rational and right.is_Rational and left != 0:
            # Predict the size of the result before SymPy computes it digit by digit.
            magnitude = float(right) * (math.log2(abs(left.p)) - math.log2(left.q))
            if magnitude >= MAX_CONSTANT_BITS:
                digits = math.floor(magnitude * _LOG10_2 + 1e-9)
                raise self.fail(
                    f"number '{_describe(node)}' is about 10**{digits}, "
                    "above the float64 range (10**308)"
                )
            bits = float(abs(right)) * max(math.log2(abs(left.p)), math.log2(left.q))
            if bits > _MAX_EXACT_BITS:
                raise self.fail(
                    f"number '{_describe(node)}' needs about {int(bits)} bits written exactly, "
                    f"more than {_MAX_EXACT_BITS}"
                )
        if left.is_zero and right.is_number and right.is_negative:
            raise self.fail(f"division by zero in '{_describe(node)}'")
        return left**right

    def _Call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(f"call of '{_describe(node.func)}' is not allowed")
        name = node.func.id
        if name.startswith("__"):
            raise self.fail(f"name '{name}' is not allowed (dunder names are rejected)")
        if name not in FUNCTIONS:
            raise self.fail(
                f"unknown function '{name}'; allowed: {', '.join(sorted(FUNCTIONS))}"
            )
        if node.keywords:
            raise self.fail(f"keyword arguments in '{_describe(node)}' are not allowed")
        ctor, arity = FUNCTIONS[name]
        if arity is not None and len(node.args) != arity:
            raise self.fail(f"{name}() takes {arity} argument(s), got {len(node.args)}")
        if arity is None and len(node.args) < 1:
            raise self.fail(f"{name}() needs at least one argument")
        if arity is None and len(node.args) > MAX_ARGUMENTS:
            raise self.fail(
                f"{name}() takes at most {MAX_ARGUMENTS} arguments, got {len(node.args)}"
            )
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"starred arguments in '{_describe(node)}' are not allowed")
        return ctor(*(self.build(a, depth) for a in node.args))

    def _Attribute(self, node: ast.Attribute, depth: int) -> sp.Expr:
        raise self.fail(f"attribute access '.{node.attr}' is not allowed")


def _decimal_exponent(value: sp.Expr) -> str:
    """The decimal exponent of a huge number, as text (itself in e-notation when huge)."""
    import mpmath

    v = value.evalf(15) if not isinstance(value, sp.Float) else value
    e = mpmath.log10(abs(mpmath.mpf(v._mpf_)))
    return str(int(e)) if e < 1e9 else mpmath.nstr(e, 3)


def _check_size(nodes: list[ast.AST]) -> None:
    """Count operations and literal sizes in the syntax tree, before anything is built."""
    ops = sum(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call)) for n in nodes)
    if ops > MAX_OPERATIONS:
        raise ValueError(
            f"formula: {ops} operations, more than the {MAX_OPERATIONS} allowed"
        )
    for n in nodes:
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            bits = abs(n.value).bit_length()
            if bits > MAX_CONSTANT_BITS:
                raise ValueError(
                    f"formula: number literal with {bits} bits is above the float64 range "
                    f"({MAX_CONSTANT_BITS} bits)"
                )


def parse_activation(text: str, params: Iterable[str] = ()) -> sp.Expr:
    """Parse a formula in ``x`` into a SymPy expression, safely.

    Args:
        text: The formula, in Python syntax (``**`` for powers). ``max``/``min``
            become :class:`sympy.Max`/:class:`sympy.Min`.
        params: Names of parameters the formula may use besides ``x``; they
            become real symbols (the same objects as in the activation registry).

    Returns:
        The expression. It contains ``x`` unless the formula is constant.

    Raises:
        TypeError: If ``text`` is not a string.
        ValueError: If the text is empty, too long, not valid syntax, uses
            anything outside the whitelist, exceeds a size limit (see the module
            docstring) or contains a number that is not finite and real; the
            message names the offending part.

    >>> parse_activation("x ^ 2")
    Traceback (most recent call last):
    ...
    ValueError: formula: '^' in 'x ^ 2' is XOR in Python; write powers as '**'
    """
    if not isinstance(text, str):
        raise TypeError(f"formula must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("formula: empty")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"formula: longer than {MAX_LENGTH} characters")
    declared: dict[str, sp.Symbol] = {}
    for name in params:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"formula: parameter name {name!r} is not a plain identifier")
        if name == "x" or name in FUNCTIONS or name in _CONSTANTS:
            raise ValueError(f"formula: parameter name {name!r} clashes with a reserved name")
        declared[name] = param(name)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"formula: invalid syntax at column {exc.offset}: {text!r}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"formula: cannot be parsed ({type(exc).__name__})") from None
    # Name the most dangerous part first, wherever it sits in the tree.
    nodes = list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ValueError(
                f"formula: name '{node.id}' is not allowed (dunder names are rejected)"
            )
    for node in nodes:
        if isinstance(node, ast.Attribute):
            raise ValueError(f"formula: attribute access '.{node.attr}' is not allowed")
    _check_size(nodes)
    try:
        with time_limit(PARSE_SECONDS):
            return _Builder(declared).build(tree)
    except RecursionError:
        raise ValueError(f"formula: nesting deeper than {MAX_DEPTH} levels") from None
    except TimeUp:
        raise ValueError(
            f"formula: building it took longer than {PARSE_SECONDS:g} s; simplify it"
        ) from None
