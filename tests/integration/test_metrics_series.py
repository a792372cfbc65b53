"""The controller's metric series exist under controller-runtime's names and move as clusters reconcile.

Values are read from the operator's registry in the Prometheus text format (what ``/metrics`` serves;
the endpoint itself and its authentication are tested with the metrics server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import OperatorStack, StackFactory
from tests.integration.rayclusters import Api, fast_settings, sample, wait_until

pytestmark = pytest.mark.kubelet

NAME = "raycluster-mini"
RC = {"controller": "raycluster"}
QUEUE = {"name": "raycluster", "controller": "raycluster"}


def scrape(stack: OperatorStack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(stack.state.registry).decode()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], metric: str, **labels: str) -> float | None:
    return samples.get((metric, tuple(sorted(labels.items()))))


async def test_reconcile_queue_reflector_write_and_leader_series_move_with_a_cluster(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    stack: OperatorStack = await start_operator(settings=fast_settings(kubeconfig_path))
    before = scrape(stack)
    for name in (
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total",
        "controller_runtime_reconcile_time_seconds_count",
        "workqueue_depth",
        "workqueue_adds_total",
        "workqueue_retries_total",
        "workqueue_queue_duration_seconds_count",
        "workqueue_work_duration_seconds_count",
    ):
        assert any(key[0] == name for key in before), f"{name} is missing before any cluster"
    assert value(before, "leader_election_master_status", name="ray-operator-leader") == 1
    assert value(before, "controller_runtime_max_concurrent_reconciles", **RC) == 1
    assert (value(before, "ray_operator_reflector_lists_total", resource="pods") or 0) >= 1
    assert value(before, "ray_operator_rayclusters", state="ready") is None

    api = Api(api_client)
    await api.create_cluster(sample("ray_v1_raycluster.mini.yaml"))
    await wait_until(lambda: api.ready(NAME, workers=1), seconds=30, what="ready")
    await wait_until(lambda: value(scrape(stack), "ray_operator_rayclusters", state="ready") == 1, what="ready counted")
    after = scrape(stack)
    success = value(after, "controller_runtime_reconcile_total", result="success", **RC) or 0
    requeued = value(after, "controller_runtime_reconcile_total", result="requeue_after", **RC) or 0
    assert success + requeued >= 1
    assert (value(after, "controller_runtime_reconcile_time_seconds_count", **RC) or 0) == pytest.approx(
        sum(
            value(after, "controller_runtime_reconcile_total", result=r, **RC) or 0
            for r in ("success", "error", "requeue_after")
        )
    )
    assert (value(after, "workqueue_adds_total", **QUEUE) or 0) > (value(before, "workqueue_adds_total", **QUEUE) or 0)
    assert (value(after, "workqueue_work_duration_seconds_count", **QUEUE) or 0) >= 1
    assert value(after, "ray_operator_pods_created_total", namespace="default", raycluster=NAME) == 2
    assert (value(after, "ray_operator_status_writes_total", result="success") or 0) >= 1
    assert (value(after, "ray_operator_api_writes_total", verb="create", resource="pods", result="success") or 0) == 2

    for replicas in (2, 1):  # minReplicas is 1
        patch = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": replicas}]
        await api.patch_cluster(NAME, patch, json_patch=True)
        await wait_until(lambda n=replicas: api.ready(NAME, workers=n), seconds=30, what=f"{replicas} workers")
    assert value(scrape(stack), "ray_operator_pods_created_total", namespace="default", raycluster=NAME) == 3
    await wait_until(
        lambda: value(scrape(stack), "ray_operator_pods_deleted_total", namespace="default", raycluster=NAME) == 1,
        what="the delete counted",
    )


async def test_a_standby_reports_it_is_not_the_leader_and_has_no_clusters(
    start_operator: StackFactory, kubeconfig_path: Path
) -> None:
    await start_operator(settings=fast_settings(kubeconfig_path, retry_period_seconds=0.2))
    standby: OperatorStack = await start_operator(
        settings=fast_settings(kubeconfig_path, retry_period_seconds=0.2), leading=False
    )
    await wait_until(lambda: standby.state.elector and standby.state.elector.holder, what="the standby saw the leader")
    samples = scrape(standby)
    assert value(samples, "leader_election_master_status", name="ray-operator-leader") == 0
    assert not [key for key in samples if key[0] == "ray_operator_rayclusters"]
    assert value(samples, "ray_operator_reflector_lists_total", resource="pods") is None, "a standby lists nothing"
