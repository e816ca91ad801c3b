r"""Re-derive every result of the paper, check each numerically, check the shipped code, report.

:func:`reproduce` runs one check per result of "Entropy-based Activation
Function Optimization" (``docs/mathematics.md``) and one per artefact users
import (:mod:`eafo_sym.nn`, :mod:`eafo_sym.fused`, the printed NumPy and JAX
functions), and writes, into one output folder, the NumPy and JAX source it
checked (``code/``), the figures (``figures/``, PNG), ``summary.md`` and
``summary.json``. The folder is opened with :class:`eafo_sym.outputs.OutputDir`:
one it created or marked, never a foreign file or a link without ``force``.

* :mod:`.checks`: what a check is, every check, and the :data:`CHECKS` table;
* :mod:`.artefacts`: the checks of the shipped code;
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

import io
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import TextIO

from ..numeric.reference import output_density, richardson_coefficients, y_space_entropy
from .checks import CHECKS, Check, CheckResult, Outcome, Skip, run_check, select
from .figures import FIGURES
from .report import Report, prepare_out

__all__ = [
    "CHECKS",
    "FIGURES",
    "Check",
    "CheckResult",
    "Outcome",
    "Report",
    "Skip",
    "output_density",
    "prepare_out",
    "reproduce",
    "richardson_coefficients",
    "select",
    "y_space_entropy",
]


def reproduce(
    out: str | os.PathLike = "eafo-output",
    *,
    figures: bool = True,
    checks: Sequence[Check] | None = None,
    progress: TextIO | None = sys.stderr,
    force: bool = False,
) -> Report:
    """Run every check, write figures, the checked code and the summaries into ``out``.

    Args:
        out: Output folder: created if missing; else it must be empty or one
            an earlier ``reproduce`` wrote (its marker file), unless ``force``.
        figures: Write the PNG figures.
        checks: The checks to run (default :data:`CHECKS`; :func:`select` picks by key).
        progress: Where one progress line per step goes (None: silent).
        force: Write into a foreign folder and replace files changed by hand
            (never through a link: a link itself is replaced).

    Returns:
        The :class:`Report`; ``report.passed`` is the overall verdict.

    Raises:
        ValueError: ``out`` is empty.
        OSError: ``out`` cannot be used (refused, not writable), raised before
            any check runs; or a file in it cannot be written.
    """
    start = time.perf_counter()
    checks = CHECKS if checks is None else tuple(checks)
    steps = len(checks) + (len(FIGURES) if figures else 0)

    def say(i: int, text: str) -> None:
        if progress is not None:
            progress.write(f"[{i:>2}/{steps}] {text}\n")
            progress.flush()

    results: list[CheckResult] = []
    with prepare_out(out, force=force) as folder, warnings.catch_warnings():
        # Quadrature warnings are folded into each check's measured error.
        warnings.simplefilter("ignore")
        for i, check in enumerate(checks, 1):
            r = run_check(check, folder)
            results.append(r)
            say(i, f"{check.title}: {r.status} (error {r.error_text}, {r.seconds:.1f} s)")
        if figures:
            for j, (name, draw) in enumerate(FIGURES, len(checks) + 1):
                t0 = time.perf_counter()
                png = io.BytesIO()
                draw(png)
                folder.write_bytes(f"figures/{name}", png.getvalue())
                say(j, f"figure {name} ({time.perf_counter() - t0:.1f} s)")
        report = Report(results, list(folder.written), time.perf_counter() - start, str(out))
        report.write(folder)
    return report
