"""Which Ray pods are replaced (reference §2.12)."""

from __future__ import annotations

from typing import Any

import pytest

from ray_operator.builders.health import should_delete_pod


def pod(phase: str, *, policy: str | None = None, terminated: bool = False, other_first: bool = True) -> dict[str, Any]:
    statuses = [{"name": "sidecar", "state": {"terminated": {"reason": "Error"}}}] if other_first else []
    statuses.append(
        {"name": "ray", "state": {"terminated": {"reason": "OOMKilled"}} if terminated else {"running": {}}}
    )
    spec: dict[str, Any] = {"containers": [{"name": "ray"}, {"name": "sidecar"}]}
    if policy:
        spec["restartPolicy"] = policy
    return {"metadata": {"name": "p"}, "spec": spec, "status": {"phase": phase, "containerStatuses": statuses}}


@pytest.mark.parametrize("phase", ["Failed", "Succeeded"])
def test_terminal_phases_are_deleted(phase: str) -> None:
    assert should_delete_pod(pod(phase)).delete


def test_running_pod_with_terminated_ray_container_and_never_policy_is_deleted() -> None:
    verdict = should_delete_pod(pod("Running", policy="Never", terminated=True))
    assert verdict.delete and "OOMKilled" in verdict.reason


@pytest.mark.parametrize("policy", ["Always", "OnFailure", None])
def test_restartable_pods_are_kept(policy: str | None) -> None:
    assert not should_delete_pod(pod("Running", policy=policy, terminated=True)).delete


def test_ray_container_is_found_by_name_not_position() -> None:
    # The sidecar (listed first) terminated, the Ray container runs: keep.
    assert not should_delete_pod(pod("Running", policy="Never")).delete


def test_pending_and_healthy_pods_are_kept() -> None:
    assert not should_delete_pod(pod("Pending")).delete
    assert not should_delete_pod({"metadata": {"name": "p"}}).delete
