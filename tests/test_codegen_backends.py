"""The backend table (``eafo_sym.codegen.backends``): every row resolves and drives the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sympy as sp

from eafo_sym import x
from eafo_sym.cli import main
from eafo_sym.codegen import ActivationForm
from eafo_sym.codegen.backends import BACKENDS, resolve
from eafo_sym.codegen.files import GENERATED_MARKER
from eafo_sym.codegen.printers.base import Refusals
from eafo_sym.codegen.registry import backend_source

RELU = ActivationForm("relu", sp.Max(0, x))


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_row_names_a_printer_of_its_backend_and_an_assembler(name):
    row = BACKENDS[name]
    printer = row.printer_class()
    assert issubclass(printer, Refusals) and printer.backend == name
    text = row.source([RELU], "cmd")
    assert text.startswith((GENERATED_MARKER, "//" + GENERATED_MARKER[1:]))
    assert "relu" in text and "cmd" in text.splitlines()[1]


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_cli_offers_every_row(name, capsys):
    assert main(["codegen", "--backend", name, "--activation", "relu", "-o", "-"]) == 0
    assert capsys.readouterr().out == backend_source(
        name, ["relu"], command=f"eafo-sym codegen{'' if name == 'torch' else f' --backend {name}'}"
        " --activation relu"
    )


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'fortran'; choose cpp, dynamic, jax"):
        resolve("fortran")
    with pytest.raises(ValueError, match="unknown backend"):
        backend_source("fortran", ["relu"])
    with pytest.raises(SystemExit) as exit_:
        main(["codegen", "--backend", "fortran"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("name", sorted(n for n, b in BACKENDS.items() if b.default_path))
def test_default_files_are_committed_generated_files(name):
    text = BACKENDS[name].default_path.read_text(encoding="utf-8")
    assert text.startswith((GENERATED_MARKER, "//" + GENERATED_MARKER[1:]))


def test_reading_the_table_imports_neither_sympy_nor_torch():
    code = (
        "import sys; from eafo_sym.codegen.backends import BACKENDS; "
        "import eafo_sym.commands.codegen; "
        "loaded = {m.split('.')[0] for m in sys.modules} & {'sympy', 'torch'}; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", sorted(n for n, b in BACKENDS.items() if b.runtime))
def test_runtime_module_imports_without_sympy_and_derives_nothing(name):
    pytest.importorskip("torch")
    code = (
        f"import sys, {BACKENDS[name].runtime}; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'sympy' "
        "or m in ('eafo_sym.catalog', 'eafo_sym.symbolic', 'eafo_sym.cache')); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
