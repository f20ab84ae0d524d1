"""Every runtime dependency declared in pyproject.toml is imported by the product (and so has a job)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_top_levels() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "pushscope").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_every_declared_dependency_is_imported() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    distributions = {re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower() for spec in declared}
    imported = imported_top_levels()
    provided_by: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            provided_by.setdefault(dist.lower(), set()).add(module)
    unused = sorted(dist for dist in distributions if not provided_by.get(dist, set()) & imported)
    assert unused == [], f"declared in pyproject.toml but never imported by pushscope/: {unused}"
