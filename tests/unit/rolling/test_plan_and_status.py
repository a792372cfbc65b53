"""RollingUpdate as the reconciler sees it: pods with revision labels become plans (podplan) and status."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders import pods as builders
from ray_operator.builders import revisions
from ray_operator.builders.status import compute_status
from ray_operator.controller.podplan import RolloutInputs, plan_worker_group
from tests.unit.builders.helpers import CONFIG, cluster, head_container, worker, worker_container

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
OLD_TIME, RECENT = "2026-01-01T11:00:00Z", "2026-01-01T11:59:50Z"


def rolling(edit: Any = None, **options: Any) -> RayCluster:
    def change(raw: dict[str, Any]) -> None:
        raw["spec"]["upgradeStrategy"] = {"type": "RollingUpdate", "rollingUpdate": options}
        worker(raw)["replicas"] = 4
        if edit is not None:
            edit(raw)

    return cluster(change)


def new_image(raw: dict[str, Any]) -> None:
    worker_container(raw)["image"] = "rayproject/ray:2.53.0"


def pod(
    name: str,
    revision: str | None,
    *,
    ready: bool = True,
    created: str = OLD_TIME,
    group: str = "small",
    node_type: str = "worker",
    cost: int | None = None,
    replica: str | None = None,
    index: int = 0,
) -> dict[str, Any]:
    labels = {"ray.io/cluster": "demo", "ray.io/node-type": node_type, "ray.io/group": group,
              c.RAY_WORKER_GROUP_REPLICA_INDEX_LABEL: str(index)}  # fmt: skip
    if revision is not None:
        labels[c.RAY_TEMPLATE_REVISION_LABEL] = revision
    if replica is not None:
        labels[c.RAY_WORKER_GROUP_REPLICA_NAME_LABEL] = replica
    meta: dict[str, Any] = {"name": name, "uid": f"u-{name}", "labels": labels, "creationTimestamp": created}
    if cost is not None:
        meta["annotations"] = {c.POD_DELETION_COST_ANNOTATION: str(cost)}
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "ray-worker"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def inputs(built: RayCluster, *, autoscaling: bool = False, deadline: float = 600) -> RolloutInputs:
    options = built.spec.upgrade_strategy.rolling_update if built.spec.upgrade_strategy else None
    return RolloutInputs(
        target_revision=revisions.worker_pod_revision(built, "small"),
        cluster_options=options.to_dict() if options is not None else None,
        group_options=None,
        autoscaling=autoscaling,
        now=NOW,
        deadline_seconds=deadline,
    )


def plan(pods: list[dict[str, Any]], built: RayCluster, desired: int = 4, hosts: int = 1, **kw: Any) -> Any:
    return plan_worker_group(
        pods=pods,
        desired_pods=desired,
        num_of_hosts=hosts,
        suspended=False,
        workers_to_delete=kw.pop("workers_to_delete", ()),
        may_scale_down=True,
        new_replica_name=iter(f"small-r{i}" for i in itertools.count()).__next__,
        rollout=inputs(built, **kw),
    )


def test_revisions_ignore_replicas_and_kueue_fields_but_see_the_image() -> None:
    base = rolling()
    target = revisions.worker_pod_revision(base, "small")
    scaled = rolling(
        lambda raw: worker(raw).update(replicas=7, minReplicas=1, scaleStrategy={"workersToDelete": ["x"]})
    )
    kueue = rolling(
        lambda raw: worker(raw)["template"]["spec"].update(tolerations=[{"key": "k"}], schedulingGates=[{"name": "g"}])
    )
    budget = rolling(None, maxSurge=3)
    override = rolling(lambda raw: worker(raw).update(rollingUpdate={"maxSurge": 2}))
    for same in (scaled, kueue, budget, override):
        assert revisions.worker_pod_revision(same, "small") == target
    assert revisions.worker_pod_revision(rolling(new_image), "small") != target
    assert revisions.head_pod_revision(rolling(new_image)) == revisions.head_pod_revision(base), "a worker change"
    head_change = rolling(lambda raw: head_container(raw).update(image="x:1"))
    assert revisions.worker_pod_revision(head_change, "small") == target, "a head image change leaves workers alone"
    version = rolling(lambda raw: raw["spec"].update(rayVersion="2.53.0"))
    assert revisions.worker_pod_revision(version, "small") != target, "cluster-wide fields reach every group"
    assert len(target) == 16


def test_an_up_to_date_group_scales_as_usual() -> None:
    built = rolling()
    target = revisions.worker_pod_revision(built, "small")
    result = plan([pod(f"w{i}", target, index=i) for i in range(3)], built)
    assert result.rollout is None and [create.replica_index for create in result.creates] == [3]


def test_an_image_change_surges_one_and_deletes_the_idle_old_pod_once_it_is_ready() -> None:
    old_built, built = rolling(), rolling(new_image)
    old = revisions.worker_pod_revision(old_built, "small")
    target = revisions.worker_pod_revision(built, "small")
    olds = [pod("w0", old, index=0, cost=10), pod("w1", old, index=1, cost=-1), pod("w2", old, index=2),
            pod("w3", old, index=3)]  # fmt: skip
    first = plan(olds, built)
    assert ([cr.replica_index for cr in first.creates], first.deletes) == ([4], [])
    waiting = plan([*olds, pod("n0", target, ready=False, created=RECENT, index=4)], built)
    assert (waiting.creates, waiting.deletes, waiting.rollout.stalled) == ([], [], ())
    ready = plan([*olds, pod("n0", target, index=4)], built)
    assert [d.name for d in ready.deletes] == ["w1"], "the pod that says it is cheapest to delete goes first"
    assert "rolling update to template revision" in ready.deletes[0].why


def test_a_new_pod_past_the_deadline_stalls_the_group() -> None:
    built = rolling(new_image)
    target = revisions.worker_pod_revision(built, "small")
    olds = [pod(f"w{i}", "0000000000000000", index=i) for i in range(4)]
    result = plan([*olds, pod("bad", target, ready=False, created=OLD_TIME, index=4)], built, deadline=60)
    assert (result.creates, result.deletes, result.rollout.stalled) == ([], [], ("bad",))


def test_workers_to_delete_and_broken_pods_come_before_the_rollout() -> None:
    built = rolling(new_image)
    olds = [pod(f"w{i}", "0000000000000000", index=i) for i in range(4)]
    named = plan(olds, built, desired=3, workers_to_delete=["w2"])
    assert "w2" in [d.name for d in named.deletes]
    failed = [*olds[:3], {**olds[3], "status": {"phase": "Failed"}}]
    repaired = plan(failed, built)
    assert repaired.repaired and [d.name for d in repaired.deletes] == ["w3"] and repaired.rollout is None


def test_a_multi_host_group_rolls_whole_replicas() -> None:
    built = rolling(new_image)
    target = revisions.worker_pod_revision(built, "small")
    olds = [pod(f"r{r}-h{h}", "0000000000000000", replica=f"small-old{r}", index=r) for r in range(2) for h in range(2)]
    first = plan(olds, built, desired=4, hosts=2)
    assert [(cr.replica_name, cr.host_index, cr.replica_index) for cr in first.creates] == [
        ("small-r0", 0, 2),
        ("small-r0", 1, 2),
    ]
    news = [pod(f"n-h{h}", target, replica="small-r0", index=2) for h in range(2)]
    second = plan([*olds, *news], built, desired=4, hosts=2)
    assert sorted(d.name for d in second.deletes) == ["r0-h0", "r0-h1"], "a whole old replica goes at once"


def _status(built: RayCluster, pods: list[dict[str, Any]]) -> dict[str, Any]:
    return compute_status(cluster=built, pods=pods, head_service=None, now=NOW)


def _upgrading(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((cond for cond in status["conditions"] if cond["type"] == "RayClusterUpgrading"), None)


def test_status_reports_each_group_and_the_upgrading_condition() -> None:
    built = rolling(new_image)
    target = revisions.worker_pod_revision(built, "small")
    head = pod("demo-head", revisions.head_pod_revision(built), node_type="head", group="headgroup")
    pods = [head, *(pod(f"w{i}", "0000000000000000") for i in range(3)), pod("n0", target),
            pod("n1", target, ready=False, created=RECENT)]  # fmt: skip
    status = _status(built, pods)
    assert status["workerGroups"] == [
        {"groupName": "small", "replicas": 5, "readyReplicas": 4, "updatedReplicas": 2, "targetRevision": target}
    ]
    assert status["head"]["targetRevision"] == status["head"]["revision"] == revisions.head_pod_revision(built)
    condition = _upgrading(status)
    assert condition is not None and (condition["status"], condition["reason"]) == ("True", "RollingUpdateInProgress")
    assert condition["message"] == (
        f"worker group small: 2 of 5 pods on revision {target}; waiting for Pod n1 to become Ready"
    )


def test_status_names_a_stalled_pod_and_clears_when_everything_is_updated() -> None:
    built = rolling(new_image, progressDeadlineSeconds=60)
    target = revisions.worker_pod_revision(built, "small")
    head = pod("demo-head", revisions.head_pod_revision(built), node_type="head", group="headgroup")
    stalled = _status(built, [head, pod("w0", "0000000000000000"), pod("bad", target, ready=False)])
    condition = _upgrading(stalled)
    assert condition is not None and condition["reason"] == "RolloutStalled"
    assert condition["message"].startswith("worker group small: Pod bad did not become Ready within 60s")
    done = _upgrading(_status(built, [head, pod("n0", target)]))
    assert done is not None and (done["status"], done["reason"]) == ("False", "AllPodsUpdated")


def test_no_upgrading_condition_without_a_replacing_strategy() -> None:
    built = cluster()
    status = _status(built, [pod("w0", "0000000000000000")])
    assert _upgrading(status) is None
    assert status["workerGroups"][0]["updatedReplicas"] == 0


def test_the_head_waits_for_the_workers_in_the_message() -> None:
    built = rolling(lambda raw: (new_image(raw), raw["spec"].update(rayVersion="2.53.0")))
    head = pod("demo-head", "0000000000000000", node_type="head", group="headgroup")
    condition = _upgrading(_status(built, [head, pod("w0", "0000000000000000")]))
    assert condition is not None and condition["message"].endswith(
        f"head: to be replaced after the worker groups by revision {revisions.head_pod_revision(built)}"
    )


def test_built_pods_carry_the_revision_the_status_compares() -> None:
    built = rolling()
    body = builders.build_worker_pod(cluster=built, group_name="small", config=CONFIG, replica_index=0)
    assert body["metadata"]["labels"][c.RAY_TEMPLATE_REVISION_LABEL] == revisions.worker_pod_revision(built, "small")
