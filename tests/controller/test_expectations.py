"""Scale expectations (KubeRay §2.18): a group waits until the cache shows our own creates and deletes."""

from __future__ import annotations

from typing import Any

import structlog

from ray_operator.controller.expectations import Action, ScaleExpectations
from ray_operator.kube.clock import ManualClock

CLUSTER = "default/demo"


class FakeCache:
    def __init__(self, *names: str) -> None:
        self.pods: dict[str, dict[str, Any]] = {n: {"metadata": {"name": n}} for n in names}

    def lookup(self, name: str) -> dict[str, Any] | None:
        return self.pods.get(name)


def test_nothing_recorded_is_satisfied() -> None:
    assert ScaleExpectations(clock=ManualClock()).satisfied(CLUSTER, "workers", FakeCache().lookup)


def test_a_create_is_unsatisfied_until_the_cache_has_the_pod() -> None:
    exp = ScaleExpectations(clock=ManualClock())
    cache = FakeCache()
    exp.expect_create(CLUSTER, "workers", "demo-workers-abcde")
    assert not exp.satisfied(CLUSTER, "workers", cache.lookup)
    assert [(e.pod_name, e.action) for e in exp.pending(CLUSTER)] == [("demo-workers-abcde", Action.CREATE)]
    cache.pods["demo-workers-abcde"] = {}
    assert exp.satisfied(CLUSTER, "workers", cache.lookup)
    assert exp.pending(CLUSTER) == [], "a satisfied record is dropped"
    del cache.pods["demo-workers-abcde"]  # deleted later by someone else: no longer our concern
    assert exp.satisfied(CLUSTER, "workers", cache.lookup)


def test_a_delete_is_unsatisfied_while_the_cache_still_has_the_pod() -> None:
    exp = ScaleExpectations(clock=ManualClock())
    cache = FakeCache("demo-head")
    exp.expect_delete(CLUSTER, "", "demo-head")
    assert not exp.satisfied(CLUSTER, "", cache.lookup)
    del cache.pods["demo-head"]
    assert exp.satisfied(CLUSTER, "", cache.lookup)


def test_groups_and_clusters_are_independent() -> None:
    exp = ScaleExpectations(clock=ManualClock())
    cache = FakeCache()
    exp.expect_create(CLUSTER, "small", "demo-small-1")
    assert exp.satisfied(CLUSTER, "large", cache.lookup)
    assert exp.satisfied("default/other", "small", cache.lookup)
    assert not exp.satisfied(CLUSTER, "small", cache.lookup)


def test_one_unseen_pod_keeps_the_group_waiting() -> None:
    exp = ScaleExpectations(clock=ManualClock())
    cache = FakeCache("w-1")
    exp.expect_create(CLUSTER, "workers", "w-1")
    exp.expect_create(CLUSTER, "workers", "w-2")
    assert not exp.satisfied(CLUSTER, "workers", cache.lookup)
    assert [e.pod_name for e in exp.pending(CLUSTER, "workers")] == ["w-2"]


def test_an_expectation_times_out_after_30_seconds_with_a_warning() -> None:
    clock = ManualClock()
    exp = ScaleExpectations(clock=clock)
    exp.expect_create(CLUSTER, "workers", "w-1")
    clock.advance(29.9)
    assert not exp.satisfied(CLUSTER, "workers", FakeCache().lookup)
    clock.advance(0.1)
    with structlog.testing.capture_logs() as logs:
        assert exp.satisfied(CLUSTER, "workers", FakeCache().lookup)
    assert [(e["event"], e["pod"], e["action"]) for e in logs] == [("expectation_timed_out", "w-1", "create")]
    assert exp.pending(CLUSTER) == []


def test_a_newer_record_for_the_same_pod_replaces_the_older() -> None:
    clock = ManualClock()
    exp = ScaleExpectations(clock=clock, timeout=10)
    cache = FakeCache("w-1")
    exp.expect_create(CLUSTER, "workers", "w-1")
    exp.expect_delete(CLUSTER, "workers", "w-1")
    assert not exp.satisfied(CLUSTER, "workers", cache.lookup), "the delete is what we wait for now"


def test_forget_cluster_drops_every_record_of_that_cluster_only() -> None:
    exp = ScaleExpectations(clock=ManualClock())
    cache = FakeCache()
    exp.expect_create(CLUSTER, "", "demo-head")
    exp.expect_create(CLUSTER, "workers", "w-1")
    exp.expect_create("default/other", "workers", "o-1")
    exp.forget_cluster(CLUSTER)
    assert exp.satisfied(CLUSTER, "", cache.lookup)
    assert exp.satisfied(CLUSTER, "workers", cache.lookup)
    assert not exp.satisfied("default/other", "workers", cache.lookup)
