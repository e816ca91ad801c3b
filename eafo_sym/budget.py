"""Budgets of wall time and memory, for SymPy work that can search for minutes.

Two kinds of limit live here:

* :func:`time_limit` is a *local* limit. SymPy's ``integrate``, ``factor`` and
  ``solve`` sometimes run far longer than their answer is worth; every caller
  that can fall back to something cheaper (quadrature, the unfactored form)
  wraps the call in it and catches :class:`TimeUp`.
* :func:`deadline`, :func:`memory_limit` and :func:`watchdog` are the *global*
  budget of one command (``eafo-sym --timeout``, ``--memory``). When one runs
  out, :class:`BudgetExceeded` is raised. It derives from
  :class:`BaseException`, like :class:`KeyboardInterrupt`, so that neither a
  local ``except TimeUp`` fallback nor a broad ``except Exception`` swallows
  it: the command ends, saying which budget ran out.

>>> with time_limit(5):
...     1 + 1
2
>>> str(BudgetExceeded("time", 30))
'time budget of 30 s ran out'
>>> str(BudgetExceeded("memory", 2 * 2**30))
'memory budget of 2 GiB ran out'
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = [
    "BudgetExceeded",
    "TimeUp",
    "data_in_use",
    "deadline",
    "format_bytes",
    "hard_exit",
    "memory_limit",
    "time_limit",
    "watchdog",
]


class TimeUp(Exception):  # noqa: N818 - reads as "time is up", raised by time_limit
    """A :func:`time_limit` ran out."""


class BudgetExceeded(BaseException):  # noqa: N818 - reads as "the budget is exceeded"
    """The global budget of a command ran out.

    Attributes:
        resource: ``"time"`` or ``"memory"``.
        limit: The budget: seconds, or bytes.
    """

    def __init__(self, resource: str, limit: float):
        super().__init__(resource, limit)
        self.resource = resource
        self.limit = limit

    def __str__(self) -> str:
        amount = f"{self.limit:g} s" if self.resource == "time" else format_bytes(self.limit)
        return f"{self.resource} budget of {amount} ran out"


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest binary unit that keeps a number >= 1.

    >>> format_bytes(1536 * 2**20), format_bytes(512)
    ('1.5 GiB', '512 B')
    """
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n:.0f} B"


def _alarm_usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _alarm(seconds: float, make_error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``make_error()`` after ``seconds`` of wall time, nesting with other alarms.

    An enclosing alarm that fires sooner is left alone (its error is raised,
    not ours); otherwise ours is armed and the enclosing one is re-armed with
    what remains of it when the block ends.
    """
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:
        yield
        return

    def _raise(signum, frame):
        raise make_error()

    old = signal.signal(signal.SIGALRM, _raise)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer_left:
            left = outer_left - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeUp` after ``seconds`` of wall time (None: no limit).

    Uses ``SIGALRM``, so the limit applies on POSIX in the main thread only;
    elsewhere the block runs without a limit. Nested limits keep the
    outer one's deadline when it is earlier (and then the outer one's error
    is raised: a :func:`deadline` stays a :class:`BudgetExceeded`).
    """
    if seconds is None or not _alarm_usable():
        yield
        return
    with _alarm(seconds, TimeUp):
        yield


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`BudgetExceeded` ``("time", seconds)`` after ``seconds`` (None: no limit).

    The global time budget of a command. Like :func:`time_limit` it uses
    ``SIGALRM`` (main thread, POSIX); a Python signal handler runs only
    between bytecodes, so a long call inside C code is ended by
    :func:`watchdog` instead.

    >>> try:
    ...     with deadline(0.05):
    ...         while True:
    ...             pass
    ... except BudgetExceeded as exc:
    ...     print(exc)
    time budget of 0.05 s ran out
    """
    if seconds is None or not _alarm_usable():
        yield
        return
    with _alarm(seconds, lambda: BudgetExceeded("time", seconds)):
        yield


def _rlimit_resource() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    # RLIMIT_DATA counts the heap and private writable mappings (what a runaway
    # computation allocates), not the address space that torch and JAX reserve.
    return getattr(resource, "RLIMIT_DATA", None) or getattr(resource, "RLIMIT_AS", None)


@contextmanager
def memory_limit(nbytes: int | None) -> Iterator[None]:
    """Make allocations beyond ``nbytes`` of data fail (None: no limit), for this process.

    Sets the soft ``RLIMIT_DATA`` (never above the hard limit) for the block
    and restores it afterwards. An allocation that would cross it raises
    :class:`MemoryError` (the command line reports it as the memory budget
    running out). Where the limit cannot be set (not POSIX) the block runs
    without one.

    >>> with memory_limit(2**40):
    ...     len(bytearray(10))
    10
    """
    which = _rlimit_resource()
    if nbytes is None or which is None:
        yield
        return
    import resource

    soft, hard = resource.getrlimit(which)
    new = nbytes if hard == resource.RLIM_INFINITY else min(nbytes, hard)
    resource.setrlimit(which, (new, hard))
    try:
        yield
    finally:
        resource.setrlimit(which, (soft, hard))


def data_in_use() -> int | None:
    """Bytes of data the process holds now (``VmData``; None where unknown)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextmanager
def watchdog(seconds: float | None, on_expire: Callable[[], None]) -> Iterator[None]:
    """Call ``on_expire()`` from a helper thread if the block still runs after ``seconds``.

    The last resort behind :func:`deadline`: a signal handler cannot run while
    the main thread is inside one long C call, a thread can. ``on_expire``
    normally reports and ends the process (``os._exit``).
    """
    if seconds is None:
        yield
        return
    timer = threading.Timer(seconds, on_expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def hard_exit(message: str, code: int = 2) -> None:
    """Write ``message`` (one line) to stderr and end the process now, from any thread."""
    try:
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
    finally:
        os._exit(code)
