"""``config/sharded``: the kustomize example of splitting namespaces between controller Deployments.

It must build, keep one webhook-serving Deployment (the webhook configurations are cluster-wide), and
give every shard controller-only settings, its own Lease and namespaces no other shard watches, as
the real ``ray-operator run`` parser reads its args; and no webhook or metrics Service may select a
shard's pods (they serve no webhook).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ray_operator.runtime import watched_namespaces
from tests.unit.test_kustomize import CONFIG, build, parsed_settings  # noqa: F401 - build is a fixture

Build = Callable[[Path], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def sharded(build: Build) -> list[dict[str, Any]]:  # noqa: F811 - the imported fixture
    return build(CONFIG / "sharded")


def manager(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "manager"]
    return container


def test_one_webhook_deployment_and_controller_shards_with_their_own_leases_and_namespaces(
    sharded: list[dict[str, Any]],
) -> None:
    deployments = {d["metadata"]["name"]: d for d in sharded if d["kind"] == "Deployment"}
    assert set(deployments) == {
        "ray-operator-controller-manager",
        "ray-operator-controller-manager-shard-a",
        "ray-operator-controller-manager-shard-b",
    }
    webhook = parsed_settings(manager(deployments.pop("ray-operator-controller-manager")))
    assert webhook.mode == "webhook"
    shards = {name: parsed_settings(manager(d)) for name, d in deployments.items()}
    assert {s.mode for s in shards.values()} == {"controller"}
    assert len({s.lease_name for s in shards.values()}) == len(shards), "a Lease per shard"
    watched = [set(watched_namespaces(s) or ()) for s in shards.values()]
    assert all(watched), "a shard must name its namespaces (unset would watch all of them)"
    assert sum(len(w) for w in watched) == len(set().union(*watched)), "no namespace in two shards"
    accounts = {d["metadata"]["name"] for d in sharded if d["kind"] == "ServiceAccount"}
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]
        assert pod["spec"]["serviceAccountName"] in accounts
        assert {p["name"] for p in manager(deployment)["ports"]} == {"metrics", "health"}
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_no_service_or_budget_of_the_webhook_pods_selects_a_shard(sharded: list[dict[str, Any]]) -> None:
    shard_pods = [
        d["spec"]["template"]["metadata"]["labels"]
        for d in sharded
        if d["kind"] == "Deployment" and d["metadata"]["name"].endswith(("-shard-a", "-shard-b"))
    ]
    selectors = [d["spec"]["selector"] for d in sharded if d["kind"] == "Service"]
    selectors += [d["spec"]["selector"]["matchLabels"] for d in sharded if d["kind"] == "PodDisruptionBudget"]
    assert selectors
    for labels in shard_pods:
        for selector in selectors:
            assert not selector.items() <= labels.items(), f"{selector} selects a shard's pods"
