"""Parse activation formulas from untrusted text, without ``eval`` or ``sympify``.

:func:`sympy.sympify` runs Python code, so user text never reaches it. The text
is parsed by :mod:`ast` and every node is checked against a whitelist: numbers,
the input ``x``, declared parameter names, the constants ``pi`` and ``e``, the
arithmetic operators and calls of known functions. Anything else (attribute
access, subscripts, dunder names, lambdas, comprehensions, keyword arguments,
unknown names or functions) is rejected with a :class:`ValueError` that names
the offending part.

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
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable

import sympy as sp

from .symbolic.symbols import param, x

__all__ = ["parse_activation", "FUNCTIONS", "MAX_LENGTH"]

#: Longest formula accepted; longer text is refused before parsing.
MAX_LENGTH = 2000
#: Deepest nesting of the syntax tree accepted (guards the recursive builder).
MAX_DEPTH = 60
#: Largest |exponent| allowed when both base and exponent are numbers.
MAX_NUMERIC_EXPONENT = 1000


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

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: None,  # checked separately: numeric powers can be astronomically large
}


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
        return method(node, depth + 1)

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
        left, right = self.build(node.left, depth), self.build(node.right, depth)
        if op is ast.Pow:
            if left.is_number and right.is_number and abs(right) > MAX_NUMERIC_EXPONENT:
                raise self.fail(
                    f"numeric power '{_describe(node)}' has an exponent above "
                    f"{MAX_NUMERIC_EXPONENT}"
                )
            return left**right
        if op is ast.Div and right.is_zero:
            raise self.fail(f"division by zero in '{_describe(node)}'")
        return _BINOPS[op](left, right)

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
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"starred arguments in '{_describe(node)}' are not allowed")
        return ctor(*(self.build(a, depth) for a in node.args))

    def _Attribute(self, node: ast.Attribute, depth: int) -> sp.Expr:
        raise self.fail(f"attribute access '.{node.attr}' is not allowed")


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
        ValueError: If the text is empty, too long, not valid syntax, or uses
            anything outside the whitelist; the message names the offending part.

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
    try:
        return _Builder(declared).build(tree)
    except RecursionError:
        raise ValueError(f"formula: nesting deeper than {MAX_DEPTH} levels") from None
