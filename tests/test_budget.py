"""Budgets (``eafo_sym.budget``): local time limits, the global deadline, memory, the watchdog."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from eafo_sym.budget import (
    BudgetExceeded,
    TimeUp,
    deadline,
    format_bytes,
    memory_limit,
    time_limit,
    watchdog,
)

resource = pytest.importorskip("resource")


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_deadline_raises_budget_exceeded_naming_the_budget():
    start = time.monotonic()
    with pytest.raises(BudgetExceeded) as exc, deadline(0.2):
        _spin(5)
    assert 0.15 < time.monotonic() - start < 2
    assert (exc.value.resource, exc.value.limit) == ("time", 0.2)
    assert str(exc.value) == "time budget of 0.2 s ran out"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_local_fallback_does_not_swallow_the_global_deadline():
    """Library code catches TimeUp (and Exception) to fall back; the budget still ends the run."""
    fallbacks = []
    with pytest.raises(BudgetExceeded), deadline(0.2):
        try:
            with time_limit(10):
                _spin(5)
        except TimeUp:
            fallbacks.append("time")
        except Exception:  # noqa: BLE001 - what careless library code does
            fallbacks.append("exception")
    assert fallbacks == []


def test_a_local_limit_inside_the_deadline_fires_and_rearms_the_deadline():
    with deadline(30):
        with pytest.raises(TimeUp), time_limit(0.1):
            _spin(5)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < left <= 30  # the outer budget is armed again with what remains
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_no_limit_and_no_main_thread_run_unlimited():
    with deadline(None), time_limit(None):
        _spin(0.01)
    import threading

    seen = []

    def worker():
        with deadline(0.01):
            _spin(0.05)
        seen.append("done")

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == ["done"]


def test_memory_limit_makes_a_large_allocation_fail_and_is_restored():
    which = getattr(resource, "RLIMIT_DATA", resource.RLIMIT_AS)
    before = resource.getrlimit(which)
    with pytest.raises(MemoryError), memory_limit(512 * 2**20):
        bytearray(4 * 2**30)
    assert resource.getrlimit(which) == before
    with memory_limit(None):
        assert len(bytearray(2**20)) == 2**20


def test_watchdog_calls_back_only_when_the_block_overruns():
    fired = []
    with watchdog(0.05, lambda: fired.append(1)):
        time.sleep(0.2)
    assert fired == [1]
    with watchdog(5, lambda: fired.append(2)):
        pass
    time.sleep(0.05)
    assert fired == [1]


def test_watchdog_ends_a_process_stuck_in_native_code():
    """PBKDF2 with 10**9 rounds runs minutes inside one C call: no signal handler runs there."""
    code = textwrap.dedent(
        """
        import hashlib
        from eafo_sym.budget import deadline, hard_exit, watchdog
        with watchdog(1.0, lambda: hard_exit("stuck: time budget of 0.5 s ran out", 2)):
            with deadline(0.5):
                hashlib.pbkdf2_hmac("sha256", b"p", b"s", 10**9)
        print("finished")
        """
    )
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == "stuck: time budget of 0.5 s ran out\n"
    assert r.stdout == ""
    assert time.monotonic() - start < 30


@pytest.mark.parametrize(
    "n, text", [(512, "512 B"), (1536, "1.5 KiB"), (4 * 2**30, "4 GiB"), (3 * 2**20, "3 MiB")]
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text
    assert str(BudgetExceeded("memory", n)) == f"memory budget of {text} ran out"
