"""Pod decisions of the reconciler (reference §2.12, §2.13), as pure plans over observed pods."""

from __future__ import annotations

import itertools
from typing import Any

from ray_operator.api import constants as c
from ray_operator.controller.podplan import plan_head, plan_worker_group, unhealthy_reason


def pod(
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    created: str = "2026-01-01T00:00:00Z",
    index: int | None = None,
    replica: str | None = None,
    restart: str = "Always",
    ray_terminated: bool = False,
    terminating: bool = False,
) -> dict[str, Any]:
    labels: dict[str, str] = {}
    if index is not None:
        labels[c.RAY_WORKER_GROUP_REPLICA_INDEX_LABEL] = str(index)
    if replica is not None:
        labels[c.RAY_WORKER_GROUP_REPLICA_NAME_LABEL] = replica
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "creationTimestamp": created, "labels": labels}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-02T00:00:00Z"
    state = {"terminated": {"exitCode": 1}} if ray_terminated else {"running": {}}
    return {
        "metadata": meta,
        "spec": {"restartPolicy": restart, "containers": [{"name": "ray-worker"}, {"name": "sidecar"}]},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "ray-worker", "state": state}, {"name": "sidecar", "state": {}}],
        },
    }


def names(deletes: Any) -> list[str]:
    return [d.name for d in deletes]


def group(pods: list[dict[str, Any]], desired: int, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "num_of_hosts": 1,
        "suspended": False,
        "workers_to_delete": [],
        "may_scale_down": True,
        "new_replica_name": iter(f"g-r{i}" for i in itertools.count()).__next__,
    }
    options.update(kw)
    return plan_worker_group(pods=pods, desired_pods=desired, **options)


# --- health -----------------------------------------------------------------------------------------


def test_the_health_rule_is_the_builders_one() -> None:
    assert unhealthy_reason(pod("a", phase="Failed")) is not None
    assert unhealthy_reason(pod("a", phase="Pending")) is None
    assert unhealthy_reason(pod("a", ray_terminated=True, restart="Always")) is None
    assert unhealthy_reason(pod("a", ray_terminated=True, restart="Never")) is not None


# --- head -------------------------------------------------------------------------------------------


def test_missing_head_is_created() -> None:
    assert plan_head(heads=[], provisioned=False, restart_disabled=False).create


def test_missing_head_is_not_recreated_when_restart_is_disabled_after_provisioning() -> None:
    assert not plan_head(heads=[], provisioned=True, restart_disabled=True).create
    assert plan_head(heads=[], provisioned=False, restart_disabled=True).create


def test_terminating_head_does_not_count_so_the_replacement_starts() -> None:
    assert plan_head(heads=[pod("h", terminating=True)], provisioned=True, restart_disabled=False).create


def test_failed_head_is_deleted_and_nothing_created_in_the_same_pass() -> None:
    plan = plan_head(heads=[pod("h", phase="Failed")], provisioned=True, restart_disabled=False)
    assert names(plan.deletes) == ["h"] and not plan.create


def test_two_heads_keep_the_oldest() -> None:
    old = pod("h-old", created="2026-01-01T00:00:00Z")
    new = pod("h-new", created="2026-01-02T00:00:00Z")
    plan = plan_head(heads=[new, old], provisioned=True, restart_disabled=False)
    assert names(plan.deletes) == ["h-new"] and plan.extra_heads == 1 and not plan.create


# --- single-host groups ---------------------------------------------------------------------------


def test_scale_up_takes_the_lowest_free_replica_indexes() -> None:
    plan = group([pod("w0", index=0), pod("w2", index=2)], 5)
    assert [create.replica_index for create in plan.creates] == [1, 3, 4]
    assert not plan.deletes


def test_scale_down_removes_unready_pods_first_then_the_newest() -> None:
    pods = [
        pod("old", created="2026-01-01T00:00:00Z"),
        pod("new", created="2026-01-03T00:00:00Z"),
        pod("mid-unready", created="2026-01-02T00:00:00Z", ready=False),
    ]
    assert names(group(pods, 1).deletes) == ["mid-unready", "new"]


