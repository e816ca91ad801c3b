"""The command line: outputs, and one stderr line + exit code 2 for every bad input.

Every exception becomes one line on stderr: exit 2 for bad input (and a budget
that ran out), exit 1 and ``internal error`` for a bug, the traceback only with
``--debug``; warnings are one line each.
"""

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from eafo_sym import cli
from eafo_sym.cli import _commands, main


def test_derive_prints_the_derivation(capsys):
    assert main(["derive"]) == 0
    out = capsys.readouterr().out
    assert "epsilon*x*exp(-x**2/2) + Max(0, x)" in out
    assert "erf(sqrt(2)*x/2)/2 + 1/2" in out
    assert "c_1 = sqrt(2)/8" in out
    assert "opposite sign" in out
    assert "verified" in out


def test_derive_latex_and_other_law(capsys):
    assert main(["derive", "--latex", "--dist", "normal", "--param", "sigma=2", "--order", "1"]) == 0
    out = capsys.readouterr().out
    assert r"e^{- \frac{x^{2}}{8}}" in out


def test_entropy_of_a_name_and_a_formula(capsys):
    assert main(["entropy", "--activation", "relu"]) == 0
    out = capsys.readouterr().out
    assert "h(f(X)) = -inf" in out and "atoms: 0.5 at 0" in out
    assert main(["entropy", "--activation", "2*x", "--dist", "uniform", "--param", "a=0", "--param", "b=1"]) == 0
    assert "h(f(X)) = 0.69314718056" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["entropy", "--activation", "__import__('os').system('true')"], "dunder"),
        (["entropy", "--activation", "swish"], "unknown activation"),
        (["entropy", "--activation", "x +"], "invalid syntax"),
        (["entropy", "--activation", "x*y"], "unknown name 'y'"),
        (["entropy", "--activation", "x", "--dist", "cauchy"], "invalid choice"),
        (["entropy", "--activation", "x", "--param", "sigma=abc"], "not a number"),
        (["entropy", "--activation", "x", "--param", "sigma=-1"], "sigma must be > 0"),
        (["entropy", "--activation", "x", "--param", "nu=3"], "parameters are"),
        (["entropy", "--activation", "x", "--param", "sigma"], "name=value"),
        (["entropy", "--activation", "x**2", "--method", "symbolic"], "injective"),
        (["entropy"], "required"),
        (["derive", "--order", "0"], "--order must be positive and at most 20, got 0"),
        (["nonsense"], "invalid choice"),
        # Inputs that used to hang, eat memory or end in a traceback:
        (["derive", "--order", "1000000"], "--order must be positive and at most 20"),
        (["entropy", "--activation", "sqrt(x)"], "sqrt(x) is not real at x = -1/8"),
        (["entropy", "--activation", "log(x)"], "log(x) is not real at x = -1/8"),
        (["entropy", "--activation", "x**x"], "x**x is not real"),
        (["entropy", "--activation", "sin(1000*x)"], "sin(1000*x) oscillates without end"),
        (["entropy", "--activation", "sin(x)"], "oscillates without end"),
        (["entropy", "--activation", "abs(sin(x))"], "sin(x) oscillates without end"),
        (["entropy", "--activation", "cos(cos(x))"], "cos(x) oscillates without end"),
        (["rank", "--activation", "relu", "sin(x)"], "sin(x) oscillates without end"),
        (["entropy", "--activation", "((9**999)**999)**999"], "above the float64 range"),
        (["entropy", "--activation", "x**(10**10)"], "exponent above 1000"),
        (["entropy", "--activation", "log(0)*x"], "'log(0)' is not finite"),
        (["entropy", "--activation", "x", "--param", "sigma=2", "--param", "sigma=3"],
         "--param sigma is given twice (sigma=2, sigma=3)"),
        (["entropy", "--activation", "x", "--param", "sigma=nan"], "not a finite number"),
        (["entropy", "--activation", "x", "--param", "sigma=" + "9" * 50], "longer than 40"),
        (["rank", "--digits", "16"], "--digits must be between 0 and 15, got 16"),
        (["experiment", "--threads", "100000"], "--threads must be positive and at most 256"),
        (["experiment", "--threads", "0"], "--threads must be positive and at most 256"),
        (["experiment", "--seeds", "1001"], "--seeds must be positive and at most 1000"),
        (["experiment", "--epochs", "1000000"], "--epochs must be positive and at most 100000"),
        (["experiment", "--epochs", "10**9"], "--epochs: invalid int value"),
        (["experiment", "--split-seed", "-1"], "--split-seed must be between 0 and 4294967295"),
        (["--timeout", "-1", "derive"], "must be between 0 (no limit) and 604800 s"),
        (["derive", "--memory", "3"], "must be 0 (no limit) or 64 to"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", [m.NAME for m in _commands()])
def test_every_subcommand_has_help_with_an_example(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "example:" in capsys.readouterr().out


def test_console_script_exit_code():
    r = subprocess.run(
        [sys.executable, "-m", "eafo_sym.cli", "entropy", "--activation", "open('x')"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stderr.strip().startswith("eafo-sym entropy: error: formula: unknown function 'open'")
    assert r.stdout == ""


def _fake_run(monkeypatch, command, body):
    """Replace ``command``'s run function (what the parser dispatches to) by ``body``."""
    mod = {m.NAME: m for m in _commands()}[command]
    monkeypatch.setattr(mod, "run", body)


def _one_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "exc, code, text",
    [
        (ValueError("bad\nvalue"), 2, "eafo-sym derive: error: bad value"),
        (OverflowError("(34, 'Numerical result out of range')"), 2, "error: (34, 'Numerical"),
        (ZeroDivisionError("float division by zero"), 2, "error: float division by zero"),
        (RecursionError("maximum recursion depth exceeded"), 2, "error: maximum recursion"),
        (ImportError("No module named 'torch'"), 2, "error: No module named 'torch'"),
        (MemoryError(), 2, "error: memory budget of 4 GiB ran out (raise it with --memory MB)"),
        (KeyError("ComplexInfinity"), 1,
         "internal error: KeyError: 'ComplexInfinity' (run with --debug for the traceback)"),
        (AttributeError("x"), 1, "internal error: AttributeError: x"),
        (KeyboardInterrupt(), 130, "eafo-sym derive: interrupted"),
    ],
)
def test_every_exception_is_one_line(exc, code, text, monkeypatch, capsys):
    def boom(args):
        raise exc

    _fake_run(monkeypatch, "derive", boom)
    assert main(["derive"]) == code
    assert text in _one_line(capsys)


def test_debug_prints_the_traceback_before_the_line(monkeypatch, capsys):
    def boom(args):
        raise KeyError("oops")

    _fake_run(monkeypatch, "derive", boom)
    assert main(["derive", "--debug"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "KeyError: 'oops'" in err
    assert err.splitlines()[-1] == "eafo-sym derive: internal error: KeyError: 'oops'"
    assert main(["--debug", "derive"]) == 1  # before the command name too
    assert "Traceback" in capsys.readouterr().err


def test_warnings_and_log_records_are_one_line_each_and_once(monkeypatch, capsys):
    def noisy(args):
        for _ in range(3):
            warnings.warn("quadrature over (0, inf)\nreached only error 2.6", RuntimeWarning,
                          stacklevel=1)
        logging.getLogger("eafo_sym.fused").warning("building\nfailed")
        raise ValueError("the error itself")

    _fake_run(monkeypatch, "derive", noisy)
    assert main(["derive"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "eafo-sym derive: warning: quadrature over (0, inf) reached only error 2.6",
        "eafo-sym derive: warning: building failed",
        "eafo-sym derive: error: the error itself",
    ]


def test_a_warning_of_a_real_quadrature_is_one_line(monkeypatch, capsys):
    """The package's own IntegrationWarning (multi-line SciPy text inside) prints as one line."""
    import math

    from eafo_sym.numeric import ranking
    from eafo_sym.numeric.quadrature import integrate

    def oscillating(*args, **kwargs):
        integrate(lambda t: math.sin(1 / t) / t if t else 0.0, 0.0, 1.0, what="E[sin(1/X)/X]")
        raise ValueError("the ranking failed")

    monkeypatch.setattr(ranking, "rank_activations", oscillating)
    assert main(["rank", "--dist", "normal"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert err[0].startswith("eafo-sym rank: warning: E[sin(1/X)/X]: quadrature over (0.0, 1.0)")
    assert err[1] == "eafo-sym rank: error: the ranking failed"


def test_rank_under_a_cauchy_input_succeeds_with_infinite_spreads(capsys):
    """nu = 1: growing activations have infinite variance; CELU's SymPy limit no longer crashes."""
    assert main(["rank", "--dist", "student_t", "--param", "nu=1", "--activation", "celu", "tanh"]) == 0
    out = capsys.readouterr().out
    (celu,) = [line.split() for line in out.splitlines() if " celu " in line]
    assert celu[5] == "inf"


def test_the_time_budget_ends_a_command(monkeypatch, capsys):
    def forever(args):
        while True:
            pass

    _fake_run(monkeypatch, "derive", forever)
    start = time.monotonic()
    assert main(["derive", "--timeout", "0.3"]) == 2
    assert time.monotonic() - start < 5
    assert _one_line(capsys) == (
        "eafo-sym derive: error: time budget of 0.3 s ran out (raise it with --timeout SECONDS)\n"
    )
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_time_budget_is_not_swallowed_by_a_broad_except(monkeypatch, capsys):
    def careless(args):
        try:
            while True:
                pass
        except Exception:  # noqa: BLE001
            return 0

    _fake_run(monkeypatch, "derive", careless)
    assert main(["--timeout", "0.2", "derive"]) == 2
    assert "time budget of 0.2 s ran out" in _one_line(capsys)


def test_the_memory_budget_ends_a_command(monkeypatch, capsys):
    pytest.importorskip("resource")

    def hungry(args):
        return len(bytearray(8 * 2**30))

    _fake_run(monkeypatch, "derive", hungry)
    assert main(["derive", "--memory", "1024"]) == 2
    assert _one_line(capsys) == (
        "eafo-sym derive: error: memory budget of 1 GiB ran out (raise it with --memory MB)\n"
    )


def test_budgets_per_command_and_none(monkeypatch):
    seen = {}

    def record(args):
        seen["budget"] = cli._budget(args)
        return 0

    _fake_run(monkeypatch, "derive", record)
    assert main(["derive"]) == 0 and seen["budget"] == (cli.DEFAULT_TIMEOUT, cli.DEFAULT_MEMORY)
    assert main(["--timeout", "0", "derive", "--memory", "0"]) == 0 and seen["budget"] == (None, None)
    _fake_run(monkeypatch, "reproduce", record)
    assert main(["reproduce"]) == 0 and seen["budget"][0] == 900.0
    _fake_run(monkeypatch, "experiment", record)
    assert main(["experiment"]) == 0 and seen["budget"] == (None, None)


def test_sigterm_ends_the_command_through_its_cleanup(monkeypatch, capsys):
    cleaned = []

    def terminated(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            cleaned.append(True)

    _fake_run(monkeypatch, "derive", terminated)
    assert main(["derive"]) == 143
    assert cleaned == [True]
    assert _one_line(capsys) == "eafo-sym derive: terminated\n"


def test_the_watchdog_ends_a_command_stuck_in_native_code(tmp_path):
    """A C call that never returns to the interpreter: the watchdog thread reports and exits."""
    code = textwrap.dedent(
        """
        import hashlib, sys
        from eafo_sym import cli
        from eafo_sym.commands import derive
        cli.WATCHDOG_GRACE = 0.5
        derive.run = lambda args: hashlib.pbkdf2_hmac("sha256", b"p", b"s", 10**9)
        sys.exit(cli.main(["--timeout", "0.5", "derive"]))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr == (
        "eafo-sym derive: error: time budget of 0.5 s ran out (the computation did not stop; "
        "raise it with --timeout SECONDS)\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["entropy", "--activation", "exp(exp(exp(exp(x))))"],
        ["entropy", "--activation", "(x - 2)/Abs(x)"],
        ["entropy", "--activation", "max(0, x)**0.5"],
    ],
)
def test_hostile_formulas_end_in_one_line_not_a_traceback(argv, capsys):
    code = main(["--timeout", "60", *argv])
    err = capsys.readouterr().err.splitlines()
    assert code in (0, 2)
    assert "Traceback" not in "\n".join(err)
    if code == 2:
        assert err[-1].startswith(f"eafo-sym {argv[0]}: error: ")


def test_no_cache_turns_the_disk_cache_off_for_the_run(monkeypatch):
    from eafo_sym import cache

    monkeypatch.delenv(cache.OFF_ENV, raising=False)
    seen = []
    _fake_run(monkeypatch, "derive", lambda args: seen.append(cache.disk_enabled()) or 0)
    assert main(["--no-cache", "derive"]) == 0 and main(["derive", "--no-cache"]) == 0
    assert main(["derive"]) == 0
    assert seen == [False, False, True]
    assert cache.OFF_ENV not in os.environ
