"""The house's one direction: sensors -> sessions (decisions) -> frame state -> render / audio / log,
with the app shell (command line, session loop, console, headset lifecycle) on top, all on the
ground floor (core/). Every module's imports, lazy ones in functions included, are read from its
source: a package importing one above it or beside it, or any cycle between modules, fails."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "sensors", "scenes", "sessions", "audio", "engine")

# Floors, lowest first. A module may import its own floor's part and any part on a lower floor;
# parts on one floor are independent of each other. Longest prefix wins.
FLOORS = {
    "tidewell.core": 0,
    "tidewell.sensors": 1,
    "tidewell.scenes": 1,  # the scene catalog: data and GLSL that programs name
    "tidewell.sessions": 2,
    "tidewell.audio": 3,
    "tidewell.engine.render": 3,
    "tidewell.engine": 4,  # the app shell
}


def part_of(module: str) -> str:
    return max((p for p in FLOORS if module == p or module.startswith(p + ".")), key=len)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["tidewell", *parts])


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The Tidewell modules `module` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if is_package else -1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from tidewell.engine import scenes_cli` imports the module tidewell.engine.scenes_cli
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names]
        else:
            continue
        found |= {name for name in names if name.startswith("tidewell.") and name != module}
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = package_modules()
    known = set(modules)
    return {module: imports_of(module, path, known) for module, path in modules.items()}


def upward_edges(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, imported in graph.items():
        own = part_of(module)
        for target in imported:
            other = part_of(target)
            if other != own and FLOORS[other] >= FLOORS[own]:
                where = "above" if FLOORS[other] > FLOORS[own] else "beside"
                wrong.append(f"{module} imports {target}: {other} is {where} {own}")
    return sorted(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_module_is_on_a_floor(graph):
    assert all(part_of(module) in FLOORS for module in graph)
    assert {part_of(m) for m in graph} == set(FLOORS)


def test_the_ground_floor_imports_nothing_of_tidewell(graph):
    assert {
        m: sorted(t)
        for m, t in graph.items()
        if part_of(m) == "tidewell.core" and t - {"tidewell.core"} and any(not x.startswith("tidewell.core") for x in t)
    } == {}


def test_no_package_imports_one_above_or_beside_it(graph):
    assert upward_edges(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_checks_catch_what_they_look_for():
    """An upward edge and a three-module cycle in a made-up graph are both found."""
    made_up = {
        "tidewell.core.a": set(),
        "tidewell.sessions.b": {"tidewell.engine.c", "tidewell.core.a"},
        "tidewell.engine.c": {"tidewell.engine.d"},
        "tidewell.engine.d": {"tidewell.sessions.b"},
        "tidewell.audio.e": {"tidewell.engine.render.f"},
    }
    assert upward_edges(made_up) == [
        "tidewell.audio.e imports tidewell.engine.render.f: tidewell.engine.render is beside tidewell.audio",
        "tidewell.sessions.b imports tidewell.engine.c: tidewell.engine is above tidewell.sessions",
    ]
    assert cycles(made_up) == [["tidewell.engine.c", "tidewell.engine.d", "tidewell.sessions.b"]]


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def oversized(modules: dict[str, Path], root: Path = ROOT) -> list[str]:
    """Package modules over MAX_MODULE_LINES lines and functions over MAX_FUNCTION_LINES (decorators and
    docstring included)."""
    found = []
    for path in modules.values():
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(root)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - first + 1 > MAX_FUNCTION_LINES:
                    found.append(f"{where}:{node.lineno}: {node.name} is {node.end_lineno - first + 1} lines")
    return found


def test_no_module_or_function_is_too_long():
    assert oversized(package_modules()) == []


def test_the_size_check_catches_a_long_module_and_function(tmp_path):
    made_up = tmp_path / "made_up.py"
    made_up.write_text(
        "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES + "\n" * (MAX_MODULE_LINES - MAX_FUNCTION_LINES)
    )
    assert oversized({"made_up": made_up}, tmp_path) == [
        f"made_up.py: {MAX_MODULE_LINES + 1} lines",
        f"made_up.py:1: f is {MAX_FUNCTION_LINES + 1} lines",
    ]
