"""The package's import graph, read with `ast`: no cycle, and every import points down the layers
of the README's Layout (ground → health, alerts → sla → dagster_assets → codegen → dagster_defs →
definitions → cli). Function-local and TYPE_CHECKING imports count like any other."""

from __future__ import annotations

import ast
from pathlib import Path

import orchestration_utils

PACKAGE = Path(orchestration_utils.__file__).parent
ROOT = "orchestration_utils"

# Lower layers first. A module may import its own package and anything in an earlier layer;
# packages of one layer do not import each other. The ground is ordered too.
LAYERS: list[set[str]] = [
    {"errors"},
    {"files", "http_client", "configfile"},
    {"project"},
    {"warehouse"},
    {"settings"},  # checks its values with the project's schedule and warehouse URL parsers
    {"runs"},
    {"health", "alerts"},
    {"sla"},
    {"dagster_assets"},
    {"codegen"},
    {"dagster_defs"},
    {"definitions"},
    {"components", "defs"},  # the dg project's entry point reuses the location's build
    {"cli"},  # the demo CLI runs the location's definitions
]


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package modules it imports (`from a import b` counts `a.b` when that is a
    module, else `a`)."""
    files = {
        module_name(p, package): p
        for p in package.rglob("*.py")
        if "demo" not in p.relative_to(package).parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in files else base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def layer_of(module: str) -> tuple[int, str]:
    """(layer index, top-level part) of a package module."""
    top = module.split(".")[1] if "." in module else ""
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index, top
    raise AssertionError(f"{module}: not in any layer of LAYERS (add it where it belongs)")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        if module == ROOT:
            continue
        here, top = layer_of(module)
        for target in sorted(targets):
            if target == ROOT:
                continue
            there, target_top = layer_of(target)
            if there > here or (there == here and target_top != top):
                out.append(f"{module} imports {target} (layer {target_top!r} is not below {top!r})")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers():
    assert layer_violations(import_graph()) == []


def test_every_module_has_a_layer():
    for module in import_graph():
        if module != ROOT:
            layer_of(module)


def test_the_checks_catch_a_violation(tmp_path):
    """The same checks over a package holding a cycle and an upward import: both are reported."""
    pkg = tmp_path / "orchestration_utils"
    for rel, text in {
        "__init__.py": "",
        "project/__init__.py": "",
        "project/model.py": "from orchestration_utils.project import graph\n",
        "project/graph.py": "def f():\n    from orchestration_utils.project.model import X\n",
        "sla/__init__.py": "",
        "sla/evaluate.py": "from orchestration_utils.alerts.notify import notify\n",
        "alerts/__init__.py": "",
        "alerts/notify.py": "from ..sla import evaluate\n",
        "health/__init__.py": "",
        "health/checks.py": "import orchestration_utils.alerts.notify\n",
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    graph = import_graph(pkg)
    assert graph["orchestration_utils.alerts.notify"] == {"orchestration_utils.sla.evaluate"}
    assert cycles(graph) == [
        ["orchestration_utils.alerts.notify", "orchestration_utils.sla.evaluate"],
        ["orchestration_utils.project.graph", "orchestration_utils.project.model"],
    ]
    assert layer_violations(graph) == [
        (
            "orchestration_utils.alerts.notify imports orchestration_utils.sla.evaluate"
            " (layer 'sla' is not below 'alerts')"
        ),
        (
            "orchestration_utils.health.checks imports orchestration_utils.alerts.notify"
            " (layer 'alerts' is not below 'health')"
        ),
    ]
