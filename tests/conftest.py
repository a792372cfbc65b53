"""Fixtures shared by every test directory: an in-process sandbox, its kubeconfig, kubectl and a client.

``sandbox`` is function-scoped (each test gets a fresh cluster) and serves HTTPS with a token, as kubectl
needs. The fake kubelet is off unless the test is marked ``@pytest.mark.kubelet`` (or parametrizes
``sandbox`` indirectly with ``{"kubelet": True}``); it finishes deleted pods without waiting for their grace
period, so tests stay fast while deletion still goes through Terminating.
Decided against: session-scoped sandboxes; a fresh cluster per test keeps tests independent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kubelet: run the sandbox fixture with the fake kubelet")


@pytest.fixture
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    kubelet = request.node.get_closest_marker("kubelet") is not None
    options: dict[str, Any] = {"tls": True, "kubelet": kubelet, "kubelet_options": {"max_grace_seconds": 0}}
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        options.update(param)
    async with Sandbox(**options) as sb:
        yield sb


@pytest.fixture
def kubeconfig_path(sandbox: Sandbox, tmp_path: Path) -> Path:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl(kubeconfig_path: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig=kubeconfig_path, cache_dir=tmp_path / "kubectl-cache")


@pytest.fixture
async def api_client(kubeconfig_path: Path) -> AsyncIterator[Any]:
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig_path), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield api
