"""Building the fused kernels (``eafo_sym.fused.build``): announced, locked, cached, never fatal.

The build machinery is exercised on a one-function C++ file (it compiles in about a second),
so that stale locks, missing compilers, unwritable directories and compiler errors can each
be staged without rebuilding the kernels; the real kernels' failure path (warn once, fall
back to the torch code for the rest of the process) runs in a fresh process with no compiler.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from eafo_sym.fused import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = "int eafo_sym_build_test_function() { return 1; }\n"
needs_compiler = pytest.mark.skipif(
    shutil.which(os.environ.get("CXX", "c++")) is None, reason="no C++ compiler here"
)


@pytest.fixture
def tiny(tmp_path):
    src = tmp_path / "tiny.cpp"
    src.write_text(TINY)
    return src, tmp_path / "build"


def _lines(text):
    return [ln for ln in text.splitlines() if ln.strip()]


@needs_compiler
def test_a_build_says_when_it_starts_and_ends_and_is_not_repeated(tiny, capfd):
    src, directory = tiny
    lib = build.build(src, directory, "tiny_a")
    err = _lines(capfd.readouterr().err)
    assert len(err) == 2, err
    assert err[0].startswith("eafo_sym.fused: building") and str(directory) in err[0]
    assert err[1].startswith("eafo_sym.fused: built in ") and err[1].endswith(" s")
    assert lib == directory / "tiny_a.so" and lib.is_file()
    assert build.build(src, directory, "tiny_a") == lib  # finished: no compiler, no output
    assert capfd.readouterr().err == ""


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _stage_killed_build(directory: Path, pid: int, age: float = 5.0) -> Path:
    """What a build killed with -9 leaves: torch's lock file and our record of the builder."""
    directory.mkdir(parents=True)
    baton = directory / "lock"
    baton.write_text("")
    then = time.time() - age
    os.utime(baton, (then, then))
    (directory / "eafo_sym.lock").write_text(f"{pid} {socket.gethostname()} {then:.0f}\n")
    return baton


@needs_compiler
def test_the_lock_of_a_killed_build_is_removed_with_a_message(tiny):
    src, directory = tiny
    baton = _stage_killed_build(directory, _dead_pid())
    # In a fresh process with a time limit: a lock left in place makes torch wait forever.
    code = (
        "import sys; from pathlib import Path; from eafo_sym.fused import build\n"
        f"print(build.build(Path({str(src)!r}), Path({str(directory)!r}), 'tiny_b'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert f"removed the stale build lock {baton}" in out.stderr
    assert not baton.exists() and Path(out.stdout.strip()).is_file()


def test_without_flock_a_lock_is_stale_when_too_old_or_its_owner_is_gone(tmp_path, capfd):
    young_live = _stage_killed_build(tmp_path / "a", os.getpid())
    build._remove_stale_baton(tmp_path / "a", locked=False)
    assert young_live.exists()  # a live build: torch's builder waits for it
    old = _stage_killed_build(tmp_path / "b", os.getpid(), age=build.MAX_BUILD_SECONDS + 60)
    build._remove_stale_baton(tmp_path / "b", locked=False)
    assert not old.exists()
    dead = _stage_killed_build(tmp_path / "c", _dead_pid())
    build._remove_stale_baton(tmp_path / "c", locked=False)
    assert not dead.exists()
    err = _lines(capfd.readouterr().err)
    assert [ln.split(" (")[0] for ln in err] == [
        f"eafo_sym.fused: removed the stale build lock {p}" for p in (old, dead)
    ]
    assert all(ln.endswith(" s old) of a build that did not finish") for ln in err)


@needs_compiler
def test_a_live_build_is_waited_for_and_given_up_on_after_the_limit(tiny, monkeypatch, capfd):
    src, directory = tiny
    directory.mkdir()
    path = directory / "eafo_sym.lock"
    path.write_text(f"4242 otherhost {time.time():.0f}\n")
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: conflicts like another process
    monkeypatch.setattr(build, "MAX_BUILD_SECONDS", 0.5)
    try:
        with pytest.raises(build.BuildError, match="has been held for over 0.5 s"):
            build.build(src, directory, "tiny_c")
    finally:
        os.close(fd)
    assert _lines(capfd.readouterr().err) == [
        f"eafo_sym.fused: waiting for process 4242 on otherhost, which is building the kernels "
        f"in {directory}"
    ]


def test_a_missing_compiler_is_one_line(tiny, monkeypatch):
    src, directory = tiny
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(build.BuildError) as err:
        build.build(src, directory, "tiny_d")
    assert str(err.value) == (
        "no C++ compiler: '/nonexistent/c++' ($CXX) is not on PATH; install g++ or clang++, "
        "or set CXX"
    )
    monkeypatch.delenv("CXX")
    monkeypatch.setenv("PATH", str(directory.parent))  # no c++ there
    with pytest.raises(build.BuildError, match=r"^no C\+\+ compiler: 'c\+\+' \(the default"):
        build.build(src, directory, "tiny_d")
    assert not directory.exists()  # nothing was attempted


@needs_compiler
def test_a_directory_that_cannot_be_written_is_one_line(tiny, monkeypatch):
    src, directory = tiny
    parent = directory.parent / "read-only"
    parent.mkdir()
    parent.chmod(0o500)
    probe = parent / "probe"
    try:
        probe.mkdir()  # the superuser writes anyway: stage the read-only filesystem instead
        probe.rmdir()

        def refuse(self, *args, **kwargs):
            raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(self))

        monkeypatch.setattr(Path, "mkdir", refuse)
    except PermissionError:
        pass
    target = parent / "build"
    try:
        with pytest.raises(build.BuildError) as err:
            build.build(src, target, "tiny_e")
    finally:
        parent.chmod(0o700)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"cannot write the build directory {target}")
    assert ("Permission denied" in msg or "Read-only file system" in msg) and "TORCH_EXTENSIONS_DIR" in msg


