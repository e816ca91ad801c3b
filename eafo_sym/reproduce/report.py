"""The report of ``eafo-sym reproduce``: the PASS/FAIL/SKIP table, ``summary.md``, ``summary.json``.

:class:`Report` holds every :class:`~eafo_sym.reproduce.checks.CheckResult`,
the files written and the wall time, and renders them; :func:`prepare_out`
opens the output folder safely (:class:`eafo_sym.outputs.OutputDir`: ours or
refused, never through a link) and proves it writable before any work starts.

>>> from eafo_sym.reproduce.checks import CheckResult
>>> r = CheckResult(derivation="f = x", check="by hand", error=0.0, tol=1e-9,
...                 key="k", title="A result", passed=True, seconds=0.5)
>>> print(Report([r], [], 0.5, "out").table())
| Result | Our derivation | Check | Error (tol) | Status |
|---|---|---|---|---|
| A result | `f = x` | by hand | 0.0e+00 (1e-09) | PASS |
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..outputs import OutputDir
from .checks import CheckResult

__all__ = ["OWNER", "Report", "prepare_out"]

#: Who writes the output folder (recorded in its marker file).
OWNER = "eafo-sym reproduce"


@dataclass
class Report:
    """All check results, the files written (relative to ``out``) and the wall time."""

    results: list[CheckResult]
    files: list[str]
    seconds: float
    out: str

    @property
    def passed(self) -> bool:
        """Whether every check that ran passed (a skipped check does not fail the report)."""
        return all(r.passed or r.skipped for r in self.results)

    @property
    def n_passed(self) -> int:
        """How many checks passed."""
        return sum(r.passed for r in self.results)

    @property
    def n_skipped(self) -> int:
        """How many checks could not run here."""
        return sum(r.skipped for r in self.results)

    def _count(self) -> str:
        skipped = f", {self.n_skipped} skipped" if self.n_skipped else ""
        return f"{self.n_passed}/{len(self.results)} checks pass{skipped}"

    def table(self) -> str:
        """The summary as a Markdown table (also what the CLI prints)."""
        rows = [
            "| Result | Our derivation | Check | Error (tol) | Status |",
            "|---|---|---|---|---|",
        ]
        for r in self.results:
            derivation = r.derivation.replace("|", "\\|")
            check = r.check.replace("|", "\\|")
            err = f"{r.error_text} ({r.tol:.0e})"
            rows.append(f"| {r.title} | `{derivation}` | {check} | {err} | {r.status} |")
        return "\n".join(rows)

    def text(self) -> str:
        """What ``eafo-sym reproduce`` prints: the table, the notes and a one-line verdict."""
        lines = [self.table(), ""]
        lines += [f"note ({r.key}): {r.note}" for r in self.results if r.note]
        written = ["summary.md", "summary.json"]
        for folder in ("figures/", "code/"):
            if any(f.startswith(folder) for f in self.files):
                written.append(folder)
        lines.append(
            f"{self._count()} in {self.seconds:.1f} s; wrote {self.out}/{', '.join(written)}"
        )
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        """``summary.md``: the table, the notes and the files."""
        lines = [
            "# eafo-sym reproduce",
            "",
            f"{self._count()}; wall time {self.seconds:.1f} s.",
            "",
            self.table(),
            "",
        ]
        notes = [r for r in self.results if r.note]
        if notes:
            lines += ["## Notes", ""] + [f"- **{r.title}**: {r.note}" for r in notes] + [""]
        if self.files:
            lines += ["## Files", ""] + [f"- `{f}`" for f in self.files] + [""]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """``summary.json``'s content (infinite errors as the string ``"inf"``)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            if isinstance(v, dict):
                return {k: clean(w) for k, w in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(w) for w in v]
            return v

        return clean(
            {
                "passed": self.passed,
                "seconds": round(self.seconds, 3),
                "out": self.out,
                "versions": {
                    "python": platform.python_version(),
                    "sympy": sp.__version__,
                    "numpy": np.__version__,
                },
                "results": [r.as_dict() for r in self.results],
                "files": self.files,
            }
        )

    def write(self, out: OutputDir) -> None:
        """Write ``summary.md`` and ``summary.json`` into ``out`` and list them in ``files``."""
        self.files += ["summary.md", "summary.json"]
        out.write_text("summary.md", self.markdown())
        out.write_text("summary.json", json.dumps(self.as_dict(), indent=2) + "\n")


def prepare_out(out: str | os.PathLike, *, force: bool = False) -> OutputDir:
    """Open the output folder of ``eafo-sym reproduce`` (see :class:`eafo_sym.outputs.OutputDir`).

    Raises:
        ValueError: ``out`` is empty.
        eafo_sym.outputs.OutputRefusedError: The folder holds files and is not
            one that ``eafo-sym reproduce`` wrote, and ``force`` is False.
        OSError: The folder cannot be created or written (a file is in the
            way, no permission).
    """
    return OutputDir.open(out, owner=OWNER, force=force)
