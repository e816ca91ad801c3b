"""Caching of derivations: in memory for the process, on disk across processes.

Derivations are pure functions of hashable inputs (laws, activations, SymPy
expressions, numbers), so they are memoised the way pystencils caches its
kernels. :func:`memoize` keeps results in memory; with ``disk=True`` it also
stores them as files in the user's cache directory, so a second process (the
next ``eafo-sym derive``) reads CRReLU instead of deriving it again.

The disk cache is keyed by the inputs, the package version, the SymPy and
Python versions and a digest of the package's derivation code, so an entry
made by other code is never used. Each file carries a checksum of its
contents; a corrupt, truncated or foreign entry is recomputed and rewritten,
never trusted. Files are written atomically (a temporary file, then a rename).

Where:
    ``$EAFO_SYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/eafo_sym``, else
    ``~/.cache/eafo_sym``. The entries are Python pickles: like any cache of
    compiled code, the directory must be writable only by you.

Turn it off:
    ``EAFO_SYM_NO_CACHE=1`` (or ``eafo-sym --no-cache``) disables the disk
    cache; memory caching stays. :func:`clear` empties the directory.

>>> @memoize
... def square(n):
...     return n * n
>>> square(3), square.cache_info()["memory"]
(9, 1)
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["cache_dir", "clear", "disk_enabled", "memoize", "stable_key"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: Environment variable naming the cache directory.
DIR_ENV = "EAFO_SYM_CACHE_DIR"
#: Environment variable that turns the disk cache off when set to anything but "" or "0".
OFF_ENV = "EAFO_SYM_NO_CACHE"

_MAGIC = b"eafo_sym cache 1\n"
_PACKAGE = Path(__file__).resolve().parent
# The code whose output is cached: any change to it makes every old entry stale.
_DERIVATION_CODE = ("symbolic", "laws.py", "catalog.py", "budget.py", "cache.py", "parsing.py")


def cache_dir() -> Path:
    """The directory of the disk cache (not created here)."""
    env = os.environ.get(DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eafo_sym"


def disk_enabled() -> bool:
    """Whether results are read from and written to disk (see ``EAFO_SYM_NO_CACHE``)."""
    return os.environ.get(OFF_ENV, "") in ("", "0")


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    h = hashlib.sha256()
    for name in _DERIVATION_CODE:
        path = _PACKAGE / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(_PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _versions() -> str:
    import sympy

    from ._version import __version__

    py = ".".join(map(str, sys.version_info[:3]))
    return f"eafo_sym={__version__} sympy={sympy.__version__} python={py} code={_code_digest()}"


def stable_key(obj: Any) -> str:
    """A text that identifies ``obj`` across processes (SymPy objects by ``srepr``).

    Raises:
        TypeError: For objects with no stable identity (they are not cached).

    >>> import sympy as sp
    >>> stable_key((1, "a", sp.Rational(1, 2), None))
    "(1, 'a', Rational(1, 2), None)"
    """
    import sympy as sp

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return repr(obj)
    if isinstance(obj, sp.Basic):
        return sp.srepr(obj)
    key = getattr(obj, "key", None)
    if isinstance(key, str) and not callable(key):
        return f"{type(obj).__name__}:{key}"
    if isinstance(obj, (tuple, list)):
        inner = ", ".join(stable_key(v) for v in obj)
        if isinstance(obj, list):
            return f"[{inner}]"
        return f"({inner}{',' if len(obj) == 1 else ''})"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{stable_key(k)}: {stable_key(v)}" for k, v in obj.items()) + "}"
    raise TypeError(f"no stable cache key for {type(obj).__name__}")


def _path(qualname: str, key_text: str) -> Path:
    digest = hashlib.sha256(key_text.encode()).hexdigest()[:32]
    return cache_dir() / f"{qualname}-{digest}.pkl"


def _read(path: Path, key_text: str) -> tuple[bool, Any]:
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError:
        return False, None
    head, _, rest = blob.partition(b"\n")
    checksum, _, payload = rest.partition(b"\n")
    if head + b"\n" != _MAGIC or hashlib.sha256(payload).hexdigest().encode() != checksum:
        log.info("eafo_sym cache: ignoring corrupt entry %s", path)
        return False, None
    try:
        stored_key, value = pickle.loads(payload)  # noqa: S301 - our own files, checksummed
    except Exception as exc:  # a pickle from code that no longer exists
        log.info("eafo_sym cache: ignoring unreadable entry %s (%s)", path, exc)
        return False, None
    if stored_key != key_text:
        return False, None
    return True, value


def _write(path: Path, key_text: str, value: Any) -> None:
    try:
        payload = pickle.dumps((key_text, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable result is simply not stored
        log.info("eafo_sym cache: not storing %s (%s)", path.name, exc)
        return
    blob = _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a read-only or missing home: run without the disk cache
        log.info("eafo_sym cache: cannot write to %s (%s)", path.parent, exc)
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def memoize(fn: F | None = None, *, disk: bool = False, maxsize: int = 256) -> F:
    """Cache ``fn``'s results by its arguments, in memory and (``disk=True``) on disk.

    Arguments must have a :func:`stable_key`; calls with other arguments run
    uncached. ``fn.cache_clear()`` empties the memory cache and
    ``fn.cache_info()`` counts its entries.
    """
    if fn is None:
        return functools.partial(memoize, disk=disk, maxsize=maxsize)  # type: ignore[return-value]
    memory: dict[str, Any] = {}
    qualname = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            key_text = stable_key((qualname, args, sorted(kwargs.items())))
        except TypeError:
            return fn(*args, **kwargs)
        if key_text in memory:
            return memory[key_text]
        use_disk = disk and disk_enabled()
        if use_disk:
            full = f"{_versions()}\n{key_text}"
            path = _path(qualname, full)
            found, value = _read(path, full)
            if found:
                memory[key_text] = value
                return value
        value = fn(*args, **kwargs)
        if len(memory) >= maxsize:
            memory.pop(next(iter(memory)))
        memory[key_text] = value
        if use_disk:
            _write(path, full, value)
        return value

    wrapper.cache_clear = memory.clear  # type: ignore[attr-defined]
    wrapper.cache_info = lambda: {"memory": len(memory)}  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def clear() -> int:
    """Delete every entry of the disk cache; returns how many files were removed."""
    d = cache_dir()
    n = 0
    if d.is_dir():
        for f in d.glob("*.pkl"):
            f.unlink(missing_ok=True)
            n += 1
    return n
