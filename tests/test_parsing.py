import math
import time

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from eafo_sym import x
from eafo_sym.parsing import FUNCTIONS, parse_activation
from eafo_sym.symbolic.symbols import param


@pytest.mark.parametrize(
    "text, expected",
    [
        ("max(0, x)", sp.Max(0, x)),
        ("max(0, x) + 0.01*x*exp(-x**2/2)", sp.Max(0, x) + sp.Rational(1, 100) * x * sp.exp(-x**2 / 2)),
        ("x*sigmoid(x)", x / (1 + sp.exp(-x))),
        ("min(x, 1, 2*x)", sp.Min(x, 1, 2 * x)),
        ("x * (1 + erf(x / sqrt(2))) / 2", x * (1 + sp.erf(x / sp.sqrt(2))) / 2),
        ("-x + +x", sp.S.Zero),
        ("heaviside(x)", sp.Heaviside(x, sp.S.Half)),
        ("pi*e", sp.pi * sp.E),
    ],
)
def test_valid_formulas(text, expected):
    assert sp.simplify(parse_activation(text) - expected) == 0


def test_parameters_are_the_registry_symbols():
    e = parse_activation("alpha*x", params=["alpha"])
    assert e == param("alpha") * x


@pytest.mark.parametrize(
    "text, match",
    [
        ("__import__('os').system('echo hi')", "dunder"),
        ("x.__class__", "attribute access"),
        ("(lambda: 1)()", "call of"),
        ("lambda x: x", "Lambda"),
        ("[c for c in ()]", "ListComp"),
        ("x[0]", "Subscript"),
        ("open('f')", "unknown function 'open'"),
        ("exp(x, y=1)", "keyword arguments"),
        ("exp(*[x])", "starred"),
        ("y + x", "unknown name 'y'"),
        ("exp", "without a call"),
        ("'x'", "not a real number"),
        ("1j*x", "not a real number"),
        ("x if x else 0", "IfExp"),
        ("x ^ 2", "write powers as"),
        ("x // 2", "operator"),
        ("9**9**9**9", "exponent above"),
        ("x +", "invalid syntax"),
        ("", "empty"),
        ("x/0", "division by zero"),
        ("exp(x, x)", "takes 1 argument"),
        ("x" + "+x" * 2000, "longer than"),
        ("exp(" * 100 + "x" + ")" * 100, "nesting"),
    ],
)
def test_hostile_or_broken_formulas_are_rejected(text, match):
    with pytest.raises(ValueError, match=match):
        parse_activation(text)


def test_redundant_parentheses_are_fine():
    assert parse_activation("(" * 200 + "x" + ")" * 200) == x


def test_type_and_parameter_name_errors():
    with pytest.raises(TypeError, match="must be a string"):
        parse_activation(3)
    with pytest.raises(ValueError, match="clashes"):
        parse_activation("x", params=["exp"])
    with pytest.raises(ValueError, match="plain identifier"):
        parse_activation("x", params=["__class__"])


@given(st.text(max_size=60))
def test_random_text_is_an_expression_or_a_valueerror(text):
    try:
        out = parse_activation(text)
    except ValueError:
        return
    assert isinstance(out, sp.Expr)
    assert out.free_symbols <= {x}


_ATOMS = st.sampled_from(["x", "1", "2", "0.5", "pi"])
_UNARY = sorted(k for k, (_, n) in FUNCTIONS.items() if n == 1 and k.islower())


def _formula():
    return st.recursive(
        _ATOMS,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(_UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
        ),
        max_leaves=6,
    )


@given(_formula())
def test_parser_agrees_with_python_semantics(text):
    """Generated formulas parse and evaluate like the same text in NumPy at a point."""
    import math

    import numpy as np

    expr = parse_activation(text)
    env = {
        "x": 0.37, "pi": math.pi, "max": max, "exp": np.exp, "log": np.log, "ln": np.log,
        "sqrt": np.sqrt, "abs": abs, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
        "sinh": np.sinh, "cosh": np.cosh, "atan": np.arctan, "arctan": np.arctan,
        "erf": math.erf, "erfc": math.erfc, "sigmoid": lambda t: 1 / (1 + np.exp(-t)),
        "softplus": lambda t: np.log1p(np.exp(t)), "heaviside": lambda t: np.heaviside(t, 0.5),
        "min": min,
    }
    with np.errstate(all="ignore"):
        # The test's own reference: Python evaluates *our* generated text, never user text.
        ref = complex(eval(text, {"__builtins__": {}}, env))  # noqa: S307
    got = complex(sp.N(expr.subs(x, sp.Rational(37, 100)), 20))
    if np.isfinite(ref) and abs(ref) < 1e12:
        assert got == pytest.approx(ref, rel=1e-9, abs=1e-9)


