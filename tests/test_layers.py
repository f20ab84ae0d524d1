"""The package's layering, read from the source with ``ast`` (every import, the lazy ones inside functions too).

``sources/`` is the I/O layer: it may use only what lies below it (``decode/``, ``events``, ``vocabulary``, the
shared HTTP rules in ``http/``, and modules that themselves import nothing of pushscope), never the model, the
analysis, the pipeline or the reports. And no module reaches, through any chain of imports, back to itself.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pushscope"
SOURCES_MAY_USE = ("pushscope.decode", "pushscope.events", "pushscope.vocabulary", "pushscope.http",
                   "pushscope.sources")


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under ``if TYPE_CHECKING:`` (never run)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                pending.extend(child.orelse)  # type: ignore[attr-defined]
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            pending.append(child)
    return found


def _owner(name: str) -> str | None:
    """The pushscope module a dotted import name refers to (a name imported from a module: that module)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports_of(module: str) -> frozenset[str]:
    path = modules()[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]) if node.level else node.module
        names.update(f"{base}.{alias.name}".strip(".") for alias in node.names)
    owners = {_owner(name) for name in names if name.split(".")[0] == "pushscope"}
    return frozenset(owner for owner in owners if owner is not None and owner != module)


def _leaf(module: str) -> bool:
    """A module that imports nothing of pushscope (safe_text, units, the package's own version): below all."""
    return not imports_of(module)


def test_sources_import_only_the_layers_below() -> None:
    sources = [m for m in modules() if m.startswith("pushscope.sources")]
    assert "pushscope.sources.probe.session" in sources and "pushscope.sources.capture_file" in sources
    wrong = {f"{module} imports {used}" for module in sources for used in imports_of(module)
             if not used.startswith(SOURCES_MAY_USE) and not _leaf(used)}
    assert not wrong, sorted(wrong)


def test_the_shared_http_rules_sit_below_the_probe_and_the_analysis() -> None:
    http = [m for m in modules() if m.startswith("pushscope.http")]
    assert len(http) >= 5
    wrong = {f"{module} imports {used}" for module in http for used in imports_of(module)
             if not used.startswith(("pushscope.http", "pushscope.events", "pushscope.vocabulary"))
             and not _leaf(used)}
    assert not wrong, sorted(wrong)


def test_no_import_cycle() -> None:
    """Depth-first over every module's imports: a module met again while it is still being walked is a cycle."""
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def walk(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for used in sorted(imports_of(module)):
            if state.get(used) == "open":
                cycles.append(trail[trail.index(used):] + [module, used] if used in trail else [module, used])
            elif used not in state:
                walk(used, [*trail, module])
        state[module] = "done"

    for module in sorted(modules()):
        if module not in state:
            walk(module, [])
    assert not cycles, cycles


def test_the_checks_see_a_wrong_import() -> None:
    """The reader finds lazy imports and relative ones, so the layering tests cannot pass by not looking."""
    assert "pushscope.sources.capture_file" in imports_of("pushscope.pipeline")  # inside a function
    assert "pushscope.analysis" in imports_of("pushscope.pipeline")
    assert not _leaf("pushscope.model.builder") and _leaf("pushscope.safe_text")
