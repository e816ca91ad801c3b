"""The ``eafo-sym`` command line.

Each subcommand lives in its own module under :mod:`eafo_sym.commands` and
defines ``NAME``, ``HELP``, ``EXAMPLE``, ``add_arguments(parser)`` and
``run(args) -> int``; this module discovers them, so adding a command never
touches this file. Heavy imports (SciPy, torch) happen inside ``run``.

Every command runs under a budget: a wall time (``--timeout SECONDS``; the
command's ``TIMEOUT``, else :data:`DEFAULT_TIMEOUT`) and a memory limit
(``--memory MB``; the command's ``MEMORY``, else :data:`DEFAULT_MEMORY`), both
``0`` for none. The memory limit is set on this process only (``RLIMIT_DATA``),
never by the library.

Exit codes and stderr, always one line per event:

* ``0`` success (``reproduce``: ``1`` when a check fails);
* ``2`` bad input of any kind (a flag, a formula, a file, arithmetic that the
  input makes impossible, a budget that ran out, a missing optional package);
* ``1`` an internal error (a bug): ``internal error: ...``, and ``--debug``
  prints the traceback;
* ``130`` interrupted (Ctrl-C), ``143`` terminated (SIGTERM).

Warnings print as ``eafo-sym CMD: warning: ...``, once each.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import pkgutil
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from types import ModuleType

from .budget import BudgetExceeded, deadline, format_bytes, hard_exit, memory_limit, watchdog

__all__ = ["DEFAULT_MEMORY", "DEFAULT_TIMEOUT", "build_parser", "main"]

PROG = "eafo-sym"

#: Wall-time budget of a command that sets no ``TIMEOUT`` (seconds).
DEFAULT_TIMEOUT = 120.0
#: Memory budget (data segment) of a command that sets no ``MEMORY`` (bytes).
DEFAULT_MEMORY = 4 * 2**30
#: Extra seconds the watchdog waits after the time budget before it ends the process.
WATCHDOG_GRACE = 10.0

#: Exceptions that mean "this input cannot be done", reported as one line with exit 2.
USER_ERRORS = (
    ValueError,
    TypeError,
    OSError,
    NotImplementedError,
    ArithmeticError,
    RecursionError,
    ImportError,
)


class _Terminated(BaseException):  # noqa: N818 - the process was told to terminate
    """SIGTERM, raised in the main thread so that temporaries are cleaned up."""


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {_one_line(message)} (see --help)\n")
        raise SystemExit(2)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _commands() -> list[ModuleType]:
    from . import commands

    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return sorted(mods, key=lambda m: getattr(m, "ORDER", 50))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 <= value <= 7 * 86400):
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 (no limit) and 604800 s")
    return value


def _megabytes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of MB") from None
    if value != 0 and not 64 <= value <= 2**24:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 (no limit) or 64 to 16777216 MB")
    return value


def _add_budget_arguments(p: argparse.ArgumentParser, *, top: bool) -> None:
    """``--timeout``, ``--memory``, ``--debug``, ``--no-cache``: before or after the command."""
    default = None if top else argparse.SUPPRESS
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=default,
        metavar="SECONDS",
        help="wall-time budget (0: none; default: the command's, e.g. "
        f"{DEFAULT_TIMEOUT:g} s)",
    )
    p.add_argument(
        "--memory",
        type=_megabytes,
        default=default,
        metavar="MB",
        help=f"memory budget in MB (0: none; default {DEFAULT_MEMORY // 2**20} MB)",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print the traceback of an error",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="neither read nor write the disk cache of derivations (EAFO_SYM_NO_CACHE=1)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every discovered subcommand."""
    parser = _OneLineParser(
        prog=PROG,
        description="Entropy-based Activation Function Optimization, derived with SymPy.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_budget_arguments(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    sub.required = True
    for mod in _commands():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=mod.HELP,
            epilog=f"example:\n  {mod.EXAMPLE}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        _add_budget_arguments(p, top=False)
        p.set_defaults(_run=mod.run, _module=mod)
    return parser


def _budget(args: argparse.Namespace) -> tuple[float | None, int | None]:
    """(seconds, bytes) for this run; None where there is no limit."""
    mod = args._module
    seconds = args.timeout if args.timeout is not None else getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT)
    if args.memory is not None:
        nbytes = args.memory * 2**20
    else:
        nbytes = getattr(mod, "MEMORY", DEFAULT_MEMORY)
    return (seconds or None), (nbytes or None)


