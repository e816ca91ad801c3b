"""The report of ``eafo-sym reproduce``: the PASS/FAIL table, ``summary.md``, ``summary.json``.

:class:`Report` holds every :class:`~eafo_sym.reproduce.checks.CheckResult`,
the files written and the wall time, and renders them; :func:`prepare_out`
creates the output folder and proves it writable before any work starts.

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
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from .checks import CheckResult

__all__ = ["Report", "prepare_out"]


@dataclass
class Report:
    """All check results, the files written (relative to ``out``) and the wall time."""

    results: list[CheckResult]
    files: list[str]
    seconds: float
    out: str

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(r.passed for r in self.results)

    @property
    def n_passed(self) -> int:
        """How many checks passed."""
        return sum(r.passed for r in self.results)

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
            f"{self.n_passed}/{len(self.results)} checks pass in {self.seconds:.1f} s; "
            f"wrote {self.out}/{', '.join(written)}"
        )
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        """``summary.md``: the table, the notes and the files."""
        lines = [
            "# eafo-sym reproduce",
            "",
            f"{self.n_passed}/{len(self.results)} checks pass; wall time {self.seconds:.1f} s.",
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

    def write(self, path: Path) -> None:
        """Write ``summary.md`` and ``summary.json`` into ``path`` and list them in ``files``."""
        self.files += ["summary.md", "summary.json"]
        (path / "summary.md").write_text(self.markdown(), encoding="utf-8")
        (path / "summary.json").write_text(
            json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8"
        )


def prepare_out(out: str | Path) -> Path:
    """Create the output folder and make sure it is writable.

    Raises:
        OSError: The folder cannot be created or written (a file is in the
            way, no permission).
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out {path} exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    probe = path / ".eafo-write-test"
    try:
        probe.write_text("", encoding="utf-8")
    except OSError as exc:
        raise OSError(f"--out {path} is not writable: {exc.strerror or exc}") from None
    probe.unlink()
    return path
