"""Disk-cached derivations for the main job, keyed by the package's own source.

``eafo-sym reproduce`` re-derives every result each time it runs, but a
derivation is a pure function of its inputs and of the code that computes it.
:func:`cached_call` runs a derivation of the package (a function defined in
``eafo_sym``) once and keeps its result in :mod:`eafo_sym.cache`'s disk cache,
keyed by the function's name, its arguments and :func:`package_digest` (every
source file of the package), so a changed line anywhere recomputes it. Only
exact results are cached (SymPy expressions, printed source); the numbers a
check measures them against are computed afresh on every run.

A function from outside the package (a test's stand-in) is called directly,
never cached, so replacing a derivation always shows in the report.

>>> from eafo_sym.symbolic.wafbc import worst_activation
>>> from eafo_sym.laws import logistic
>>> cached_call(worst_activation, logistic(), 0, 1).expr
exp(x)/(exp(x) + 1)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from ..cache import memoize

__all__ = ["cached_call", "package_digest"]

T = TypeVar("T")

_PACKAGE = Path(__file__).resolve().parent.parent
_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {}


@lru_cache(maxsize=1)
def package_digest() -> str:
    """SHA-256 (16 hex digits) of every Python and C++ source file of the package.

    >>> len(package_digest())
    16
    """
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".cpp") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(_PACKAGE)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@memoize(disk=True)
def _call(module: str, qualname: str, digest: str, args: tuple, kwargs: tuple) -> Any:
    return _FUNCTIONS[(module, qualname)](*args, **dict(kwargs))


def cached_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, from the disk cache when the same code computed it before.

    Arguments need a stable key (laws, SymPy objects, numbers, strings, tuples);
    with others, or for a function defined outside ``eafo_sym``, ``fn`` is
    simply called.
    """
    module = getattr(fn, "__module__", "") or ""
    qualname = getattr(fn, "__qualname__", "")
    if not module.startswith("eafo_sym.") or "<locals>" in qualname:
        return fn(*args, **kwargs)
    _FUNCTIONS[(module, qualname)] = fn
    return _call(module, qualname, package_digest(), args, tuple(sorted(kwargs.items())))
