"""The command line: outputs, and one stderr line + exit code 2 for every bad input."""

import subprocess
import sys

import pytest

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
        (["derive", "--order", "0"], "order must be >= 1"),
        (["nonsense"], "invalid choice"),
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
