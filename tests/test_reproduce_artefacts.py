"""The checks of the shipped code (``eafo_sym.reproduce.artefacts``): a corrupted artefact fails,
named; a missing one is skipped with the reason.

Each corruption goes through the artefact's public API, as users meet it: a
module's ``forward``, a printed function's text, a constructor default.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from eafo_sym import catalog
from eafo_sym.cli import main
from eafo_sym.reproduce import artefacts, checks


def _run(key):
    row = next(c for c in checks.CHECKS if c.key == key)
    return checks.run_check(row, None)


def _failing(r):
    return r.data.get("failing", [])


def _named(r, label):
    return [f for f in _failing(r) if f.startswith(label + " ")]


# --- the reference ---------------------------------------------------------------------


def test_reference_values_and_one_sided_derivatives():
    r = artefacts.reference("relu")
    i0 = artefacts.GRID.index(0.0)
    assert r.value[i0] == 0 and r.value[-1] == 1e3 and r.value[0] == 0
    assert (r.dx[0][i0], r.dx[1][i0]) == (0.0, 1.0)  # a kink: both one-sided derivatives
    assert r.limits == {"value": (math.inf, 0.0), "dx": (1.0, 0.0)}
    g = artefacts.reference("gelu")
    t = np.array(artefacts.GRID)
    from scipy.special import erfc

    # x*Phi(x), with erfc so that the left tail keeps its digits
    assert np.allclose(g.value, t * erfc(-t / math.sqrt(2)) / 2, rtol=1e-14, atol=1e-300)
    assert g.dx[0][i0] == g.dx[1][i0] == 0.5  # smooth: one value


def test_kinks_of_the_catalog_are_at_zero():
    from eafo_sym import x

    assert artefacts._kinks(catalog.get("leaky_relu").expr) == (0.0,)
    assert artefacts._kinks(catalog.get("gelu").expr) == ()
    import sympy as sp

    assert artefacts._kinks(sp.Max(0, x - 2) + sp.Abs(2 * x + 1)) == (-0.5, 2.0)


def test_edge_errors():
    e = artefacts._edge_error([math.inf, 0.0, math.nan], [math.inf, 0.0, math.nan])
    assert e.value == 0
    assert artefacts._edge_error([1e308, 0.0, math.nan], [math.inf, 0.0, math.nan]).value == math.inf
    assert artefacts._edge_error([math.inf, 0.0, 0.0], [math.inf, 0.0, math.nan]).at != math.inf


# --- torch modules -----------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_every_module_runs_and_the_table_names_the_file(torch):
    r = _run("nn_modules")
    from eafo_sym import nn

    assert set(r.data["errors"]) == {cls.__name__ for cls in nn.ACTIVATIONS.values()}
    assert r.derivation.startswith("eafo_sym/nn.py sha256 ") and "19 modules" in r.derivation
    import hashlib
    from pathlib import Path

    assert r.data["sha256"] == hashlib.sha256(Path(nn.__file__).read_bytes()).hexdigest()[:12]
    crrelu = r.data["errors"]["CRReLU"]
    assert {"value", "d/dx", "d/depsilon", "value (float32)", "edge values", "edge d/dx",
            "edge d/depsilon", "defaults"} <= set(crrelu)  # fmt: skip
    assert max(crrelu.values()) <= artefacts.TOL32
    assert not _named(r, "CRReLU") and not _named(r, "GELU")


@pytest.mark.parametrize(
    "corrupt, what",
    [
        (lambda y, x: 2 * y, "value"),
        (lambda y, x: y + 1e-9 * x, "value"),  # far below float32, far above float64 rounding
        (lambda y, x: y.detach() + (y - y.detach()) * 1.5, "d/dx"),  # the backward only
        (lambda y, x: torch_where_inf(y, x), "edge values"),
    ],
    ids=["twice", "1e-9", "gradient", "inf"],
)
def test_a_corrupted_module_fails_the_run_naming_it(torch, monkeypatch, capsys, tmp_path,
                                                    corrupt, what):
    from eafo_sym import nn

    real = nn.CRReLU.forward
    monkeypatch.setattr(nn.CRReLU, "forward", lambda self, x: corrupt(real(self, x), x))
    r = _run("nn_modules")
    assert not r.passed
    (entry,) = _named(r, "CRReLU")
    assert what in entry, entry
    assert not _named(r, "GELU")
    code = main(["reproduce", "--out", str(tmp_path), "--no-figures", "--quiet",
                 "--only", "nn_modules"])  # fmt: skip
    assert code == 1
    out = capsys.readouterr().out
    assert "| FAIL |" in out and "failing: " in out and "CRReLU (" in out


def torch_where_inf(y, x):
    import torch

    return torch.where(torch.isinf(x), torch.zeros_like(y), y)


def test_a_wrong_parameter_gradient_fails(torch, monkeypatch):
    from eafo_sym import nn

    real = nn.crrelu_bwd

    def wrong(x, epsilon, grad_output):
        gx, ge = real(x, epsilon, grad_output)
        return gx, ge * 1.01

    # The autograd Function reads its printed derivatives from this record.
    monkeypatch.setattr(nn, "_CRRELU_DERIVATIVES", nn._CRRELU_DERIVATIVES._replace(bwd=wrong))
    (entry,) = _named(_run("nn_modules"), "CRReLU")
    assert "d/depsilon" in entry and "d/dx" not in entry


def test_a_wrong_default_fails(torch, monkeypatch):
    from eafo_sym import nn

    real = nn.CRReLU.__init__
    monkeypatch.setattr(nn.CRReLU, "__init__",
                        lambda self, epsilon=0.1, inplace=False: real(self, epsilon, inplace))
    (entry,) = _named(_run("nn_modules"), "CRReLU")
    assert "defaults" in entry


def test_a_missing_module_fails(torch, monkeypatch):
    from eafo_sym import nn

    monkeypatch.delitem(nn.ACTIVATIONS, "mish")
    r = _run("nn_modules")
    assert not r.passed and "mish (missing)" in r.data["failing"]


def test_without_torch_the_torch_checks_skip(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(artefacts.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    for key in ("nn_modules", "fused"):
        r = _run(key)
        assert r.status == "SKIP" and r.note.startswith("torch is not installed")


def test_fused_kernels_that_do_not_build_skip_with_the_reason(torch, monkeypatch):
    from eafo_sym import fused

    def no_compiler(verbose=False):
        raise RuntimeError("building the fused kernels failed: c++: command not found")

    monkeypatch.setattr(fused, "load", no_compiler)
    r = _run("fused")
    assert r.status == "SKIP" and "c++: command not found" in r.note


@pytest.mark.slow
def test_a_corrupted_fused_module_fails_naming_it(torch, monkeypatch):
    from eafo_sym import fused

    if not fused.available():
        pytest.skip("the fused kernels do not build here")
    real = fused.ACTIVATIONS["gelu"].forward
    monkeypatch.setattr(fused.ACTIVATIONS["gelu"], "forward", lambda self, x: real(self, x) * 1.001)
    r = _run("fused")
    assert _named(r, "GELU") and not _named(r, "CRReLU")
    assert r.derivation.startswith("eafo_sym/csrc/fused.cpp sha256 ")


# --- printed NumPy and JAX functions -------------------------------------------------------


def _corrupt_printed(monkeypatch, name, old, new):
    from eafo_sym.codegen import registry

    real = registry.backend_source

    def corrupted(backend, names=None, command="eafo-sym codegen"):
        text = real(backend, names, command)
        head = f"def {name}(x"
        i = text.index(head)
        j = text.index("return ", i)
        return text[:j] + text[j:].replace(old, new, 1)

    monkeypatch.setattr(registry, "backend_source", corrupted)


def test_the_numpy_functions_pass_except_known_defects():
    r = _run("numpy")
    assert r.derivation.startswith("<") or r.derivation.startswith("code/activations_numpy.py")
    assert set(r.data["errors"]) == set(catalog.names())
    assert not _named(r, "crrelu") and not _named(r, "gelu")


def test_a_corrupted_numpy_function_fails_naming_it(monkeypatch):
    _corrupt_printed(monkeypatch, "gelu", "return ", "return 1.0000001*")
    r = _run("numpy")
    (entry,) = _named(r, "gelu")
    assert "value" in entry and not _named(r, "crrelu")


def test_the_numpy_check_runs_the_file_it_wrote(tmp_path):
    from eafo_sym.outputs import OutputDir

    with OutputDir.open(tmp_path, owner="eafo-sym reproduce") as out:
        r = checks.check_numpy(out)
    text = (tmp_path / "code" / "activations_numpy.py").read_text()
    import hashlib

    assert r.data["sha256"] == hashlib.sha256(text.encode()).hexdigest()[:12]


def test_jax_functions_or_a_skip(monkeypatch):
    if importlib.util.find_spec("jax") is None:
        r = _run("jax")
        assert r.status == "SKIP" and r.note.startswith("jax is not installed")
        return
    r = _run("jax")
    assert set(r.data["errors"]) == set(catalog.names()) and not _named(r, "crrelu")
    _corrupt_printed(monkeypatch, "crrelu", "return ", "return 2*")
    r = _run("jax")
    assert _named(r, "crrelu") and not _named(r, "gelu")
    real = importlib.util.find_spec
    monkeypatch.setattr(artefacts.importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real(name, *a))
    r = _run("jax")
    assert r.status == "SKIP" and r.note == "jax is not installed: the printed JAX functions need it"
