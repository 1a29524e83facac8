"""The shape of the house: no import circles, and the floors DESIGN.md sets (report/ and the
checks never import the CLI, the plugin or the runner; exchanges never import HTTP)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "conformance"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every conformance module ``name`` imports, at module level or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {r for a in node.names if (r := resolve(a.name))}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                target = full if full in known else resolve(base)
                if target:
                    out.add(target)
    # a module's own package is imported by Python anyway: not an edge worth a circle
    return {m for m in out if m != name and not name.startswith(m + ".")}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    assert cycles(graph()) == []


ABOVE = ("conformance.cli", "conformance.runner", "conformance.pytest_plugin", "conformance.plugin")


@pytest.mark.parametrize("floor", ["conformance.report", "conformance.checks", "conformance.judge", "conformance.facts",
                                   "conformance.judge_table", "conformance.exchange", "conformance.verdicts"])
def test_lower_floors_never_import_the_cli_the_plugin_or_the_runner(floor):
    edges = graph()
    offenders = {(m, d) for m, deps in edges.items() if m == floor or m.startswith(floor + ".")
                 for d in deps if any(d == above or d.startswith(above + ".") for above in ABOVE)}
    assert offenders == set()


def test_exchanges_and_checks_do_not_import_http():
    for name, path in modules().items():
        if name.startswith(("conformance.checks", "conformance.exchange", "conformance.judge", "conformance.facts")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            assert not {m for m in names if m.split(".")[0] in ("httpx", "conformance.transport")} - set(), name
            assert "conformance.transport" not in names, name


def test_the_plugin_module_holds_hooks_and_fixtures_only():
    assert len((PACKAGE / "pytest_plugin.py").read_text(encoding="utf-8").splitlines()) <= 200
