"""``eafo-sym codegen``: outputs, idempotence, refusal to clobber, errors as exit 2."""

from __future__ import annotations

import importlib.util
import os
import stat

import numpy as np
import pytest

from eafo_sym.cli import main
from eafo_sym.codegen import GENERATED_MARKER, write_generated


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_numpy_backend_file_runs_and_is_idempotent(tmp_path, capsys):
    out = tmp_path / "acts_np.py"
    argv = ["codegen", "--backend", "numpy", "--activation", "crrelu", "relu", "-o", str(out)]
    assert main(argv) == 0
    text = out.read_text()
    assert text.startswith(GENERATED_MARKER)
    assert "eafo-sym codegen --backend numpy -o" in text and "do not edit" in text
    mtime = out.stat().st_mtime_ns
    assert main(argv) == 0
    assert out.read_text() == text and out.stat().st_mtime_ns == mtime  # untouched
    assert "unchanged" in capsys.readouterr().err
    mod = _load(out)
    y = mod.crrelu(np.array([-np.inf, 1.0, np.inf]))
    assert y[0] == 0 and y[2] == np.inf
    assert sorted(mod.ACTIVATIONS) == ["crrelu", "relu"]


def test_torch_backend_to_file(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "acts.py"
    assert main(["codegen", "--activation", "crrelu", "-o", str(out)]) == 0
    mod = _load(out)
    assert list(mod.ACTIVATIONS) == ["crrelu"]
    assert mod.get_act_layer("crrelu")().epsilon.item() == pytest.approx(0.01)
    imports = {ln.split()[1] for ln in out.read_text().splitlines() if ln.startswith("import ")}
    assert imports == {"math", "torch"}


def test_stdout(capsys):
    assert main(["codegen", "--backend", "jax", "--activation", "gelu", "-o", "-"]) == 0
    assert "jax.scipy.special.erfc" in capsys.readouterr().out


def test_refuses_hand_written_file_unless_forced(tmp_path, capsys):
    out = tmp_path / "mine.py"
    out.write_text("print('hand written')\n")
    argv = ["codegen", "--backend", "numpy", "--activation", "relu", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "not generated" in err
    assert out.read_text() == "print('hand written')\n"
    assert main([*argv, "--force"]) == 0
    assert out.read_text().startswith(GENERATED_MARKER)


def test_unknown_activation_is_exit_2(capsys):
    assert main(["codegen", "--activation", "nope", "-o", "-"]) == 2
    assert "unknown activation" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_is_exit_2(tmp_path, capsys):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert main(["codegen", "--backend", "numpy", "-o", str(d / "x.py")]) == 2
    finally:
        d.chmod(stat.S_IRWXU)
    assert capsys.readouterr().err.count("\n") == 1


def test_missing_directory_is_exit_2(tmp_path, capsys):
    assert main(["codegen", "--backend", "numpy", "-o", str(tmp_path / "no" / "x.py")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_atomic_write_leaves_no_temp_files(tmp_path):
    p = tmp_path / "g.py"
    assert write_generated(p, GENERATED_MARKER + "\na = 1\n")
    assert write_generated(p, GENERATED_MARKER + "\na = 2\n")
    assert [f.name for f in tmp_path.iterdir()] == ["g.py"]
    with pytest.raises(ValueError, match="marker"):
        write_generated(p, "a = 3\n")
