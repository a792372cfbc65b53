"""The cache and the backoff on their own: selectors, owner index, listener isolation, delay bounds."""

from __future__ import annotations

import random
from typing import Any

import pytest
import structlog

from ray_operator.apimachinery.selectors import parse_label_selector
from ray_operator.kube.backoff import Backoff, BackoffPolicy
from ray_operator.kube.cache import Cache, CacheEvent, controller_owner_uid, object_key
from tests.kube.helpers import pod


def owned(name: str, uid: str, *, controller: bool = True, rv: str = "1") -> dict[str, Any]:
    ref = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "c", "uid": uid, "controller": controller}
    return pod(name, ownerReferences=[ref], resourceVersion=rv)


def test_list_matches_a_selector_string_a_label_selector_or_an_equality_mapping() -> None:
    cache = Cache()
    cache.upsert(pod("head", labels={"ray.io/node-type": "head", "ray.io/cluster": "c"}))
    cache.upsert(pod("worker", labels={"ray.io/node-type": "worker", "ray.io/cluster": "c"}))
    cache.upsert(pod("other", namespace="elsewhere", labels={"ray.io/node-type": "worker", "ray.io/cluster": "c"}))

    def names(objs: list[dict[str, Any]]) -> list[str]:
        return [o["metadata"]["name"] for o in objs]

    assert names(cache.list("default", labels="ray.io/node-type in (head)")) == ["head"]
    assert names(cache.list("default", labels=parse_label_selector("ray.io/node-type!=head"))) == ["worker"]
    assert names(cache.list(labels={"ray.io/cluster": "c", "ray.io/node-type": "worker"})) == ["worker", "other"]
    assert names(cache.list("nowhere")) == []


def test_owner_index_follows_upserts_and_deletes_and_ignores_non_controller_references() -> None:
    cache = Cache()
    cache.upsert(owned("a", "uid-1"))
    cache.upsert(owned("b", "uid-1", controller=False))
    assert [o["metadata"]["name"] for o in cache.controlled_by("uid-1")] == ["a"]
    cache.upsert(owned("a", "uid-2", rv="2"))
    assert cache.controlled_by("uid-1") == []
    assert [o["metadata"]["name"] for o in cache.controlled_by("uid-2")] == ["a"]
    cache.delete("default", "a")
    assert cache.controlled_by("uid-2") == []
    assert controller_owner_uid(owned("x", "u")) == "u" and controller_owner_uid(pod("y")) is None


def test_an_unchanged_resource_version_is_no_event_only_when_asked() -> None:
    cache = Cache()
    events: list[CacheEvent] = []
    cache.add_listener(events.append)
    cache.upsert(owned("a", "u", rv="5"))
    cache.upsert(owned("a", "u", rv="5"), only_if_changed=True)
    assert [e.type for e in events] == ["ADDED"]
    cache.upsert(owned("a", "u", rv="5"))
    cache.upsert(owned("a", "u", rv="6"), only_if_changed=True)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "MODIFIED"]
    cache.delete("default", "a")
    cache.delete("default", "a")  # a second delete of a missing object is nothing
    assert [e.type for e in events][-1:] == ["DELETED"] and len(events) == 4
    assert events[-1].key == "default/a" and events[-1].obj is events[-1].old


def test_a_failing_listener_is_logged_and_the_others_still_run() -> None:
    cache = Cache()
    seen: list[str] = []

    def broken(event: CacheEvent) -> None:
        raise RuntimeError("bug in a handler")

    cache.add_listener(broken)
    remove = cache.add_listener(lambda e: seen.append(e.key))
    with structlog.testing.capture_logs() as logs:
        cache.upsert(pod("a"))
    assert seen == ["default/a"]
    assert [e["event"] for e in logs] == ["cache_listener_failed"]
    remove()
    cache.upsert(pod("b"))
    assert seen == ["default/a"]


def test_object_key_is_namespace_slash_name_or_name_for_cluster_scoped() -> None:
    assert object_key(pod("a", namespace="ns")) == "ns/a"
    assert object_key({"metadata": {"name": "node-1"}}) == "node-1"


def test_backoff_doubles_to_its_cap_with_jitter_below_each_step_and_resets() -> None:
    backoff = Backoff(BackoffPolicy(initial_seconds=1, max_seconds=8, jitter=0.5), rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, step in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert step / 2 <= delay <= step
    backoff.reset()
    assert backoff.next_delay() <= 1
    exact = Backoff(BackoffPolicy(initial_seconds=0.5, max_seconds=30, jitter=0))
    assert [exact.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]


def test_backoff_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(initial_seconds=5, max_seconds=1)
    with pytest.raises(ValueError):
        BackoffPolicy(jitter=1.0)
