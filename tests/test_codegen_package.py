"""The ``eafo_sym.codegen`` package: what importing it costs, and its import graph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import eafo_sym

PACKAGE = Path(eafo_sym.__file__).resolve().parent
#: The modules these tests hold to an acyclic import graph: code generation and its runtime.
OWN = ("eafo_sym.codegen", "eafo_sym.nn", "eafo_sym.fused", "eafo_sym.paper",
       "eafo_sym.commands.codegen")


def _import_graph() -> dict[str, set[str]]:
    """Module -> the eafo_sym modules it imports anywhere (functions, TYPE_CHECKING included)."""
    files = {}
    for f in PACKAGE.rglob("*.py"):
        parts = ["eafo_sym", *f.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_package else parts)] = (f, is_package)
    graph = {}
    for name, (f, is_package) in files.items():
        package = name if is_package else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                deps |= {f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                         for a in node.names}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_code_generation_and_its_runtime_are_in_no_import_cycle():
    graph = _import_graph()
    assert "eafo_sym.codegen.printers.torch" in graph["eafo_sym.codegen.emit"]  # sees imports
    own = [c for c in _cycles(graph) if any(m.startswith(OWN) for m in c)]
    assert own == [], own


def test_importing_the_package_loads_only_its_table_of_names_and_numpy_code_needs_no_torch():
    code = (
        "import sys, eafo_sym.codegen as cg; "
        "assert not any(m.startswith('eafo_sym.codegen.') for m in sys.modules), sys.modules; "
        "assert 'sympy' not in sys.modules and set(cg.__all__) <= set(dir(cg)); "
        "import sympy as sp, eafo_sym, eafo_sym.commands.codegen; "
        "cg.numpy_code(sp.Max(0, eafo_sym.x)); "
        "assert cg.registry_forms.__module__ == 'eafo_sym.codegen.registry'; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
