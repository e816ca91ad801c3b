"""Writing results into an output folder: only ours, never through a link, atomically.

The jobs (``eafo-sym reproduce``, ``eafo-sym experiment``) write their results
into a folder the user names. :class:`OutputDir` makes that safe:

* **Ours or refused.** The folder is one we create, an empty one, or one that
  carries our marker file :data:`MARKER` (written by the same command).
  Anything else is refused unless ``force``. The marker lists every file we
  wrote with its size and SHA-256, so a file changed by hand since (or
  put there by someone else) is refused too, unless ``force``.
* **No links, no special files.** Every path below the folder is opened
  relative to the folder's descriptor with ``O_NOFOLLOW``: a symbolic link
  planted at ``summary.md`` or ``code/`` is refused (``force`` replaces the
  link itself, never what it points to), and a FIFO, a device or a folder
  where a file should be is always refused.
* **Atomic and durable.** :func:`atomic_write` writes a new temporary file
  (``O_CREAT | O_EXCL | O_NOFOLLOW``), flushes it to disk (``fsync``),
  renames it over the target and syncs the folder, so a reader sees the old
  file or the new one, never half of one.
* **No litter.** A temporary is removed on any exception, Ctrl-C included; the
  command line removes the live ones before a forced exit
  (:func:`discard_temporaries`); and temporaries left by a process that was
  killed (``kill -9``) are swept the next time the folder is opened.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with OutputDir.open(root / "out", owner="eafo-sym reproduce") as out:
...     _ = out.write_text("summary.md", "# hi\\n")
...     _ = out.write_text("code/f.py", "x = 1\\n")
>>> sorted(p.name for p in (root / "out").iterdir())
['.eafo-sym-output.json', 'code', 'summary.md']
>>> (root / "mine").mkdir(); _ = (root / "mine" / "notes.txt").write_text("keep")
>>> OutputDir.open(root / "mine", owner="eafo-sym reproduce")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
eafo_sym.outputs.OutputRefusedError: .../mine is not empty and was not written by eafo-sym ...
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from types import TracebackType

__all__ = [
    "MARKER",
    "OutputDir",
    "OutputRefusedError",
    "atomic_write",
    "discard_temporaries",
    "file_kind",
    "sweep_temporaries",
]

#: Marker file of a folder that a job of this package wrote (JSON: owner and files).
MARKER = ".eafo-sym-output.json"

_FORMAT = 1
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

# Temporaries being written now, by (directory descriptor, name): removed on a forced exit.
_live: dict[int, tuple[int, str]] = {}
_live_lock = threading.Lock()
_tokens = itertools.count()


class OutputRefusedError(OSError):
    """Writing there would overwrite something that is not ours, or go through a link."""


def file_kind(mode: int) -> str:
    """A file type in words, for messages.

    >>> file_kind(stat.S_IFIFO), file_kind(stat.S_IFCHR), file_kind(stat.S_IFREG)
    ('a FIFO', 'a character device', 'a regular file')
    """
    for test, words in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return words
    return "a special file"


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _fsync_dir(dir_fd: int) -> None:
    try:
        os.fsync(dir_fd)
    except OSError as exc:  # some file systems cannot sync a directory; the data is synced
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's live process
        return True
    return True


def sweep_temporaries(dir_fd: int, name: str | None = None) -> list[str]:
    """Remove temporaries of :func:`atomic_write` whose process is gone; return their names.

    Args:
        dir_fd: The folder, as an open descriptor.
        name: Only temporaries of this target file (None: all of them).
    """
    removed = []
    for entry in os.listdir(dir_fd):
        m = _TMP.match(entry)
        if m is None or (name is not None and m["name"] != name):
            continue
        if _pid_alive(int(m["pid"])):
            continue
        st = _lstat(entry, dir_fd)
        if st is not None and stat.S_ISREG(st.st_mode):
            try:
                os.unlink(entry, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed


def discard_temporaries() -> None:
    """Remove every temporary this process is writing now (before a forced exit)."""
    with _live_lock:
        pending = list(_live.values())
        _live.clear()
    for dir_fd, tmp in pending:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)


def atomic_write(dir_fd: int, name: str, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``name`` in the folder ``dir_fd`` by ``data``, atomically and durably.

    The bytes go to a new temporary ``.NAME.PID.RANDOM.tmp`` in the same
    folder (created with ``O_EXCL | O_NOFOLLOW``, so it is never an existing
    file or a link), are synced to disk, and the temporary is renamed over
    ``name``; then the folder itself is synced. The caller decides beforehand
    whether ``name`` may be replaced; the rename replaces a link itself, never
    its target.

    Args:
        dir_fd: The folder, as an open descriptor.
        name: A plain file name (no ``/``).
        data: The new contents.
        mode: Permission bits (default: ``0o666`` less the umask).

    Raises:
        OSError: The temporary cannot be created or written, or the rename fails.
    """
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a plain file name: {name!r}")
    tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    fd = os.open(tmp, flags, 0o666 if mode is None else mode, dir_fd=dir_fd)
    token = next(_tokens)
    with _live_lock:
        _live[token] = (dir_fd, tmp)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if mode is not None:
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    finally:
        with _live_lock:
            _live.pop(token, None)
    _fsync_dir(dir_fd)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_regular(name: str, dir_fd: int, limit: int) -> bytes | None:
    """The bytes of a regular file, if it has at most ``limit`` bytes (None otherwise)."""
    fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, left = [], st.st_size + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return data if len(data) <= limit else None
    finally:
        os.close(fd)


