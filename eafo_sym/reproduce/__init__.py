r"""Re-derive every result of the paper, check each numerically, and report.

:func:`reproduce` runs one check per result of "Entropy-based Activation
Function Optimization" (``docs/mathematics.md``) and writes, into one output
folder, the generated torch and NumPy source for CRReLU (``code/``), the
figures (``figures/``, PNG), ``summary.md`` and ``summary.json``.

* :mod:`.checks`: what a check is, every check, and the :data:`CHECKS` table;
* :mod:`.figures`: the figures and the :data:`FIGURES` table;
* :mod:`.report`: the :class:`Report` (table, ``summary.md``, ``summary.json``)
  and the output folder.

The independent reference numbers that notebooks reuse live in
:mod:`eafo_sym.numeric.reference` and are re-exported here:
:func:`output_density`, :func:`y_space_entropy`, :func:`richardson_coefficients`.

>>> [c.key for c in CHECKS][:3]
['wafbc_normal', 'wafbc_logistic', 'wafbc_laplace']
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..numeric.reference import output_density, richardson_coefficients, y_space_entropy
from .checks import CHECKS, Check, CheckResult, Outcome, run_check, select
from .figures import FIGURES
from .report import Report, prepare_out

__all__ = [
    "CHECKS",
    "FIGURES",
    "Check",
    "CheckResult",
    "Outcome",
    "Report",
    "output_density",
    "prepare_out",
    "reproduce",
    "richardson_coefficients",
    "select",
    "y_space_entropy",
]


def reproduce(
    out: str | Path = "eafo-output",
    *,
    figures: bool = True,
    checks: Sequence[Check] | None = None,
    progress: TextIO | None = sys.stderr,
) -> Report:
    """Run every check, write figures, generated code and the summaries into ``out``.

    Args:
        out: Output folder (created if needed).
        figures: Write the PNG figures.
        checks: The checks to run (default :data:`CHECKS`; :func:`select` picks by key).
        progress: Where one progress line per step goes (None: silent).

    Returns:
        The :class:`Report`; ``report.passed`` is the overall verdict.

    Raises:
        OSError: ``out`` cannot be created or written (raised before any check runs).
    """
    start = time.perf_counter()
    path = prepare_out(out)
    checks = CHECKS if checks is None else tuple(checks)
    steps = len(checks) + (len(FIGURES) if figures else 0)

    def say(i: int, text: str) -> None:
        if progress is not None:
            progress.write(f"[{i:>2}/{steps}] {text}\n")
            progress.flush()

    results: list[CheckResult] = []
    files: list[str] = []
    with warnings.catch_warnings():
        # Quadrature warnings are folded into each check's measured error.
        warnings.simplefilter("ignore")
        for i, check in enumerate(checks, 1):
            r = run_check(check, path)
            results.append(r)
            say(i, f"{check.title}: {r.status} (error {r.error_text}, {r.seconds:.1f} s)")
        if (path / "code").is_dir():
            files += sorted(str(p.relative_to(path)) for p in (path / "code").glob("*.py"))
        if figures:
            fig_dir = path / "figures"
            fig_dir.mkdir(exist_ok=True)
            for j, (name, draw) in enumerate(FIGURES, len(checks) + 1):
                t0 = time.perf_counter()
                draw(fig_dir / name)
                files.append(f"figures/{name}")
                say(j, f"figure {name} ({time.perf_counter() - t0:.1f} s)")
    report = Report(results, files, time.perf_counter() - start, str(path))
    report.write(path)
    return report
