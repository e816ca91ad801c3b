"""A hostile-input corpus (hypothesis): formulas, law parameters and output paths.

The properties, for every generated input: no code runs (a sentinel file
that a formula would create never appears), nothing hangs (each example
runs under a wall-time budget that ends it with :class:`BudgetExceeded`, a
failure here), no traceback (only the documented exceptions, and the command
line's one-line errors with exit code 2), and nothing is written outside the
output folder (a neighbouring folder, reachable through planted links, stays
byte for byte the same).

``pytest tests/test_fuzz.py --hypothesis-show-statistics`` prints how many
inputs each property saw and how they ended (``event`` lines).
"""

from __future__ import annotations

import io
import os
import string
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from eafo_sym import x
from eafo_sym.budget import deadline
from eafo_sym.cli import main
from eafo_sym.laws import laplace, normal, uniform
from eafo_sym.outputs import MARKER, OutputDir, OutputRefusedError
from eafo_sym.parsing import FUNCTIONS, parse_activation
from eafo_sym.symbolic.admissible import problems

SENTINEL = Path(os.environ.get("TMPDIR", "/tmp")) / f"eafo_sym_fuzz_sentinel_{os.getpid()}"

# --- formulas ----------------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["0.5", "1e-3", "1e308", "1e-320", "1e309", "0.0", "2.5e10"]),
    st.integers(1, 400).map(lambda k: "9" * k),  # literals up to 400 digits
    st.integers(2, 4000).map(lambda k: f"10**{k}"),
)
_NAMES = st.sampled_from(
    ["x", "x", "x", "pi", "e", "E", "y", "a", "__import__", "__builtins__", "open", "eval",
     "exp", "True", "None", "x_", "xx"]
)  # fmt: skip
_CODE = st.sampled_from(
    [
        f"__import__('os').system('touch {SENTINEL}')",
        f"open('{SENTINEL}', 'w')",
        f"exec(\"open('{SENTINEL}', 'w')\")",
        "x.__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()",
        "[c for c in ()]",
        "x if x else 1",
        "{'a': 1}",
        "f'{x}'",
        "x[0]",
        "x := 1",
        "*x",
        "exp(x, y=2)",
    ]
)
_FUNCS = st.sampled_from(sorted(FUNCTIONS) + ["tan", "gamma", "print", "sp.exp"])
_OPS = st.sampled_from(["+", "-", "*", "/", "**", "^", "//", "%", "@", "<", "and", "|"])


def _formula_tree():
    atoms = st.one_of(_NUMBERS, _NAMES, _CODE)

    def extend(inner):
        return st.one_of(
            st.tuples(inner, _OPS, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(_FUNCS, st.lists(inner, min_size=0, max_size=4)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(st.sampled_from(["-", "+", "~", "not "]), inner).map("".join),
            st.tuples(inner, st.integers(1, 30)).map(lambda t: " + ".join([t[0]] * t[1])),
            st.tuples(inner, st.integers(1, 80)).map(lambda t: "(" * t[1] + t[0] + ")" * t[1]),
            st.tuples(st.sampled_from(["abs", "exp", "max"]), inner, st.integers(2, 70)).map(
                lambda t: f"{t[0]}(" * t[2] + t[1] + ")" * t[2]
            ),
        )

    return st.recursive(atoms, extend, max_leaves=12)


FORMULAS = st.one_of(
    _formula_tree(),
    st.text(alphabet=string.printable, max_size=80),
    st.text(max_size=40),  # any unicode
)


def _no_code_ran():
    assert not SENTINEL.exists(), "a formula ran code"


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(FORMULAS)
def test_formulas_parse_or_are_refused_quickly(text):
    with deadline(5):
        try:
            f = parse_activation(text)
        except ValueError:
            event("refused")
            _no_code_ran()
            return
    event("parsed")
    _no_code_ran()
    assert isinstance(f, sp.Expr) and f.free_symbols <= {x}


def _valid_formula():
    """Well-formed formulas in x, rich in the functions that restrict the domain or oscillate."""
    atoms = st.one_of(st.just("x"), st.integers(-3, 5).map(str), st.sampled_from(["0.5", "pi"]))
    unary = st.sampled_from(["sqrt", "log", "sin", "cos", "abs", "exp", "tanh", "atan", "erf"])

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(unary, inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
        )

    return st.recursive(atoms, extend, max_leaves=8)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(_formula_tree(), _valid_formula()),
       st.sampled_from([normal(), uniform(0, 1), laplace(1, 2)]))
def test_admissibility_decides_quickly_without_errors(text, law):
    try:
        f = parse_activation(text)
    except ValueError:
        event("not a formula")
        return
    with deadline(10):
        found = problems(f, law)
    event(f"{len(found)} problem(s)")
    for p in found:
        assert p.kind in ("not real", "branches") and p.message and p.part.has(x)


# --- the command line ------------------------------------------------------------------


def _cli(argv):
    so, se = io.StringIO(), io.StringIO()
    with redirect_stdout(so), redirect_stderr(se):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors
            code = exc.code
    return code, so.getvalue(), se.getvalue()


def _one_line_errors(command, code, err):
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(line.startswith(("eafo-sym ", "usage:")) or not line for line in lines), err
    if code == 2:
        assert lines and (": error: " in lines[-1]), err


_SHORT_FORMULAS = st.one_of(
    _formula_tree(),
    st.sampled_from(["relu", "gelu", "crrelu", "2*x", "x*sigmoid(x)", "sqrt(x)", "sin(x)",
                     "abs(x) - 1", "tanh(3*x)", "max(0, x - 1)"]),
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(_SHORT_FORMULAS)
def test_entropy_command_on_hostile_formulas(text):
    code, out, err = _cli(["--timeout", "20", "entropy", "--activation", text])
    event(f"exit {code}")
    _no_code_ran()
    _one_line_errors("entropy", code, err)
    if code == 0:
        assert out.startswith("h(f(X)) = ")


_KEYS = st.sampled_from(["mu", "sigma", "b", "s", "nu", "a", "w", "", "1x", "__class__"])
_VALUES = st.one_of(
    st.integers(-3, 60).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "", "abc", "0x10", "1_0", "9" * 60, "2**3"]),
)
_PARAMS = st.lists(st.tuples(_KEYS, st.sampled_from(["=", "", "=="]), _VALUES).map("".join),
                   max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["normal", "laplace", "logistic", "student_t", "uniform", "cauchy"]),
       _PARAMS)
