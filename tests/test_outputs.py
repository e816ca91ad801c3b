"""Safe output folders (``eafo_sym.outputs``): ours or refused, no links, atomic, no litter."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from eafo_sym import outputs
from eafo_sym.outputs import MARKER, OutputDir, OutputRefusedError, atomic_write

OWNER = "eafo-sym test"


def _open(path, **kw):
    return OutputDir.open(path, owner=OWNER, **kw)


def _tree(root):
    """Every path below ``root`` with its type and bytes (links as their text)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as fh:
                    out[rel] = ("file", fh.read())
            else:
                out[rel] = ("dir", None)
    return out


@pytest.fixture
def outside(tmp_path):
    """A file outside the output folder that links will point at; it must never change."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    return victim


def test_a_new_folder_is_created_and_marked(tmp_path):
    with _open(tmp_path / "a" / "b") as out:
        assert out.write_text("summary.md", "hello\n") == tmp_path / "a" / "b" / "summary.md"
        out.write_bytes("figures/one.png", b"\x89PNG")
        assert out.written == ["summary.md", "figures/one.png"]
    marker = json.loads((tmp_path / "a" / "b" / MARKER).read_text())
    assert marker["owner"] == OWNER and marker["format"] == 1
    assert marker["files"]["summary.md"]["size"] == 6
    assert (tmp_path / "a" / "b" / "figures" / "one.png").read_bytes() == b"\x89PNG"


def test_a_marked_folder_is_reused_and_its_files_replaced(tmp_path):
    with _open(tmp_path / "o") as out:
        out.write_text("summary.md", "one\n")
    with _open(tmp_path / "o") as out:
        out.write_text("summary.md", "two\n")
    assert (tmp_path / "o" / "summary.md").read_text() == "two\n"


def test_an_empty_folder_is_adopted(tmp_path):
    (tmp_path / "empty").mkdir()
    with _open(tmp_path / "empty") as out:
        out.write_text("x.txt", "x")
    assert (tmp_path / "empty" / MARKER).is_file()


def test_a_foreign_folder_is_refused_without_force(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    before = _tree(folder)
    with pytest.raises(OutputRefusedError, match="is not empty and was not written by eafo-sym test"):
        _open(folder)
    assert _tree(folder) == before  # nothing written, not even the marker
    with _open(folder, force=True) as out:
        out.write_text("summary.md", "s")
    assert (folder / "notes.txt").read_text() == "keep"


def test_another_jobs_folder_is_refused(tmp_path):
    with OutputDir.open(tmp_path / "o", owner="eafo-sym experiment") as out:
        out.write_text("rows.jsonl", "{}\n")
    with pytest.raises(OutputRefusedError, match="holds the output of 'eafo-sym experiment'"):
        _open(tmp_path / "o")


def test_a_bogus_marker_is_refused(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / MARKER).write_text("not json")
    with pytest.raises(OutputRefusedError, match="is not a marker written by eafo-sym"):
        _open(tmp_path / "o")


def test_a_file_changed_by_hand_is_refused_and_force_replaces_it(tmp_path):
    with _open(tmp_path / "o") as out:
        out.write_text("code/f.py", "generated\n")
    (tmp_path / "o" / "code" / "f.py").write_text("edited by hand\n")
    with _open(tmp_path / "o") as out, pytest.raises(OutputRefusedError, match="changed by hand"):
        out.write_text("code/f.py", "generated again\n")
    assert (tmp_path / "o" / "code" / "f.py").read_text() == "edited by hand\n"
    with _open(tmp_path / "o", force=True) as out:
        out.write_text("code/f.py", "generated again\n")
    assert (tmp_path / "o" / "code" / "f.py").read_text() == "generated again\n"


def test_a_file_someone_else_put_into_our_folder_is_refused(tmp_path):
    with _open(tmp_path / "o") as out:
        out.write_text("a.txt", "a")
    (tmp_path / "o" / "summary.md").write_text("hand-written summary")
    with _open(tmp_path / "o") as out, pytest.raises(OutputRefusedError):
        out.write_text("summary.md", "ours")
    assert (tmp_path / "o" / "summary.md").read_text() == "hand-written summary"


def test_a_symlinked_file_is_never_written_through(tmp_path, outside):
    with _open(tmp_path / "o") as out:
        out.write_text("a.txt", "a")
    (tmp_path / "o" / "summary.md").symlink_to(outside)
    with _open(tmp_path / "o") as out, pytest.raises(OutputRefusedError, match="symbolic link"):
        out.write_text("summary.md", "ours")
    assert outside.read_text() == "precious\n"
    with _open(tmp_path / "o", force=True) as out:  # force replaces the link itself
        out.write_text("summary.md", "ours")
    assert outside.read_text() == "precious\n"
    assert not (tmp_path / "o" / "summary.md").is_symlink()
    assert (tmp_path / "o" / "summary.md").read_text() == "ours"


def test_a_symlinked_subfolder_is_never_written_through(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with _open(tmp_path / "o") as out:
        out.write_text("a.txt", "a")
    (tmp_path / "o" / "code").symlink_to(elsewhere, target_is_directory=True)
    for force in (False, True):
        with _open(tmp_path / "o", force=force) as out, pytest.raises(
            OutputRefusedError, match="code is a symbolic link, not a folder"
        ):
            out.write_text("code/f.py", "x")
    assert list(elsewhere.iterdir()) == []


def test_a_symlinked_temporary_name_cannot_be_used(tmp_path, outside, monkeypatch):
    """O_EXCL | O_NOFOLLOW: a link planted at the temporary's name is not opened."""
    (tmp_path / "o").mkdir()
    fd = os.open(tmp_path / "o", os.O_RDONLY)
    try:
        monkeypatch.setattr(outputs.secrets, "token_hex", lambda n: "0123abcd")
        planted = tmp_path / "o" / f".f.txt.{os.getpid()}.0123abcd.tmp"
        planted.symlink_to(outside)
        with pytest.raises(FileExistsError):
            atomic_write(fd, "f.txt", b"data")
    finally:
        os.close(fd)
    assert outside.read_text() == "precious\n"


