"""The leaf package stays a leaf: ``ray_operator.apimachinery`` imports nothing of ours.

Read from the source with ``ast`` (not by importing), so a forbidden import fails here even when it
sits in a branch that never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("ray_operator", "webhook", "certs")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_apimachinery_imports_nothing_of_ours_but_itself() -> None:
    package = ROOT / "ray_operator" / "apimachinery"
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in package.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in OURS and not name.startswith("ray_operator.apimachinery")
    }
    assert not offending, f"the primitives must stay a leaf: {sorted(offending)}"
