"""Recreate hashes (reference §2.15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ray_operator.builders import pods, revisions
from tests.unit.builders.helpers import CONFIG, cluster, head, head_container, worker, worker_container

Edit = Callable[[dict[str, Any]], None]
BASE = revisions.cluster_revision(cluster())


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        path(raw)[key] = value

    return edit


IGNORED: dict[str, Edit] = {
    "replicas": _set(worker, "replicas", 4),
    "minReplicas": _set(worker, "minReplicas", 1),
    "maxReplicas": _set(worker, "maxReplicas", 9),
    "workersToDelete": _set(worker, "scaleStrategy", {"workersToDelete": ["demo-small-worker-abcde"]}),
    "head tolerations": _set(lambda raw: head(raw)["template"]["spec"], "tolerations", [{"key": "k"}]),
    "worker schedulingGates": _set(lambda raw: worker(raw)["template"]["spec"], "schedulingGates", [{"name": "kueue"}]),
    "upgradeStrategy": _set(lambda raw: raw["spec"], "upgradeStrategy", {"type": "Recreate"}),
    "metadata": _set(lambda raw: raw["metadata"], "labels", {"a": "b"}),
    "explicit null": _set(lambda raw: raw["spec"], "suspend", None),
}
COUNTED: dict[str, Edit] = {
    "head image": _set(head_container, "image", "rayproject/ray:2.53.0"),
    "worker resources": _set(worker_container, "resources", {"limits": {"cpu": "2"}}),
    "rayStartParams": _set(worker, "rayStartParams", {"num-cpus": "2"}),
    "rayVersion": _set(lambda raw: raw["spec"], "rayVersion", "2.53.0"),
    "worker nodeSelector": _set(lambda raw: worker(raw)["template"]["spec"], "nodeSelector", {"a": "b"}),
}


@pytest.mark.parametrize("name", IGNORED)
def test_excluded_fields_do_not_change_the_hash(name: str) -> None:
    assert revisions.cluster_revision(cluster(IGNORED[name])) == BASE


@pytest.mark.parametrize("name", COUNTED)
def test_pod_relevant_fields_change_the_hash(name: str) -> None:
    assert revisions.cluster_revision(cluster(COUNTED[name])) != BASE


def test_hash_is_sha256_hex_and_stamped_on_the_head_pod() -> None:
    assert len(BASE) == 64 and int(BASE, 16) >= 0
    annotations = pods.build_head_pod(cluster=cluster(), config=CONFIG)["metadata"]["annotations"]
    assert annotations["ray.io/upgrade-strategy-recreate-hash"] == BASE


def test_group_revisions_are_scoped_to_their_group() -> None:
    base = cluster()
    changed_worker = cluster(COUNTED["worker resources"])
    assert revisions.head_revision(changed_worker) == revisions.head_revision(base)
    assert revisions.worker_group_revision(changed_worker, "small") != revisions.worker_group_revision(base, "small")
    scaled = cluster(IGNORED["replicas"])
    assert revisions.worker_group_revision(scaled, "small") == revisions.worker_group_revision(base, "small")
    tolerated = cluster(IGNORED["head tolerations"])
    assert revisions.head_revision(tolerated) == revisions.head_revision(base)
    with pytest.raises(KeyError):
        revisions.worker_group_revision(base, "missing")
