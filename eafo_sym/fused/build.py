"""Building the fused kernels: once per environment, announced, locked, and never fatal.

The generated source ``eafo_sym/csrc/fused.cpp`` is compiled with
``torch.utils.cpp_extension`` (a C++ compiler and ninja) into a library of torch operators.

- **One build per environment.** The build directory is keyed by the source's digest, the
  CPU capability torch runs with, and :func:`environment_key` (the torch build, the
  interpreter and its prefix, the compiler): two virtual environments sharing
  ``~/.cache/torch_extensions`` (or ``$TORCH_EXTENSIONS_DIR``) build side by side instead
  of rebuilding each other's kernels. A finished build leaves a marker next to the library,
  and later processes load it without calling the compiler or ninja.
- **Announced.** A build prints one line on stderr when it starts and one with its time when it
  ends (about a minute on two cores); loading a finished build prints nothing.
- **Locked, and stale locks removed.** Builders of one directory take an exclusive ``flock``
  on ``eafo_sym.lock`` there (the kernel releases it when its holder dies), which records the
  holder's pid, host and start time. Holding it, a leftover ``lock`` of torch's builder
  belongs to a build that did not finish (a process killed with -9) and is removed, with a
  message; where ``flock`` is unavailable, such a lock is removed once it is older than
  :data:`MAX_BUILD_SECONDS` or its recorded owner on this host is gone. A process waiting for
  another's build says so, and gives up after :data:`MAX_BUILD_SECONDS`.
- **Never fatal.** Everything that can go wrong (no compiler, no ninja, a directory that
  cannot be written, a compiler error) raises :class:`BuildError`, whose message is one line
  naming the cause; the compiler's full output goes to ``build.log`` in the build directory.

>>> environment_key() == environment_key() and len(environment_key()) == 16
True
>>> build_directory().name.startswith("eafo_sym_fused_")
True
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import platform
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from ..codegen.files import source_digest

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MAX_BUILD_SECONDS",
    "SOURCE_PATH",
    "BuildError",
    "build",
    "build_directory",
    "environment_key",
    "library_name",
    "load_library",
]

#: The generated C++ source (``eafo-sym codegen --backend cpp`` writes it).
SOURCE_PATH = Path(__file__).resolve().parent.parent / "csrc" / "fused.cpp"

#: Longer than any build takes (about a minute on two cores): a build lock held longer than
#: this is given up on, and torch's lock file, where it cannot be checked otherwise, is stale.
MAX_BUILD_SECONDS = 1200

_LOCK = "eafo_sym.lock"  # ours: flock'ed by the builder, records who builds
_BATON = "lock"  # torch.utils.cpp_extension's: exists while its builder runs
_DONE = "eafo_sym.built"  # written last: the library next to it is complete
_LOG = "build.log"
_LIB_EXT = ".pyd" if sys.platform == "win32" else ".so"

# SIMD flags per ATen CPU capability: the kernels must use the same
# at::vec::Vectorized specialisation (AVX2 or AVX-512) as the running torch.
_CAPABILITY_FLAGS = {
    "AVX512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma",
               "-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512"],
    "AVX2": ["-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
}

class BuildError(RuntimeError):
    """The fused kernels cannot be built or loaded here; the message is one line with the cause."""


def _say(message: str) -> None:
    """One line on stderr: the build's progress, which the user asked for by using the kernels."""
    print(f"eafo_sym.fused: {message}", file=sys.stderr, flush=True)


def _compiler() -> str:
    return os.environ.get("CXX", "c++")


