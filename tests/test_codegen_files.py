"""``write_generated`` (``eafo-sym codegen -o``): only regular files, bounded reads, no litter."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from eafo_sym.cli import main
from eafo_sym.codegen import files
from eafo_sym.codegen.files import GENERATED_MARKER, write_generated
from eafo_sym.outputs import OutputRefusedError

TEXT = GENERATED_MARKER + "\na = 1\n"


def test_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "out.py"
    os.mkfifo(fifo)
    result = {}

    def run():
        result["code"] = main(["codegen", "--backend", "numpy", "--activation", "relu",
                               "-o", str(fifo), "--force"])  # fmt: skip

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "codegen blocked on a FIFO"
    assert result["code"] == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a FIFO, not a regular file" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_device_is_refused_even_with_force():
    with pytest.raises(OutputRefusedError, match="is a character device, not a regular file"):
        write_generated("/dev/null", TEXT, force=True)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "real.py"
    target.write_text(TEXT)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    for force in (False, True):
        with pytest.raises(OutputRefusedError, match="is a symbolic link"):
            write_generated(link, GENERATED_MARKER + "\nb = 2\n", force=force)
    assert target.read_text() == TEXT and link.is_symlink()


def test_a_folder_and_an_empty_path_are_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        write_generated(tmp_path, TEXT)
    with pytest.raises(ValueError, match="must not be empty"):
        write_generated("", TEXT)


def test_a_large_foreign_file_is_read_only_as_far_as_its_first_line(tmp_path, monkeypatch):
    big = tmp_path / "big.py"
    with open(big, "wb") as fh:
        fh.truncate(4 * 2**30)  # a 4 GiB sparse file
    reads = []
    real_read = os.read
    monkeypatch.setattr(files.os, "read", lambda fd, n: (reads.append(n), real_read(fd, n))[1])
    with pytest.raises(ValueError, match="not generated"):
        write_generated(big, TEXT)
    assert sum(reads) <= len(GENERATED_MARKER) + 1
    assert big.stat().st_size == 4 * 2**30


def test_an_unchanged_file_is_read_once_and_untouched(tmp_path, monkeypatch):
    p = tmp_path / "g.py"
    assert write_generated(p, TEXT)
    mtime = p.stat().st_mtime_ns
    assert write_generated(p, TEXT) is False and p.stat().st_mtime_ns == mtime
    # A generated file of another size is replaced without reading past its first line.
    reads = []
    real_read = os.read
    monkeypatch.setattr(files.os, "read", lambda fd, n: (reads.append(n), real_read(fd, n))[1])
    assert write_generated(p, GENERATED_MARKER + "\na = 22\n")
    assert sum(reads) <= len(GENERATED_MARKER) + 1


def test_the_mode_of_a_replaced_file_is_kept(tmp_path):
    p = tmp_path / "g.py"
    p.write_text(TEXT)
    os.chmod(p, 0o640)
    assert write_generated(p, GENERATED_MARKER + "\nb = 2\n")
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


def test_the_write_is_synced_and_leaves_no_temporary(tmp_path, monkeypatch):
    from eafo_sym import outputs

    calls = []
    real = os.fsync
    monkeypatch.setattr(outputs.os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    assert write_generated(tmp_path / "g.py", TEXT)
    assert len(calls) == 2  # the file, then its folder
    assert [f.name for f in tmp_path.iterdir()] == ["g.py"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from eafo_sym import outputs

    p = tmp_path / "g.py"
    p.write_text(TEXT)

    def interrupted(fd, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_generated(p, GENERATED_MARKER + "\nb = 2\n")
    assert p.read_text() == TEXT
    assert [f.name for f in tmp_path.iterdir()] == ["g.py"]


def test_a_temporary_left_by_a_killed_run_is_swept(tmp_path):
    p = tmp_path / "g.py"
    code = textwrap.dedent(
        f"""
        import os
        from eafo_sym.codegen.files import GENERATED_MARKER, write_generated
        os.replace = lambda *a, **k: os.kill(os.getpid(), 9)
        write_generated({str(p)!r}, GENERATED_MARKER + "\\n")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == -9
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    assert write_generated(p, TEXT)
    assert [f.name for f in tmp_path.iterdir()] == ["g.py"]