def test_no_scale_down_when_the_autoscaler_decides() -> None:
    plan = group([pod("a"), pod("b")], 1, may_scale_down=False)
    assert not plan.deletes and not plan.creates


def test_workers_to_delete_only_touches_pods_of_this_group() -> None:
    plan = group([pod("a"), pod("b")], 2, workers_to_delete=["b", "someone-elses-pod", "b"])
    assert names(plan.deletes) == ["b"]
    assert plan.ignored_workers_to_delete == ["someone-elses-pod"]
    # the deleted pod is replaced, because replicas still says 2
    assert len(plan.creates) == 1


def test_workers_to_delete_with_lowered_replicas_removes_exactly_those() -> None:
    plan = group([pod("a"), pod("b"), pod("c")], 1, workers_to_delete=["a", "c"], may_scale_down=False)
    assert names(plan.deletes) == ["a", "c"] and not plan.creates


def test_unhealthy_pods_are_deleted_and_nothing_is_created_that_pass() -> None:
    plan = group([pod("a", phase="Failed"), pod("b")], 3)
    assert names(plan.deletes) == ["a"] and not plan.creates and plan.repaired


def test_terminating_pods_are_replaced_not_counted() -> None:
    plan = group([pod("a", terminating=True), pod("b")], 2)
    assert len(plan.creates) == 1 and not plan.deletes


def test_suspended_group_deletes_every_live_pod() -> None:
    plan = group([pod("a"), pod("b", terminating=True)], 0, suspended=True)
    assert names(plan.deletes) == ["a"]


def test_deletes_carry_the_uid_precondition() -> None:
    (delete,) = group([pod("a")], 0).deletes
    assert delete.uid == "uid-a" and delete.why == "scaling down"


# --- multi-host groups -----------------------------------------------------------------------------


def hosts(replica: str, index: int, count: int = 2, **kw: Any) -> list[dict[str, Any]]:
    return [pod(f"{replica}-{h}", index=index, replica=replica, **kw) for h in range(count)]


def test_multi_host_scale_up_creates_whole_replicas() -> None:
    plan = group(hosts("g-a", 0), 6, num_of_hosts=2)
    assert [(x.replica_index, x.replica_name, x.host_index) for x in plan.creates] == [
        (1, "g-r0", 0),
        (1, "g-r0", 1),
        (2, "g-r1", 0),
        (2, "g-r1", 1),
    ]


def test_multi_host_incomplete_replica_is_deleted_whole() -> None:
    plan = group([*hosts("g-a", 0), *hosts("g-b", 1, count=1)], 4, num_of_hosts=2)
    assert names(plan.deletes) == ["g-b-0"] and not plan.creates and plan.repaired


def test_multi_host_one_sick_host_takes_its_replica_down() -> None:
    sick = hosts("g-b", 1)
    sick[1]["status"]["phase"] = "Failed"
    plan = group([*hosts("g-a", 0), *sick], 4, num_of_hosts=2)
    assert names(plan.deletes) == ["g-b-0", "g-b-1"]


def test_multi_host_workers_to_delete_expands_to_the_replica() -> None:
    plan = group([*hosts("g-a", 0), *hosts("g-b", 1)], 2, num_of_hosts=2, workers_to_delete=["g-b-1"])
    assert names(plan.deletes) == ["g-b-0", "g-b-1"] and not plan.creates


def test_multi_host_scale_down_removes_whole_replicas_newest_first() -> None:
    older = hosts("g-a", 0, created="2026-01-01T00:00:00Z")
    newer = hosts("g-b", 1, created="2026-01-02T00:00:00Z")
    assert names(group([*older, *newer], 2, num_of_hosts=2).deletes) == ["g-b-0", "g-b-1"]
