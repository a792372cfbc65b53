"""The layering contracts in ``pyproject.toml`` are live: they pass on the tree and fail on a forbidden import.

import-linter (``lint-imports``, run by ``.ci/run``) is the one mechanism that checks the layering of
``docs/architecture.md``; it reads imports from the source, so a forbidden import fails even in a
branch that never runs. This test runs it on a copy of the tree twice: once with an *allowed* import
added to each layer (the contracts are not stricter than the architecture), which must pass, and
once with one *forbidden* import added to each layer, which must break every contract, each for the
import planted in it. A contract that silently stopped matching anything would pass the first run
and fail the second.

Decided against: an AST walk of our own (a second mechanism that could disagree with CI's) and
importing the modules to inspect ``sys.modules`` (misses imports in branches that do not run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONTRACTS = {contract["id"]: contract for contract in PYPROJECT["tool"]["importlinter"]["contracts"]}

# One import each layer may make, and one it may not, planted in a module that exists while the layer is empty.
ALLOWED = {
    "ray_operator/apimachinery/__init__.py": "import ray_operator.apimachinery.quantity",
    "ray_operator/api/__init__.py": "import ray_operator.apimachinery.names",
    "webhook/__init__.py": "import ray_operator.api.constants\nimport ray_operator.apimachinery.govalues",
    "certs/config.py": "import certs.logs",
    "ray_operator/sandbox/__init__.py": "import ray_operator.api.constants\nimport ray_operator.apimachinery.selectors",
    "ray_operator/builders/__init__.py": "import ray_operator.api.models\nimport ray_operator.apimachinery.quantity",
    "ray_operator/kube/__init__.py": "import ray_operator.apimachinery.selectors",
    "ray_operator/controller/__init__.py": (
        "import ray_operator.api.validation\nimport ray_operator.builders\nimport ray_operator.kube\n"
        "import ray_operator.apimachinery.names"
    ),
}
FORBIDDEN = {
    "apimachinery": ("ray_operator/apimachinery/__init__.py", "ray_operator.api.constants"),
    "api": ("ray_operator/api/__init__.py", "ray_operator.settings"),
    "webhook": ("webhook/__init__.py", "certs.source"),
    "certs": ("certs/config.py", "ray_operator.settings"),
    "sandbox": ("ray_operator/sandbox/__init__.py", "ray_operator.api.models"),
    "builders": ("ray_operator/builders/__init__.py", "ray_operator.kube"),
    "kube": ("ray_operator/kube/__init__.py", "ray_operator.api.constants"),
    "controller": ("ray_operator/controller/__init__.py", "ray_operator.sandbox"),
}


def _copy_tree(destination: Path) -> Path:
    for package in ("ray_operator", "webhook", "certs"):
        shutil.copytree(ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def _plant(tree: Path, relative: str, statement: str) -> None:
    path = tree / relative
    path.write_text(path.read_text() + f"\n{statement}  # planted by tests/unit/test_layering.py\n")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install's finder, so it is the tree analysed.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _verdicts(output: str) -> dict[str, str]:
    """Contract name -> KEPT/BROKEN, from the summary lines (which may wrap)."""
    flat = " ".join(output.split())
    return {
        contract_id: match.group(1)
        for contract_id, contract in CONTRACTS.items()
        if (match := re.search(re.escape(" ".join(contract["name"].split())) + r" ?(KEPT|BROKEN)", flat))
    }


def test_every_layer_of_the_architecture_has_a_contract() -> None:
    assert set(CONTRACTS) == set(FORBIDDEN)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_tree(tmp_path_factory.mktemp("layering"))


def test_the_tree_with_allowed_imports_keeps_every_contract(tree: Path) -> None:
    clean = _copy_tree(tree / "allowed")
    for relative, statement in ALLOWED.items():
        _plant(clean, relative, statement)
    done = _lint(clean)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done.stdout) == dict.fromkeys(CONTRACTS, "KEPT"), done.stdout


def test_a_forbidden_import_in_any_layer_breaks_its_contract(tree: Path) -> None:
    broken = _copy_tree(tree / "forbidden")
    for relative, target in FORBIDDEN.values():
        _plant(broken, relative, f"import {target}")
    done = _lint(broken)
    assert done.returncode != 0
    assert _verdicts(done.stdout) == dict.fromkeys(CONTRACTS, "BROKEN"), done.stdout
    flat = " ".join(done.stdout.split())
    for relative, target in FORBIDDEN.values():
        importer = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        assert f"{importer} -> {target}" in flat, (importer, target, done.stdout)
