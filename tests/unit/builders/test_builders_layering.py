"""The builders stay pure: they import only the API, the primitives, the standard library and pydantic.

Read from the source with ``ast``, so an import in a branch that never runs is caught too. A
Kubernetes client or aiohttp here would mean a builder can do I/O.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "ray_operator" / "builders"
ALLOWED_OURS = ("ray_operator.api", "ray_operator.apimachinery", "ray_operator.builders")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top == "ray_operator":
        return name.startswith(ALLOWED_OURS)
    return top in sys.stdlib_module_names or top in ("pydantic", "__future__")


def test_builders_import_only_api_apimachinery_stdlib_and_pydantic() -> None:
    offending = sorted(
        f"{path.name}: {name}" for path in PACKAGE.glob("*.py") for name in _imports(path) if not _allowed(name)
    )
    assert not offending, offending
