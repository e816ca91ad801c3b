"""The layer rules, checked from the source: data flows one way, derive -> check -> print -> run.

The import graph is built from every ``import`` statement in ``eafo_sym/``
(module level and inside functions; ``if TYPE_CHECKING:`` blocks excluded),
not from a list kept by hand, so a new arrow that runs back up fails here.
``docs/layers.md`` describes the layers.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eafo_sym"

#: Rank of each layer; a module may import modules of its own rank or below.
#: (Within one rank the graph must still be acyclic.)
RANKS = [
    (0, ("_version", "budget", "cache", "outputs", "symbolic.symbols")),
    (1, ("laws", "parsing")),
    (2, ("symbolic",)),
    (3, ("catalog",)),
    (4, ("numeric",)),
    (5, ("codegen",)),
    (6, ("nn", "fused", "paper", "dynamic")),
    (7, ("design", "observe", "reproduce", "experiment")),
    (8, ("commands", "cli")),
]
#: Former module names, kept as deprecated re-exports; they sit above what they re-export.
DEPRECATED = {"activations": 3, "distributions": 1}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of everything the module imports (modules or names in modules)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        targets = set()
        for imp in _imports(name, path):
            # The longest prefix that is one of our modules is the module imported.
            parts = imp.split(".")
            for k in range(len(parts), 0, -1):
                cand = ".".join(parts[:k])
                if cand in mods:
                    if cand != name and not name.startswith(cand + "."):
                        targets.add(cand)
                    break
        graph[name] = targets
    return graph


def _rank(module: str) -> int:
    rel = module.removeprefix("eafo_sym").lstrip(".")
    if not rel:
        return 99  # the package's lazy __init__: re-exports everything, imports nothing
    if rel in DEPRECATED:
        return DEPRECATED[rel]
    best = None
    for rank, prefixes in RANKS:
        for pre in prefixes:
            if (rel == pre or rel.startswith(pre + ".")) and (best is None or len(pre) > best[1]):
                best = (rank, len(pre))
    if best is None:
        raise AssertionError(f"module {module} belongs to no layer; add it to RANKS")
    return best[0]


def test_every_module_has_a_layer():
    for name in _modules():
        _rank(name)


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def dfs(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in state:
                dfs(v)
        stack.pop()
        state[u] = 2

    for u in sorted(graph):
        if u not in state:
            dfs(u)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_imports_run_down_the_layers():
    graph = _graph()
    bad = [
        f"{u} (layer {_rank(u)}) imports {v} (layer {_rank(v)})"
        for u, vs in graph.items()
        for v in vs
        if v != "eafo_sym" and _rank(v) > _rank(u)
    ]
    assert not bad, "arrows that run back up:\n" + "\n".join(sorted(bad))


def test_the_package_init_imports_nothing_at_run_time():
    """Its re-exports are lazy, so importing a runtime module loads no derivation code."""
    assert _graph()["eafo_sym"] == {"eafo_sym._version"}


def test_the_graph_sees_real_imports():
    """The checks above cannot pass vacuously: known arrows are in the graph."""
    graph = _graph()
    assert "eafo_sym.symbolic.eafo" in graph["eafo_sym.catalog"]
    assert "eafo_sym.laws" in graph["eafo_sym.symbolic.functional"]
    assert "eafo_sym.numeric.quadrature" in graph["eafo_sym.numeric.entropy"]
    assert _rank("eafo_sym.symbolic.eafo") < _rank("eafo_sym.numeric.entropy")


@pytest.mark.parametrize("layer", ["symbolic"])
def test_symbolic_imports_neither_scipy_nor_torch(layer):
    offending = []
    for name, path in _modules().items():
        if name.startswith(f"eafo_sym.{layer}"):
            for imp in _imports(name, path):
                if imp.split(".")[0] in ("scipy", "torch", "numpy"):
                    offending.append(f"{name}: {imp}")
    assert not offending, offending


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_eafo_sym_loads_neither_torch_nor_scipy():
    code = (
        "import sys, eafo_sym as ea\n"
        "ea.derive_crrelu(); ea.worst_activation(ea.laws.normal()); ea.catalog.get('eafo_elu')\n"
        "bad = [m for m in ('torch', 'scipy') if m in sys.modules]\n"
        "print(bad)"
    )
    assert _run(code).strip() == "[]"


def test_importing_the_runtime_derives_nothing():
    """No SymPy, no derivation, no printer: the generated file carries what the runtime needs."""
    pytest.importorskip("torch")
    code = (
        "import sys, eafo_sym.nn, eafo_sym.fused\n"
        "loaded = [m for m in sys.modules if m == 'sympy' or m.startswith(("
        "'eafo_sym.symbolic', 'eafo_sym.catalog', 'eafo_sym.numeric', 'eafo_sym.laws',"
        " 'eafo_sym.codegen.printers', 'eafo_sym.codegen.assemblers', 'eafo_sym.codegen.forms'))]\n"
        "print(loaded)"
    )
    assert _run(code).strip() == "[]"
