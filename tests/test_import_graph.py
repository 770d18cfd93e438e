"""The import graph of src/neuralab: no cycle between modules, and imports only point down the
layers (README "Layout", docs in DESIGN.md).

Every module is parsed with ``ast``; an edge is any ``import neuralab.x`` / ``from neuralab.x
import y`` (relative ones too) anywhere in the file, at module level or inside a function, under
``TYPE_CHECKING`` included, and any string literal that names a neuralab submodule (what
``importlib.import_module`` and PEP 562 lazy tables load; the bare "neuralab" is too often a
program name to count). ``from pkg import name`` counts as
an import of ``pkg.name`` when that is a module, else of ``pkg``. Importing a submodule runs its
package's ``__init__`` too, but that implicit edge is not counted (it would make every package
that imports its own submodules a "cycle"). Imports under ``if TYPE_CHECKING:`` never run: they
count for the layers (a type from above is a dependency on above) but not for cycles (the
trainer and its callbacks name each other's types).

Layers, top to bottom (a module may import its own layer and any layer below it):

    commands     neuralab (the public API), __main__, cli, commands/
    experiments  experiments/ (catalog > topic modules > runner, runs > registry > config)
    report       report/, results (reference results and the README table)
    viz          viz/ (figures only: never trains)
    ocr          ocr/ (uses train.checkpoint to load its classifier, hence above train)
    train        train/ (never plots)
    models       models/
    scratch      scratch/ (the NumPy engine)
    data         data/
    utilities    errors, io, text, progress, system, argtypes, _version (anyone may import them)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: (layer, module prefixes), top to bottom. A prefix matches the module and its submodules.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("commands", ("neuralab", "neuralab.__main__", "neuralab.cli", "neuralab.commands")),
    ("experiments", ("neuralab.experiments",)),
    ("report", ("neuralab.report", "neuralab.results")),
    ("viz", ("neuralab.viz",)),
    ("ocr", ("neuralab.ocr",)),
    ("train", ("neuralab.train",)),
    ("models", ("neuralab.models",)),
    ("scratch", ("neuralab.scratch",)),
    ("data", ("neuralab.data",)),
    ("utilities", ("neuralab.errors", "neuralab.io", "neuralab.text", "neuralab.progress",
                   "neuralab.system", "neuralab.argtypes", "neuralab._version")),
]

#: Upward imports in files this test's author does not own, for their owners to remove; each
#: entry is (importing module, imported module). Empty this set as they are fixed: an entry
#: that no longer occurs fails the test too, so the set never goes stale.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def _modules() -> dict[str, tuple[Path, bool]]:
    """module name -> (file, is a package ``__init__``)."""
    found = {}
    for path in sorted((SRC / "neuralab").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module that ``name`` (a module or a name inside one) belongs to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return ids


def imports_of(module: str, *, typing_too: bool = True) -> dict[str, int]:
    """neuralab modules that ``module`` imports -> the first line that does (without the
    ``TYPE_CHECKING`` ones unless ``typing_too``)."""
    path, is_package = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    docstrings = _docstrings(tree)
    skipped = set() if typing_too else _type_checking_nodes(tree)
    targets: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                targets.append((full if full in MODULES else source, node.lineno))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and "." in node.value and node.value in MODULES and id(node) not in docstrings):
            targets.append((node.value, node.lineno))  # import_module("neuralab.x"), lazy tables
    out: dict[str, int] = {}
    for name, line in targets:
        owner = _owner(name) if name.split(".")[0] == "neuralab" else None
        if owner and owner != module:
            out.setdefault(owner, line)
    return out


GRAPH = {module: imports_of(module) for module in MODULES}
RUNTIME_GRAPH = {module: imports_of(module, typing_too=False) for module in MODULES}


def layer_of(module: str) -> int:
    """Index into :data:`LAYERS` (0 is the top) of the longest matching prefix."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
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
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def upward_imports(graph: dict[str, dict[str, int]]) -> set[tuple[str, str]]:
    return {(m, t) for m, targets in graph.items() for t in targets
            if layer_of(t) < layer_of(m)}


def test_the_walker_sees_every_kind_of_import():
    runner = GRAPH["neuralab.experiments.runner"]
    assert "neuralab.experiments.config" in runner  # module level
    assert "neuralab.viz.common" in runner  # inside a method
    assert "neuralab.viz.common" in GRAPH["neuralab.viz"]  # a PEP 562 lazy table
    assert "neuralab.experiments.chars_scratch" in GRAPH["neuralab.experiments.catalog"]
    assert len(MODULES) > 100


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_import_cycle():
    cycles = find_cycles(RUNTIME_GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_imports_only_point_down_the_layers():
    found = upward_imports(GRAPH)
    new = sorted(found - KNOWN_VIOLATIONS)
    assert not new, "upward imports:\n" + "\n".join(
        f"  {m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]}), "
        f"line {GRAPH[m][t]}" for m, t in new)
    fixed = sorted(KNOWN_VIOLATIONS - found)
    assert not fixed, f"fixed: remove {fixed} from KNOWN_VIOLATIONS"


def test_the_registry_is_a_leaf_of_the_experiments_layer():
    """Topic modules import the registry; the registry imports none of them (the catalog
    knows them all)."""
    registry = GRAPH["neuralab.experiments.registry"]
    assert set(registry) <= {"neuralab.errors", "neuralab.experiments.config",
                             "neuralab.experiments.record"}
    assert "neuralab.experiments.registry" not in GRAPH["neuralab.experiments.config"]


def test_scratch_never_imports_torch_and_models_never_import_experiments():
    for module, (path, _) in MODULES.items():
        if module.startswith("neuralab.scratch"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
            names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
            assert not [n for n in names if n.split(".")[0] == "torch"], module
        if module.startswith("neuralab.models"):
            assert not [t for t in GRAPH[module] if t.startswith("neuralab.experiments")], module


@pytest.mark.parametrize("graph, cycles", [
    ({"a": {"b": 1}, "b": {"a": 1}}, [["a", "b"]]),
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, []),
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}, [["a", "b", "c"]]),
])
def test_the_cycle_finder(graph, cycles):
    assert find_cycles(graph) == cycles


def test_an_upward_import_is_caught():
    graph = {"neuralab.models.mlp": {"neuralab.experiments.runner": 3},
             "neuralab.experiments.runner": {"neuralab.models.mlp": 9}}
    assert upward_imports(graph) == {("neuralab.models.mlp", "neuralab.experiments.runner")}
