"""The project's import graph, read with `ast` from the source (module-level and
function-level imports alike; migrations and tests are out of scope):

- no import cycle between project modules;
- imports point down the layers only:
  rheo ← partners ← webhooks ← items ← tradera ← portal, integration
  (portal and integration are both the top and do not import each other);
- no app imports another app's private (underscore) names, nor reads them as attributes
  of a module it imported.
"""

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {
    "rheo": 0,
    "partners": 1,
    "webhooks": 2,
    "items": 3,
    "tradera": 4,
    "portal": 5,
    "integration": 5,
}


@dataclass
class Module:
    name: str
    path: Path
    # (line, imported module) for every import of a project module.
    imports: list[tuple[int, str]] = field(default_factory=list)
    # (line, what) for every private name of another app this module reaches for.
    private_uses: list[tuple[int, str]] = field(default_factory=list)

    @property
    def app(self) -> str:
        return self.name.partition(".")[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files() -> dict[str, Path]:
    files = {}
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                files[module_name(path)] = path
    return files


FILES = project_files()


def is_project(name: str) -> bool:
    return name.partition(".")[0] in LAYERS


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module a `from … import` names (relative imports resolved)."""
    if not node.level:
        return node.module
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def read(name: str, path: Path) -> Module:
    found = Module(name, path)
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    # Local names bound to another app's module, for attribute reads (`services._find`).
    other_apps_modules: dict[str, str] = {}

    def other_app(target: str) -> bool:
        return is_project(target) and target.partition(".")[0] != found.app

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not is_project(alias.name):
                    continue
                found.imports.append((node.lineno, alias.name))
                if other_app(alias.name):
                    for part in alias.name.split("."):
                        if is_private(part):
                            found.private_uses.append((node.lineno, alias.name))
                    if alias.asname:
                        other_apps_modules[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = resolve(name, node, is_package)
            if not is_project(source):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in FILES else source
                found.imports.append((node.lineno, target))
                if not other_app(source):
                    continue
                if is_private(alias.name) or any(is_private(p) for p in source.split(".")):
                    found.private_uses.append((node.lineno, f"{source}.{alias.name}"))
                if target == submodule:
                    other_apps_modules[alias.asname or alias.name] = submodule
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in other_apps_modules
            and is_private(node.attr)
        ):
            what = f"{other_apps_modules[node.value.id]}.{node.attr}"
            found.private_uses.append((node.lineno, what))
    return found


MODULES = {name: read(name, path) for name, path in FILES.items()}


def where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(ROOT)}:{line}"


def cycles() -> list[tuple[list[str], list[str]]]:
    """Each strongly connected component of the import graph with more than one module
    (or a module importing itself), with one cycle through it (Tarjan, iteratively)."""
    graph = {
        name: sorted({target for _, target in module.imports if target in MODULES})
        for name, module in MODULES.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return [(sorted(c), one_cycle(sorted(c), graph)) for c in components]


def one_cycle(component: list[str], graph: dict[str, list[str]]) -> list[str]:
    """A shortest path from the component's first module back to itself."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in graph[node]:
                if child == start:
                    return [*paths[node], start]
                if child in members and child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def test_the_graph_is_read():
    """Guards the test itself: it sees the apps and their imports."""
    assert {m.app for m in MODULES.values()} == set(LAYERS)
    assert ("items.services" in MODULES) and MODULES["items.services"].imports
    assert "partners.models" in {t for _, t in MODULES["partners.services"].imports}


def test_there_are_no_import_cycles():
    found = cycles()

    assert not found, "import cycles:\n" + "\n".join(
        f"{' → '.join(cycle)} (modules in a cycle together: {', '.join(members)})"
        for members, cycle in found
    )


def test_apps_import_only_from_their_own_layer_or_below():
    upward = sorted(
        {
            f"{where(module, line)}: {module.app} imports {target}"
            for module in MODULES.values()
            for line, target in module.imports
            if LAYERS[target.partition(".")[0]] > LAYERS[module.app]
        }
    )

    assert not upward, "imports up the layers:\n" + "\n".join(upward)


def test_the_two_top_apps_do_not_import_each_other():
    across = [
        f"{where(module, line)}: {module.app} imports {target}"
        for module in MODULES.values()
        if module.app in ("portal", "integration")
        for line, target in module.imports
        if target.partition(".")[0] in ("portal", "integration")
        and target.partition(".")[0] != module.app
    ]

    assert not across, "\n".join(across)


def test_no_app_reads_another_apps_private_names():
    private = [
        f"{where(module, line)}: {module.app} uses {what}"
        for module in MODULES.values()
        for line, what in module.private_uses
    ]

    assert not private, "private names of other apps:\n" + "\n".join(private)
