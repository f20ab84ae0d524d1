"""The capture lab is the product's independent oracle: its truth must not come from the product's own reasoning.

No module under ``captures/`` may import pushscope's analysis, model, export or pipeline, directly (read with
``ast``) or through what it imports (checked in a fresh interpreter). The product's vocabulary is shared on
purpose, and the capture reader may be used to check that a capture holds what the client did.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
FORBIDDEN = ("pushscope.analysis", "pushscope.model", "pushscope.export", "pushscope.pipeline")
# Not lab code: it writes the product's own report of each capture (captures/expected/NAME.json), which
# tests/e2e/test_expected_reports.py compares with the product's report today.
PRODUCT_REPORT = CAPTURES / "expected_report.py"


def _imported(tree: ast.AST) -> set[str]:
    """Every absolute module name an import statement in ``tree`` names, ``from a import b`` as ``a.b`` too."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))


def lab_modules() -> list[Path]:
    return sorted(p for p in CAPTURES.rglob("*.py") if p != PRODUCT_REPORT)


def test_the_ast_check_finds_a_forbidden_import() -> None:
    tree = ast.parse("from pushscope import analysis\nimport pushscope.model.entities\nfrom pushscope.vocabulary "
                     "import Reason\ndef f():\n    from pushscope.export.json_report import report_dict\n")
    assert _forbidden(_imported(tree)) == ["pushscope.analysis", "pushscope.export.json_report",
                                           "pushscope.export.json_report.report_dict", "pushscope.model.entities"]


def test_no_lab_module_imports_the_product_analysis() -> None:
    modules = lab_modules()
    assert len(modules) >= 15, modules  # the scripts, lab/ and h3lab/
    found = {str(p.relative_to(CAPTURES)): _forbidden(_imported(ast.parse(p.read_text(), str(p)))) for p in modules}
    assert not {name: bad for name, bad in found.items() if bad}
    # nothing of the lab leans on the product's report writer either
    assert not [p for p in modules if "expected_report" in _imported(ast.parse(p.read_text()))]


def test_importing_the_lab_loads_none_of_the_product_analysis() -> None:
    """Through whatever they import (pushscope.vocabulary included), the lab's modules and scripts pull in none
    of the forbidden packages."""
    script = f"""
import importlib, importlib.util, sys
sys.path.insert(0, {str(CAPTURES)!r})
for path in {[str(p) for p in lab_modules()]!r}:
    relative = path[len({str(CAPTURES)!r}) + 1:-3]
    if "/" in relative:
        importlib.import_module(relative.replace("/", ".").removesuffix(".__init__"))
    else:  # a script: load it without running main()
        spec = importlib.util.spec_from_file_location("lab_script_" + relative, path)
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
print("\\n".join(sorted(m for m in sys.modules if m.startswith("pushscope"))))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = set(run.stdout.split())
    assert "pushscope.vocabulary" in loaded
    assert not _forbidden(loaded)
