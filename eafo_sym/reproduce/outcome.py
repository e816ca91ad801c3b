"""What a check of ``eafo-sym reproduce`` returns (:class:`Outcome`) or raises (:class:`Skip`).

Both :mod:`.checks` (the results of the paper) and :mod:`.artefacts` (the
shipped code) build on these two, so they live below both.

>>> Outcome("f = x", "by hand", 0.0, 1e-9).note
''
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Outcome", "Skip"]


@dataclass(frozen=True)
class Outcome:
    """What a check returns.

    Attributes:
        derivation: The derived result as a short formula (for code: the file and its hash).
        check: What was measured.
        error: The measured error (``inf`` when a symbolic identity failed).
        tol: The error allowed.
        note: Anything a reader must know (e.g. where the paper differs, what fails).
        data: Extra numbers for ``summary.json``.
    """

    derivation: str
    check: str
    error: float
    tol: float
    note: str = ""
    data: dict = field(default_factory=dict)


class Skip(Exception):  # noqa: N818 - a check says "skip", it is not an error
    """Raised by a check that cannot run here (torch or JAX missing); the message is the reason."""
