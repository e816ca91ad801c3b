"""The hand-written parts of the generated files, kept as real source files.

A template is a file in the language of the file it is pasted into, so that it is read, linted
(ruff checks ``nn.py``) and diffed like any other source: ``nn.py`` for the torch module files,
``fused_prelude.h`` and ``fused_host.cpp`` for the C++ extension. A line
``# eafo-sym template: NAME`` (``// eafo-sym template: NAME`` in C++) starts the section NAME,
which runs to the next such line or to the end of the file. An assembler pastes a section byte
for byte, less the blank lines around it, which the assembler lays out itself. What stands
before the first section (a comment saying what the file is for, the imports that let ruff
check it) is never pasted, except a Python template's docstring where the assembler asks for it.

>>> print(section("fused_host.cpp", "forward").splitlines()[0])
at::Tensor ACTIVATION_forward(const at::Tensor& x, PARAM_DECLS) {
>>> docstring("nn.py").splitlines()[0]
'Torch modules for every activation in :mod:`eafo_sym.catalog`.'
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

__all__ = ["docstring", "section", "sections"]

_DIR = Path(__file__).resolve().parent
_MARKER = re.compile(r"^(?:#|//) eafo-sym template: (?P<name>.+)$")


def _read(filename: str) -> str:
    path = _DIR / filename
    if not path.is_file():
        raise ValueError(f"no template {filename!r} in {_DIR}")
    return path.read_text(encoding="utf-8")


@cache
def sections(filename: str) -> dict[str, str]:
    """The sections of the template ``filename``, by name, each ending in one newline."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _read(filename).splitlines():
        marker = _MARKER.match(line)
        if marker:
            current = found.setdefault(marker["name"], [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip("\n") + "\n" for name, lines in found.items()}


def section(filename: str, name: str) -> str:
    """The section ``name`` of the template ``filename``, as it is pasted.

    Raises:
        ValueError: No such template or section.
    """
    found = sections(filename)
    if name not in found:
        raise ValueError(f"template {filename!r} has no section {name!r}; it has {sorted(found)}")
    return found[name]


@cache
def docstring(filename: str) -> str:
    """The docstring of the Python template ``filename``, exactly as written (no dedent)."""
    doc = ast.get_docstring(ast.parse(_read(filename)), clean=False)
    if doc is None:
        raise ValueError(f"template {filename!r} has no docstring")
    return doc