def test_special_files_are_refused_even_with_force(tmp_path):
    with _open(tmp_path / "o") as out:
        out.write_text("a.txt", "a")
    os.mkfifo(tmp_path / "o" / "summary.md")
    (tmp_path / "o" / "figures").write_text("a file where a folder should be")
    with _open(tmp_path / "o", force=True) as out:
        with pytest.raises(OutputRefusedError, match="summary.md is a FIFO, not a regular file"):
            out.write_text("summary.md", "x")
        with pytest.raises(OutputRefusedError, match="figures is a regular file, not a folder"):
            out.write_text("figures/a.png", "x")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "o" / "summary.md").st_mode)


@pytest.mark.parametrize("path", ["", "  "])
def test_an_empty_path_is_refused(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="must not be empty"):
        _open(path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rel", ["../x", "/etc/x", "a/../../x", "", "a//b", "./a", MARKER])
def test_paths_must_stay_inside_the_folder(rel, tmp_path):
    with _open(tmp_path / "o") as out, pytest.raises(ValueError):
        out.write_text(rel, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_a_file_in_the_way_of_the_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        _open(tmp_path / "f")
    with pytest.raises(OSError):
        _open(tmp_path / "f" / "sub")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder(tmp_path):
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o500)
    try:
        with pytest.raises(PermissionError, match="is not writable"):
            _open(tmp_path / "ro")
    finally:
        os.chmod(tmp_path / "ro", 0o700)


def test_writes_are_synced_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(outputs.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(
        outputs.os, "replace", lambda *a, **k: (calls.append("replace"), real_replace(*a, **k))
    )
    with _open(tmp_path / "o") as out:
        calls.clear()
        out.write_text("a.txt", "a")
    # file data, rename, the folder; then the same for the marker
    assert calls == ["fsync", "replace", "fsync"] * 2


@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_a_failed_write_leaves_no_temporary_and_the_old_file(tmp_path, monkeypatch, exc):
    with _open(tmp_path / "o") as out:
        out.write_text("a.txt", "old")
    real_write = os.write

    def failing(fd, data):
        real_write(fd, bytes(data)[:1])
        raise exc

    with _open(tmp_path / "o") as out:
        monkeypatch.setattr(outputs.os, "write", failing)
        with pytest.raises(type(exc) if isinstance(exc, BaseException) else exc):
            out.write_text("a.txt", "new")
        monkeypatch.undo()
    assert (tmp_path / "o" / "a.txt").read_text() == "old"
    assert not [p for p in os.listdir(tmp_path / "o") if p.endswith(".tmp")]


def test_temporaries_of_a_killed_process_are_swept(tmp_path):
    folder = tmp_path / "o"
    with _open(folder) as out:
        out.write_text("code/f.py", "x")
    code = textwrap.dedent(
        f"""
        import os
        from eafo_sym.outputs import atomic_write
        fd = os.open({str(folder / "code")!r}, os.O_RDONLY)
        real = os.replace
        os.replace = lambda *a, **k: os.kill(os.getpid(), 9)  # die between write and rename
        atomic_write(fd, "f.py", b"half")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == -9
    left = [p for p in os.listdir(folder / "code") if p.endswith(".tmp")]
    assert len(left) == 1  # kill -9 runs no cleanup ...
    with _open(folder) as out:
        out.write_text("code/f.py", "y")
    assert not [p for p in os.listdir(folder / "code") if p.endswith(".tmp")]  # ... the next run does
    assert (folder / "code" / "f.py").read_text() == "y"


def test_discard_temporaries_removes_the_live_ones(tmp_path, monkeypatch):
    folder = tmp_path / "o"
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY)
    seen = []

    def at_write(f, data):
        outputs.discard_temporaries()  # what the CLI's watchdog does before exiting
        seen.append(sorted(os.listdir(folder)))
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.os, "write", at_write)
    try:
        with pytest.raises(KeyboardInterrupt):
            atomic_write(fd, "f.txt", b"x")
    finally:
        os.close(fd)
    assert seen == [[]]
    assert outputs._live == {}


def test_file_kind_names_every_type():
    assert outputs.file_kind(stat.S_IFSOCK) == "a socket"
    assert outputs.file_kind(stat.S_IFBLK) == "a block device"
    assert outputs.file_kind(stat.S_IFLNK) == "a symbolic link"
    assert outputs.file_kind(stat.S_IFDIR) == "a directory"
