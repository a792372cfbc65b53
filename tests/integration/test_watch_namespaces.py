"""Watching several namespaces: every watch holds a connection, and requests still find one.

Nine kinds are watched per namespace, each watch holding a pooled API connection while it runs; with
the pool sized by ``kube_max_connections`` alone, three namespaces (27 watches) would take every
connection of a smaller pool and no request could ever be sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ray_operator.controller.manager import watch_count
from tests.integration.conftest import StackFactory
from tests.integration.rayclusters import Api, fast_settings, sample, wait_until

pytestmark = pytest.mark.kubelet


def test_one_watch_per_kind_per_namespace() -> None:
    assert watch_count(None) == watch_count(["a"]) == 9
    assert watch_count(["a", "b", "c"]) == 27


async def test_three_namespaces_on_a_one_connection_budget_converge(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    settings = fast_settings(kubeconfig_path, watch_namespace="team-a,team-b,default", kube_max_connections=1)
    await start_operator(settings=settings)
    api = Api(api_client)
    await api.create_cluster(sample("ray_v1_raycluster.mini.yaml"))
    await wait_until(lambda: api.ready("raycluster-mini", workers=1), seconds=30, what="ready")