def environment_key() -> str:
    """What a build depends on besides its source: torch's build, the interpreter, the compiler.

    Returns:
        16 hex digits of a digest of torch's version and git revision, its C++ ABI, the
        Python version, the interpreter's prefix (one per virtual environment), the machine
        and the compiler command.
    """
    parts = [
        torch.__version__,
        str(getattr(torch.version, "git_version", "")),
        str(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", "")),
        sys.version,
        os.path.realpath(sys.prefix),
        platform.machine(),
        _compiler(),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _flags() -> tuple[str, list[str], list[str]]:
    """(capability, compile flags, link flags) for this machine's torch."""
    cap = torch.backends.cpu.get_cpu_capability()
    flags = ["-O3", *_CAPABILITY_FLAGS.get(cap, [])]
    ldflags: list[str] = []
    # at::parallel_for splits work only when the kernels are compiled with OpenMP,
    # the backend torch itself uses here (its libgomp is already loaded).
    if "OpenMP" in torch.__config__.parallel_info() and sys.platform.startswith("linux"):
        flags.append("-fopenmp")
        ldflags.append("-fopenmp")
    return cap, flags, ldflags


def library_name(source: str | None = None) -> str:
    """``eafo_sym_fused_<capability>_<digest of the source>``: the library's file name stem."""
    text = SOURCE_PATH.read_text(encoding="utf-8") if source is None else source
    return f"eafo_sym_fused_{_flags()[0].lower()}_{source_digest(text)}"


def build_directory(name: str | None = None) -> Path:
    """Where the library ``name`` (default :func:`library_name`) is built for this environment.

    ``$TORCH_EXTENSIONS_DIR`` if set, else torch's default root (``~/.cache/torch_extensions``),
    then ``<name>_<environment key>``.
    """
    from torch.utils.cpp_extension import get_default_build_root

    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    return Path(root) / f"{name or library_name()}_{environment_key()}"


def _check_toolchain() -> None:
    """A compiler on PATH and ninja (put on PATH from its wheel), or a BuildError saying which."""
    cxx = _compiler()
    if shutil.which(cxx) is None:
        origin = "$CXX" if "CXX" in os.environ else "the default compiler"
        raise BuildError(
            f"no C++ compiler: {cxx!r} ({origin}) is not on PATH; install g++ or clang++, "
            "or set CXX"
        )
    if shutil.which("ninja"):
        return
    try:
        import ninja  # the PyPI wheel; its binary may be off PATH outside an activated venv
    except ImportError:
        raise BuildError("ninja is missing: pip install ninja") from None
    os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")


def _first_error(text: str) -> str:
    """The line of a compiler's output that says what went wrong (else its last line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error:" in ln:
            return ln[:300]
    return lines[-1][:300] if lines else "no output"


def _owner(path: Path) -> tuple[int, str, float] | None:
    """(pid, host, start time) recorded in our lock file, if readable."""
    try:
        pid, host, started = path.read_text(encoding="utf-8").split()
        return int(pid), host, float(started)
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[bool]:
    """Hold the directory's build lock; yields whether it is an flock (else only recorded)."""
    path = directory / _LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    locked = False
    try:
        if fcntl is not None:
            locked = _wait_for_lock(fd, path)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n".encode())
        yield locked
    finally:
        if locked:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _wait_for_lock(fd: int, path: Path) -> bool:
    """flock ``fd``, saying once whom we wait for; False where the filesystem has no flock."""
    waited = None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        except OSError as err:
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                return False
            raise
        now = time.monotonic()
        if waited is None:
            waited = now
            owner = _owner(path)
            who = f"process {owner[0]} on {owner[1]}" if owner else "another process"
            _say(f"waiting for {who}, which is building the kernels in {path.parent}")
        elif now - waited > MAX_BUILD_SECONDS:
            raise BuildError(
                f"the build lock {path} has been held for over {MAX_BUILD_SECONDS} s, longer "
                "than a build takes; delete it if no process is building there"
            )
        time.sleep(0.25)


def _remove_stale_baton(directory: Path, locked: bool) -> None:
    """Remove torch's lock file left by a build that did not finish (see the module docstring)."""
    baton = directory / _BATON
    try:
        age = time.time() - baton.stat().st_mtime
    except FileNotFoundError:
        return
    owner = _owner(directory / _LOCK)
    gone = owner is not None and owner[1] == socket.gethostname() and not _alive(owner[0])
    if not (locked or gone or age > MAX_BUILD_SECONDS):
        return  # a live build elsewhere: torch's builder waits for it
    baton.unlink(missing_ok=True)
    _say(f"removed the stale build lock {baton} ({age:.0f} s old) of a build that did not finish")


def _done(directory: Path, name: str) -> Path | None:
    lib = directory / f"{name}{_LIB_EXT}"
    return lib if lib.is_file() and (directory / _DONE).is_file() else None


def build(
    source: Path, directory: Path, name: str, *, verbose: bool = False, what: str = "kernels"
) -> Path:
    """Compile ``source`` into ``directory/<name>.so``, unless a finished build is there.

    Args:
        source: The C++ file (a library of torch operators: no Python module).
        directory: The build directory (created).
        name: The library's file name stem.
        verbose: Show the compiler's output.
        what: What is built, for the start message.

    Returns:
        The library's path (not loaded).

    Raises:
        BuildError: With the cause in one line.
    """
    lib = _done(directory, name)
    if lib is not None:
        return lib
    _check_toolchain()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _build_lock(directory) as locked:
            lib = _done(directory, name)  # built by the process we waited for
            if lib is not None:
                return lib
            _remove_stale_baton(directory, locked)
            (directory / _DONE).unlink(missing_ok=True)
            return _compile(source, directory, name, verbose, what)
    except OSError as err:
        target = err.filename or directory
        raise BuildError(
            f"cannot write the build directory {directory} ({target}: "
            f"{err.strerror or err}); set TORCH_EXTENSIONS_DIR to a writable directory"
        ) from None


def _compile(source: Path, directory: Path, name: str, verbose: bool, what: str) -> Path:
    from torch.utils.cpp_extension import load

    _, flags, ldflags = _flags()
    _say(f"building the fused CPU {what} (once per environment; about a minute) in {directory}")
    start = time.monotonic()
    try:
        load(
            name=name,
            sources=[str(source)],
            extra_cflags=flags,
            extra_ldflags=ldflags,
            build_directory=str(directory),
            verbose=verbose,
            is_python_module=False,
        )
    except Exception as err:  # the toolchain's own message: kept whole in build.log
        text = str(err)
        log = directory / _LOG
        try:
            log.write_text(text + "\n", encoding="utf-8")
            where = f"; the compiler's output is in {log}"
        except OSError:
            where = ""
        raise BuildError(f"building the fused {what} failed: {_first_error(text)}{where}") from None
    (directory / _DONE).write_text(f"{name}\n", encoding="utf-8")
    _say(f"built in {time.monotonic() - start:.0f} s")
    return directory / f"{name}{_LIB_EXT}"


def load_library(verbose: bool = False) -> Path:
    """Build (if needed) and load the fused kernels' library into torch; its path.

    Raises:
        BuildError: With the cause in one line.
    """
    if not SOURCE_PATH.is_file():
        raise BuildError(
            f"the kernel source {SOURCE_PATH} is missing; regenerate it with "
            "`eafo-sym codegen --backend cpp`"
        )
    name = library_name()
    directory = build_directory(name)
    lib = build(SOURCE_PATH, directory, name, verbose=verbose)
    try:
        torch.ops.load_library(str(lib))
    except OSError:  # a damaged file (a build killed while linking): build it again, once
        (directory / _DONE).unlink(missing_ok=True)
        lib.unlink(missing_ok=True)
        lib = build(SOURCE_PATH, directory, name, verbose=verbose)
        try:
            torch.ops.load_library(str(lib))
        except OSError as err:
            raise BuildError(f"cannot load the fused kernels {lib}: {err}") from None
    return lib