@needs_compiler
def test_a_compiler_error_is_one_line_and_the_output_is_kept(tiny):
    src, directory = tiny
    src.write_text("int broken( { return 1; }\n")
    with pytest.raises(build.BuildError) as err:
        build.build(src, directory, "tiny_f")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("building the fused kernels failed: ")
    assert "error:" in msg and msg.endswith(f"the compiler's output is in {directory / 'build.log'}")
    assert "tiny.cpp" in (directory / "build.log").read_text()
    assert not (directory / "eafo_sym.built").exists()


def test_each_environment_has_its_own_build_directory(monkeypatch):
    here = build.build_directory("x")
    assert here.name == f"x_{build.environment_key()}"
    monkeypatch.setattr(sys, "prefix", "/some/other/venv")
    assert build.build_directory("x") != here
    monkeypatch.undo()
    monkeypatch.setattr(torch, "__version__", "2.13.0+other")
    assert build.build_directory("x") != here
    monkeypatch.undo()
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", "/elsewhere")
    assert build.build_directory("x") == Path("/elsewhere") / here.name


_FALLBACK = r"""
import math, torch, eafo_sym.fused as fused, eafo_sym.nn as gen
torch.manual_seed(0)
for name in ("crrelu", "gelu", "eafo_prelu"):
    for _ in range(2):
        x0 = torch.randn(100) * 3
        xa, xb = x0.clone().requires_grad_(), x0.clone().requires_grad_()
        ya, yb = fused.ACTIVATIONS[name]()(xa), gen.ACTIVATIONS[name]()(xb)
        ya.sum().backward(); yb.sum().backward()
        assert torch.equal(ya, yb) and torch.equal(xa.grad, xb.grad)
compiled = torch.compile(fused.CRReLU(), fullgraph=True, backend="aot_eager")
torch.testing.assert_close(compiled(x0), gen.CRReLU()(x0))
assert not fused.available()
try:
    fused.load()
except fused.BuildError as err:
    print(err)
"""


def test_a_failed_build_warns_once_and_the_torch_code_runs(tmp_path):
    env = dict(os.environ, CXX="/nonexistent/c++", TORCH_EXTENSIONS_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _FALLBACK], capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    cause = "no C++ compiler: '/nonexistent/c++' ($CXX) is not on PATH; install g++ or clang++, or set CXX"
    assert _lines(out.stderr) == [
        "eafo_sym.fused: the fused kernels are unavailable, running the printed torch code of "
        f"eafo_sym.nn instead: {cause}"
    ]
    assert out.stdout.strip() == cause  # load() raises the same cause, without retrying
    assert list(tmp_path.iterdir()) == []


def test_python_m_eafo_sym_fused(tmp_path):
    env = dict(os.environ, CXX="/nonexistent/c++", TORCH_EXTENSIONS_DIR=str(tmp_path))
    argv = [sys.executable, "-m", "eafo_sym.fused"]
    where = subprocess.run([*argv, "--where"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert where.returncode == 0 and where.stderr == ""
    assert Path(where.stdout.strip()).parent == tmp_path
    failed = subprocess.run([*argv, "--build"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert failed.returncode == 1 and failed.stdout == ""
    assert _lines(failed.stderr) == ["eafo_sym.fused: no C++ compiler: '/nonexistent/c++' ($CXX) "
                                     "is not on PATH; install g++ or clang++, or set CXX"]
    usage = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    assert usage.returncode == 2 and "--build" in usage.stderr


@needs_compiler
def test_python_m_eafo_sym_fused_build_then_loading_is_silent():
    argv = [sys.executable, "-m", "eafo_sym.fused", "--build"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("eafo_sym.fused: the kernels are ready in ")
    again = subprocess.run(
        [sys.executable, "-c", "import eafo_sym.fused as f; f.load(); print(f.CRReLU()(__import__('torch').ones(2)))"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert again.returncode == 0 and again.stderr == "", again.stderr