# --- the size budget: limits hold before SymPy evaluates anything ----------------------


@pytest.mark.parametrize(
    "text, match",
    [
        ("((9**999)**999)**999", r"'9 \*\* 999' is about 10\*\*953, above the float64 range"),
        ("9**999**999", r"'999 \*\* 999' is about 10\*\*2996"),
        ("10**400", r"about 10\*\*400"),
        ("1" + "0" * 400, "literal with 1329 bits"),
        ("pi**1000", r"about 10\*\*497"),
        ("exp(exp(700))", "above the float64 range"),
        ("exp(710)", "above the float64 range"),
        ("x*10**300*10**300", r"about 10\*\*600"),
        ("exp(700)*exp(700)*x", r"about 10\*\*608"),
        ("x + 1e300*1e300", r"about 10\*\*600"),
        ("x**(10**10)", "exponent above 1000"),
        ("x**-1001", "exponent above 1000"),
        ("0.1**3000*x", "exponent above 1000"),
        ("log(0)*x", r"'log\(0\)' is not finite \(zoo\)"),
        ("x + 0**-1", "division by zero"),
        ("1/(x - x)", "division by zero"),
        ("sqrt(-1)*x", r"'sqrt\(-1\)' is not a real number"),
        ("log(-2) + x", "is not a real number"),
        ("(-8)**(1/3)*x", "is not a real number"),
        ("max(" + ", ".join(f"x - {i}" for i in range(17)) + ")", "at most 16 arguments"),
        (" + ".join(["x"] * 252), "251 operations, more than the 250"),
        ("-" * 251 + "x", "251 operations"),
    ],
)
def test_size_budget(text, match):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        parse_activation(text)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2**1000*x", sp.Integer(2) ** 1000 * x),
        ("x*2**-1000", x / sp.Integer(2) ** 1000),  # tiny numbers only underflow: fine
        ("exp(709)*x", sp.exp(709) * x),
        ("x**1000", x**1000),
        ("max(" + ", ".join(f"x - {i}" for i in range(16)) + ")", sp.Max(x, x - 15)),
    ],
)
def test_numbers_inside_the_budget_are_kept_exactly(text, expected):
    assert sp.simplify(parse_activation(text) - expected) == 0


def test_a_long_sum_is_one_level_not_deep_nesting():
    """60 terms used to be 60 levels (left-nested BinOps) and failed the depth limit."""
    text = " + ".join(f"max(0, x - {i})" for i in range(60))
    start = time.perf_counter()
    e = parse_activation(text)
    assert time.perf_counter() - start < 2
    assert len(e.args) == 60
    assert parse_activation(" * ".join(["x"] * 100) + " / x") == x**99
    assert parse_activation("x - 1 - 2 - 3 + 4") == x - 2  # left to right, as in Python


def test_building_is_time_limited(monkeypatch):
    from eafo_sym import parsing

    monkeypatch.setattr(parsing, "PARSE_SECONDS", 0.05)
    slow = parsing.FUNCTIONS["exp"]

    def slow_exp(t):
        end = time.monotonic() + 1
        while time.monotonic() < end:
            pass
        return slow[0](t)

    monkeypatch.setitem(parsing.FUNCTIONS, "exp", (slow_exp, 1))
    with pytest.raises(ValueError, match="longer than 0.05 s"):
        parse_activation("exp(x)")


@given(st.integers(min_value=2, max_value=10**6), st.integers(min_value=-(10**4), max_value=10**4))
def test_numeric_powers_are_refused_exactly_when_out_of_range(base, exponent):
    text = f"x + {base}**({exponent})"
    magnitude = exponent * math.log2(base)
    if abs(exponent) > 1000 or magnitude >= 1024 or abs(magnitude) > 8192:
        with pytest.raises(ValueError):
            parse_activation(text)
    else:
        e = parse_activation(text)
        assert e - x == sp.Integer(base) ** exponent