@contextmanager
def _one_line_warnings(prefix: str) -> Iterator[None]:
    """Warnings and log records of the package as one line each on stderr, each once."""
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = f"{prefix}: warning: {_one_line(message)}"
        if text not in shown:
            shown.add(text)
            sys.stderr.write(text + "\n")

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            level = record.levelname.lower()
            text = f"{prefix}: {level}: {_one_line(record.getMessage())}"
            if text not in shown:
                shown.add(text)
                sys.stderr.write(text + "\n")

    logger = logging.getLogger("eafo_sym")
    handler = _Handler(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        with warnings.catch_warnings():
            # The filters stay as they are (Python's: each warning once per place).
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@contextmanager
def _no_disk_cache(off: bool) -> Iterator[None]:
    """``--no-cache``: the disk cache is off for this run (the environment is restored after)."""
    from .cache import OFF_ENV

    if not off:
        yield
        return
    old = os.environ.get(OFF_ENV)
    os.environ[OFF_ENV] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(OFF_ENV, None)
        else:
            os.environ[OFF_ENV] = old


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM becomes an exception in the main thread, so ``finally`` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise _Terminated

    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _on_watchdog(prefix: str, seconds: float) -> None:
    from .outputs import discard_temporaries

    discard_temporaries()
    hard_exit(
        f"{prefix}: error: {BudgetExceeded('time', seconds)} (the computation did not stop; "
        "raise it with --timeout SECONDS)",
        2,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = f"{PROG} {args.command}"
    seconds, nbytes = _budget(args)

    def fail(message: str, code: int) -> int:
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"{prefix}: {message}\n")
        return code

    try:
        with ExitStack() as stack:
            stack.enter_context(_one_line_warnings(prefix))
            stack.enter_context(_no_disk_cache(args.no_cache))
            stack.enter_context(_sigterm_raises())
            stack.enter_context(memory_limit(nbytes))
            if seconds is not None:
                grace = max(WATCHDOG_GRACE, 0.1 * seconds)
                stack.enter_context(
                    watchdog(seconds + grace, lambda: _on_watchdog(prefix, seconds))
                )
            stack.enter_context(deadline(seconds))
            return int(args._run(args) or 0)
    except BudgetExceeded as exc:
        return fail(f"error: {exc} (raise it with --timeout SECONDS)", 2)
    except MemoryError:
        budget = f"memory budget of {format_bytes(nbytes)}" if nbytes else "memory"
        return fail(f"error: {budget} ran out (raise it with --memory MB)", 2)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except _Terminated:
        return fail("terminated", 143)
    except Exception as exc:  # noqa: BLE001 - every error ends as one line
        if nbytes and _out_of_memory(exc):
            return fail(f"error: memory budget of {format_bytes(nbytes)} ran out "
                        f"({_one_line(exc)}; raise it with --memory MB)", 2)
        if isinstance(exc, USER_ERRORS):
            return fail(f"error: {_one_line(exc) or type(exc).__name__}", 2)
        hint = "" if args.debug else " (run with --debug for the traceback)"
        return fail(f"internal error: {type(exc).__name__}: {_one_line(exc)}{hint}", 1)


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation that failed (torch and the loader say it in words)."""
    import errno

    if getattr(exc, "errno", None) == errno.ENOMEM:
        return True
    text = str(exc).lower()
    return any(s in text for s in ("cannot allocate memory", "can't allocate memory",
                                   "failed to map segment", "out of memory"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
