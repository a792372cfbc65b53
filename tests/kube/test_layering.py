"""kube/ is the API-access layer: it may import the primitives and its libraries, nothing RayCluster-specific."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ray_operator.kube

ALLOWED_THIRD_PARTY = {"aiohttp", "kubernetes_asyncio", "structlog"}
ALLOWED_OURS = ("ray_operator.apimachinery", "ray_operator.kube")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_kube_imports_only_the_standard_library_its_libraries_and_apimachinery() -> None:
    package = Path(ray_operator.kube.__file__).parent
    offenders = []
    for path in sorted(package.glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top == "__future__" or top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY:
                continue
            if name.startswith(ALLOWED_OURS):
                continue
            offenders.append(f"{path.name}: {name}")
    assert offenders == []