class OutputDir:
    """An output folder of one job, opened safely (see the module docstring).

    Use :meth:`open`; write with :meth:`write_bytes` / :meth:`write_text`;
    :meth:`close` (or a ``with`` block) releases the folder.

    Attributes:
        path: The folder as given.
        owner: Who writes here (``"eafo-sym reproduce"``); recorded in the marker.
        force: Whether foreign files and links may be replaced.
        written: Paths (relative, ``/``-separated) written through this object.
    """

    def __init__(self, path: Path, fd: int, owner: str, force: bool, files: dict):
        self.path = path
        self.owner = owner
        self.force = force
        self.written: list[str] = []
        self._fd = fd
        self._files: dict[str, dict] = files
        self._subdirs: dict[str, int] = {}

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike, *, owner: str, force: bool = False) -> OutputDir:
        """Create or adopt the output folder ``path`` for ``owner``.

        Args:
            path: The folder (created with its parents if missing). The path
                itself may be a link to a folder: the user named it.
            owner: The job, as the user would call it (``"eafo-sym reproduce"``).
            force: Adopt a foreign folder, and later replace foreign files and links.

        Raises:
            ValueError: ``path`` is empty.
            OutputRefusedError: The folder holds files and is not ours (no
                marker, or another job's), and ``force`` is False.
            OSError: The folder cannot be created, opened or written (a file
                is in the way, no permission).
        """
        text = os.fspath(path)
        if not str(text).strip():
            raise ValueError("the output folder must not be empty ('' would be the current folder)")
        p = Path(text)
        if p.exists() and not p.is_dir():
            raise NotADirectoryError(f"{p} exists and is not a directory")
        p.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            files = cls._adopt(p, fd, owner, force)
            out = cls(p, fd, owner, force, files)
            sweep_temporaries(fd)
            try:
                out._write_marker()  # also proves the folder writable before any work starts
            except PermissionError as exc:
                raise PermissionError(f"{p} is not writable: {exc.strerror}") from None
        except BaseException:
            os.close(fd)
            raise
        return out

    @staticmethod
    def _adopt(p: Path, fd: int, owner: str, force: bool) -> dict:
        """The file table of the marker, after deciding whether the folder may be used."""
        st = _lstat(MARKER, fd)
        if st is not None:
            data = None
            if stat.S_ISREG(st.st_mode):
                data = _read_regular(MARKER, fd, 1 << 24)
            try:
                marker = json.loads(data) if data is not None else None
            except ValueError:
                marker = None
            if (
                isinstance(marker, dict)
                and marker.get("format") == _FORMAT
                and isinstance(marker.get("files"), dict)
            ):
                if marker.get("owner") == owner:
                    return dict(marker["files"])
                if not force:
                    raise OutputRefusedError(
                        f"{p} holds the output of {marker.get('owner')!r}, not of {owner}; "
                        "choose another folder or pass --force"
                    )
                return {}
            if not force:
                raise OutputRefusedError(
                    f"{p}/{MARKER} is not a marker written by eafo-sym ({file_kind(st.st_mode)} "
                    "with other contents); choose another folder or pass --force"
                )
            return {}
        entries = [e for e in os.listdir(fd) if not _TMP.match(e)]
        if entries and not force:
            raise OutputRefusedError(
                f"{p} is not empty and was not written by {owner} (no {MARKER} in it); "
                "choose another folder or pass --force"
            )
        return {}

    # -- writing ---------------------------------------------------------------------

    def _parts(self, relpath: str) -> list[str]:
        parts = relpath.split("/")
        if not relpath or any(p in ("", ".", "..") for p in parts) or relpath.startswith("/"):
            raise ValueError(f"not a relative path inside the output folder: {relpath!r}")
        if parts[-1] == MARKER:
            raise ValueError(f"{MARKER} is written by OutputDir itself")
        return parts

    def _folder(self, parts: list[str]) -> int:
        """The descriptor of the sub-folder ``parts`` (created if missing, never a link)."""
        fd = self._fd
        for i, part in enumerate(parts):
            key = "/".join(parts[: i + 1])
            if key in self._subdirs:
                fd = self._subdirs[key]
                continue
            st = _lstat(part, fd)
            if st is None:
                os.mkdir(part, 0o777, dir_fd=fd)
            elif not stat.S_ISDIR(st.st_mode):
                raise OutputRefusedError(
                    f"{self.path}/{key} is {file_kind(st.st_mode)}, not a folder; "
                    "refusing to write through it"
                )
            fd = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            self._subdirs[key] = fd
            sweep_temporaries(fd)
        return fd

    def _may_replace(self, relpath: str, name: str, dir_fd: int) -> None:
        st = _lstat(name, dir_fd)
        if st is None:
            return
        where = f"{self.path}/{relpath}"
        if stat.S_ISLNK(st.st_mode):
            if self.force:
                return  # the rename replaces the link itself, not its target
            raise OutputRefusedError(
                f"{where} is a symbolic link; refusing to write through it (--force replaces "
                "the link itself)"
            )
        if not stat.S_ISREG(st.st_mode):
            raise OutputRefusedError(
                f"{where} is {file_kind(st.st_mode)}, not a regular file; refusing to replace it"
            )
        if self.force:
            return
        known = self._files.get(relpath)
        if isinstance(known, dict) and known.get("size") == st.st_size:
            data = _read_regular(name, dir_fd, int(st.st_size))
            if data is not None and _digest(data) == known.get("sha256"):
                return
        raise OutputRefusedError(
            f"{where} was not written by {self.owner} (changed by hand, or someone else's); "
            "move it away or pass --force to overwrite it"
        )

    def write_bytes(self, relpath: str, data: bytes) -> Path:
        """Write ``data`` to ``relpath`` (``/``-separated, below the folder); return its path.

        Raises:
            OutputRefusedError: The target, or a folder on the way, is a link,
                not a regular file, or a file this job did not write (without
                ``force``).
            ValueError: ``relpath`` leaves the folder or names the marker.
        """
        parts = self._parts(relpath)
        dir_fd = self._folder(parts[:-1])
        self._may_replace(relpath, parts[-1], dir_fd)
        atomic_write(dir_fd, parts[-1], data)
        self._files[relpath] = {"size": len(data), "sha256": _digest(data)}
        if relpath not in self.written:
            self.written.append(relpath)
        self._write_marker()
        return self.path / relpath

    def write_text(self, relpath: str, text: str) -> Path:
        """:meth:`write_bytes` of ``text`` in UTF-8 with ``\\n`` line ends."""
        return self.write_bytes(relpath, text.encode("utf-8"))

    def _write_marker(self) -> None:
        st = _lstat(MARKER, self._fd)
        if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            raise OutputRefusedError(
                f"{self.path}/{MARKER} is {file_kind(st.st_mode)}; refusing to replace it"
            )
        body = {"format": _FORMAT, "owner": self.owner, "files": self._files}
        atomic_write(self._fd, MARKER, (json.dumps(body, indent=1, sort_keys=True) + "\n").encode())

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Release the folder's descriptors (idempotent)."""
        for fd in self._subdirs.values():
            os.close(fd)
        self._subdirs.clear()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.written)

    def __repr__(self) -> str:
        return f"OutputDir({str(self.path)!r}, owner={self.owner!r})"