def test_law_parameters_are_checked(dist, params):
    argv = ["--timeout", "10", "entropy", "--activation", "2*x", "--dist", dist]
    for p in params:
        argv += ["--param", p]
    code, out, err = _cli(argv)
    event(f"exit {code}")
    _one_line_errors("entropy", code, err)


# --- output paths ------------------------------------------------------------------------

_COMPONENTS = st.sampled_from(
    ["a", "b", "code", "figures", "summary.md", "..", ".", "", MARKER, "é", ".x.1.deadbeef.tmp",
     "a b", "-", "~"]
)  # fmt: skip
_RELPATHS = st.one_of(
    st.lists(_COMPONENTS, min_size=1, max_size=4).map("/".join),
    st.text(alphabet="ab/.\\~ ", max_size=12),
)
_PLANTS = st.lists(
    st.tuples(st.sampled_from(["summary.md", "code", "a", "code/f.py", "figures", "b"]),
              st.sampled_from(["link-file", "link-dir", "fifo", "file", "dir"])),
    max_size=4,
)


def _snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = (
                ("link", os.readlink(p)) if p.is_symlink()
                else ("file", p.read_bytes()) if p.is_file() else ("other", None)
            )
    return out


def _plant(target: Path, where: str, kind: str, outside: Path) -> None:
    p = target / where
    if os.path.lexists(p):  # taken by an earlier plant (writing into its FIFO would block)
        return
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        if kind == "link-file":
            p.symlink_to(outside / "victim.txt")
        elif kind == "link-dir":
            p.symlink_to(outside, target_is_directory=True)
        elif kind == "fifo":
            os.mkfifo(p)
        elif kind == "file":
            p.write_text("someone else's\n")
        else:
            p.mkdir()
    except OSError:  # a parent is a file, a FIFO or a link planted earlier
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_RELPATHS, min_size=1, max_size=5), _PLANTS, st.booleans(), st.booleans())
def test_output_folders_never_write_outside(tmp_path_factory, relpaths, plants, force, marked):
    root = tmp_path_factory.mktemp("fuzz")
    outside = root / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("precious\n")
    target = root / "target"
    if marked:
        with OutputDir.open(target, owner="eafo-sym fuzz") as out:
            out.write_text("summary.md", "ours\n")
    for where, kind in plants:
        _plant(target, where, kind, outside)
    before = _snapshot(outside)
    outcomes = []
    with deadline(10):
        try:
            with OutputDir.open(target, owner="eafo-sym fuzz", force=force) as out:
                for rel in relpaths:
                    try:
                        out.write_text(rel, "new\n")
                        outcomes.append("written")
                    except (ValueError, OutputRefusedError) as exc:
                        outcomes.append(type(exc).__name__)
                    except OSError as exc:  # e.g. a name that is a folder, too long
                        outcomes.append(f"OSError {exc.errno}")
        except OutputRefusedError:
            outcomes.append("folder refused")
    for o in outcomes:
        event(o)
    assert _snapshot(outside) == before, "something outside the output folder changed"
    for dirpath, _dirs, files in os.walk(target):
        assert not [f for f in files if f.endswith(".tmp") and f != ".x.1.deadbeef.tmp"]
        for f in files:
            real = Path(os.path.realpath(Path(dirpath) / f))
            assert real.is_relative_to(target.resolve()) or real.is_relative_to(outside.resolve())


@pytest.fixture(autouse=True, scope="module")
def _sentinel():
    SENTINEL.unlink(missing_ok=True)
    yield
    assert not SENTINEL.exists(), "a formula ran code"
