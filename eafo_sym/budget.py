"""Wall-clock budgets for SymPy work that can search for minutes.

SymPy's ``integrate``, ``factor`` and ``solve`` sometimes run far longer than
their answer is worth; every caller that can fall back to something cheaper
(quadrature, the unfactored form) wraps the call in :func:`time_limit` and
catches :class:`TimeUp`.

>>> with time_limit(5):
...     1 + 1
2
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["TimeUp", "time_limit"]


class TimeUp(Exception):  # noqa: N818 - reads as "time is up", raised by time_limit
    """A :func:`time_limit` ran out."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeUp` after ``seconds`` of wall time (None: no limit).

    Uses ``SIGALRM``, so the limit applies on POSIX in the main thread only;
    elsewhere the block runs without a limit. Nested limits keep the
    outer one's deadline when it is earlier.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left < seconds:
        # An enclosing limit ends sooner: let it fire, do not postpone it.
        yield
        return

    def _raise(signum, frame):
        raise TimeUp

    old = signal.signal(signal.SIGALRM, _raise)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer_left:
            # Restore what remains of the enclosing limit.
            left = outer_left - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
