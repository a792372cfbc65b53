"""The reflector against the real in-process emulator: lists, watches, 410s, faults, watchdog, filters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import client

from ray_operator.kube.cache import Cache
from ray_operator.kube.reflector import Reflector, Resource
from ray_operator.sandbox.server import Sandbox
from tests.kube.helpers import PODS, Recorder, eventually, fast_config, pod, requests_to, running

POD_PATH = "/api/v1/namespaces/default/pods"


def names(cache: Cache, namespace: str | None = None) -> list[str]:
    return [o["metadata"]["name"] for o in cache.list(namespace)]


async def test_initial_list_is_paginated_and_fills_the_cache(sandbox: Sandbox, api_client: Any) -> None:
    sandbox.control.seed([pod(f"p-{i:02d}") for i in range(25)])
    recorder = Recorder()
    cache = Cache()
    cache.add_listener(recorder)
    reflector = Reflector(
        api_client=api_client, resource=PODS, cache=cache, namespaces=["default"], config=fast_config(page_size=10)
    )
    assert not reflector.synced.is_set()
    async with running(reflector):
        assert names(cache) == [f"p-{i:02d}" for i in range(25)]
        assert sorted(recorder.seen("ADDED")) == [f"default/p-{i:02d}" for i in range(25)]
        lists = requests_to(sandbox, POD_PATH, watch=False)
        assert [r["query"].get("limit") for r in lists] == ["10", "10", "10"]
        assert ["continue" in r["query"] for r in lists] == [False, True, True]
        assert "resourceVersion" not in lists[0]["query"], "a paginated list must be a consistent read"
        await eventually(lambda: bool(requests_to(sandbox, POD_PATH, watch=True)), what="the watch")
        watches = requests_to(sandbox, POD_PATH, watch=True)
        assert watches[0]["query"]["allowWatchBookmarks"] == "true"
        assert int(watches[0]["query"]["timeoutSeconds"]) >= 300
        assert watches[0]["query"]["resourceVersion"] == reflector.resource_versions["default"]
        assert reflector.stats.lists == 1 and reflector.stats.relists == 0
        # Listed objects look like watched ones: items of built-in lists carry no apiVersion/kind.
        assert cache.get("default", "p-00") is not None
        assert cache.get("default", "p-00")["kind"] == "Pod"  # type: ignore[index]
        assert cache.get("default", "p-00")["apiVersion"] == "v1"  # type: ignore[index]


async def test_live_add_modify_delete_reach_the_callbacks_with_old_and_new(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    cache = Cache()
    recorder = Recorder()
    cache.add_listener(recorder)
    async with running(Reflector(api_client=api_client, resource=PODS, cache=cache, config=fast_config())):
        await core.create_namespaced_pod("default", pod("live", labels={"v": "1"}))
        await eventually(lambda: recorder.seen() == ["default/live"], what="ADDED")
        await core.patch_namespaced_pod("live", "default", {"metadata": {"labels": {"v": "2"}}})
        await eventually(lambda: len(recorder.events) == 2, what="MODIFIED")
        modified = recorder.events[1]
        assert modified.type == "MODIFIED"
        assert modified.old is not None and modified.old["metadata"]["labels"] == {"v": "1"}
        assert modified.new is not None and modified.new["metadata"]["labels"] == {"v": "2"}
        await core.delete_namespaced_pod("live", "default")
        await eventually(lambda: len(recorder.events) == 3, what="DELETED")
        deleted = recorder.events[2]
        assert deleted.type == "DELETED" and deleted.new is None
        assert deleted.old is not None and deleted.old["metadata"]["labels"] == {"v": "2"}
        assert cache.get("default", "live") is None


@pytest.mark.parametrize("sandbox", [{"bookmark_interval": 0.05}], indirect=True)
async def test_bookmarks_keep_a_quiet_watch_alive_and_move_its_resource_version(
    sandbox: Sandbox, api_client: Any
) -> None:
    core: Any = client.CoreV1Api(api_client)
    reflector = Reflector(
        api_client=api_client,
        resource=PODS,
        namespaces=["default"],
        config=fast_config(inactivity_timeout_seconds=0.3, watch_timeout_seconds=1),
    )
    async with running(reflector):
        listed_rv = int(reflector.resource_versions["default"] or 0)
        # A write to another kind moves the server's revision; only a bookmark tells the pod watch.
        await core.create_namespaced_config_map("default", {"metadata": {"name": "elsewhere"}})
        await eventually(
            lambda: int(reflector.resource_versions["default"] or 0) > listed_rv, what="a bookmark's resourceVersion"
        )
        bookmark_rv = reflector.resource_versions["default"]
        # The server ends the watch after timeoutSeconds=1; the next one resumes from the bookmark, no relist.
        await eventually(lambda: len(requests_to(sandbox, POD_PATH, watch=True)) >= 2, what="a second watch")
        second = requests_to(sandbox, POD_PATH, watch=True)[1]
        assert int(second["query"]["resourceVersion"]) >= int(bookmark_rv or 0)
        assert reflector.stats.watch_restarts["inactivity"] == 0, "bookmarks are activity"
        assert reflector.stats.watch_restarts["closed"] >= 1
        assert reflector.stats.relists == 0
        assert len(requests_to(sandbox, POD_PATH, watch=False)) == 1


async def test_a_silent_watch_is_restarted_by_the_watchdog(sandbox: Sandbox, api_client: Any) -> None:
    """The emulator sends bookmarks every 60 s by default, so with a 0.3 s watchdog the watch looks dead."""
    core: Any = client.CoreV1Api(api_client)
    cache = Cache()
    reflector = Reflector(
        api_client=api_client, resource=PODS, cache=cache, config=fast_config(inactivity_timeout_seconds=0.3)
    )
    async with running(reflector):
        await eventually(lambda: reflector.stats.watch_restarts["inactivity"] >= 2, what="watchdog restarts")
        await eventually(lambda: len(requests_to(sandbox, "/api/v1/pods", watch=True)) >= 3, what="the re-watches")
        assert reflector.stats.relists == 0, "a restart resumes from the last resourceVersion"
        watches = requests_to(sandbox, "/api/v1/pods", watch=True)
        assert all(w["query"]["resourceVersion"] == watches[0]["query"]["resourceVersion"] for w in watches)
        await core.create_namespaced_pod("default", pod("after-restarts"))
        await eventually(lambda: cache.get("default", "after-restarts") is not None, what="the pod after restarts")


@pytest.mark.parametrize("sandbox", [{"bookmark_interval": 0.05}], indirect=True)
async def test_the_watchdog_also_covers_a_server_that_never_sends_headers(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    cache = Cache()
    reflector = Reflector(
        api_client=api_client,
        resource=PODS,
        cache=cache,
        namespaces=["default"],
        config=fast_config(inactivity_timeout_seconds=0.3, watch_timeout_seconds=1),
    )
    async with running(reflector):
        # The next request to the pods path (the re-watch after the server ends this one) hangs for 30 s.
        sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", delay=30, status=None)
        await eventually(lambda: reflector.stats.watch_restarts["inactivity"] == 1, timeout=4, what="watchdog")
        await core.create_namespaced_pod("default", pod("after-hang"))
        await eventually(lambda: cache.get("default", "after-hang") is not None, what="the pod after the hang")
        assert reflector.stats.relists == 0


async def test_410_after_a_disconnect_relists_and_deletes_what_vanished_meanwhile(
    sandbox: Sandbox, api_client: Any
) -> None:
    core: Any = client.CoreV1Api(api_client)
    sandbox.control.seed([pod("keep-1"), pod("doomed"), pod("keep-2")])
    cache = Cache()
    recorder = Recorder()
    cache.add_listener(recorder)
    reflector = Reflector(
        api_client=api_client,
        resource=PODS,
        cache=cache,
        namespaces=["default"],
        config=fast_config(watch_timeout_seconds=1),
    )
    async with running(reflector):
        recorder.events.clear()
        # Cut the operator off: every GET on the pods path fails until the faults are cleared.
        sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", status=503, count=100000)
        await eventually(
            lambda: any(r["status"] == 503 for r in requests_to(sandbox, POD_PATH)), what="the re-watch failing"
        )
        await core.delete_namespaced_pod("doomed", "default")
        await core.create_namespaced_pod("default", pod("newcomer"))
        await core.patch_namespaced_pod("keep-2", "default", {"metadata": {"labels": {"changed": "yes"}}})
        sandbox.control.compact()  # the events above are gone from the watch history
        assert recorder.events == [], "nothing can have been seen while cut off"
        sandbox.control.clear_faults()
        await eventually(lambda: reflector.stats.relists == 1, what="a relist after the 410")
        assert names(cache) == ["keep-1", "keep-2", "newcomer"]
        assert sorted((e.type, e.key) for e in recorder.events) == [
            ("ADDED", "default/newcomer"),
            ("DELETED", "default/doomed"),
            ("MODIFIED", "default/keep-2"),
        ], "unchanged keep-1 gives no event; the vanished pod gives its DELETED"
        deleted = next(e for e in recorder.events if e.type == "DELETED")
        assert deleted.old is not None and deleted.old["metadata"]["name"] == "doomed"
        assert reflector.stats.watch_restarts["expired"] == 1
        assert reflector.stats.errors >= 1
        # And it is watching again.
        await core.create_namespaced_pod("default", pod("later"))
        await eventually(lambda: cache.get("default", "later") is not None, what="a live event after the relist")


async def test_an_http_410_on_the_watch_request_relists_too(sandbox: Sandbox, api_client: Any) -> None:
    sandbox.control.seed([pod("a"), pod("b")])
    cache = Cache()
    recorder = Recorder()
    cache.add_listener(recorder)
    reflector = Reflector(
        api_client=api_client,
        resource=PODS,
        cache=cache,
        namespaces=["default"],
        config=fast_config(watch_timeout_seconds=1),
    )
    async with running(reflector):
        recorder.events.clear()
        sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", status=410, count=1, message="too old")
        await eventually(lambda: reflector.stats.relists == 1, what="a relist after HTTP 410")
        assert reflector.stats.watch_restarts["expired"] == 1
        assert recorder.events == [], "a relist of unchanged objects enqueues nothing"
        assert names(cache) == ["a", "b"]


async def test_server_errors_on_the_initial_list_are_retried_until_it_succeeds(
    sandbox: Sandbox, api_client: Any
) -> None:
    sandbox.control.seed([pod("a")])
    sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", status=500, count=3)
    reflector = Reflector(api_client=api_client, resource=PODS, namespaces=["default"], config=fast_config())
    async with running(reflector):
        assert names(reflector.cache) == ["a"]
        assert reflector.stats.errors == 3
        assert reflector.stats.lists == 1 and reflector.stats.relists == 0, "failed attempts are not lists"
        assert [r["status"] for r in requests_to(sandbox, POD_PATH, watch=False)] == [500, 500, 500, 200]


async def test_429_retry_after_is_honoured_instead_of_the_backoff(sandbox: Sandbox, api_client: Any) -> None:
    sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", status=429, retry_after=1)
    reflector = Reflector(api_client=api_client, resource=PODS, namespaces=["default"], config=fast_config())
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with running(reflector):
        waited = loop.time() - started
    assert waited >= 0.95, f"retried after {waited:.3f} s, not after the server's Retry-After of 1 s"


async def test_retry_after_is_capped(sandbox: Sandbox, api_client: Any) -> None:
    sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", status=429, retry_after=120)
    reflector = Reflector(
        api_client=api_client, resource=PODS, namespaces=["default"], config=fast_config(max_retry_after_seconds=0.1)
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with running(reflector):
        assert loop.time() - started < 2


async def test_a_dropped_watch_connection_is_reconnected(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    cache = Cache()
    reflector = Reflector(
        api_client=api_client,
        resource=PODS,
        cache=cache,
        namespaces=["default"],
        config=fast_config(watch_timeout_seconds=1),
    )
    async with running(reflector):
        # aiohttp retries an idempotent request once on a dropped kept-alive connection: drop two.
        sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", drop=True, count=2)
        await eventually(lambda: reflector.stats.watch_restarts["error"] >= 1, what="the dropped re-watch")
        await core.create_namespaced_pod("default", pod("after-drop"))
        await eventually(lambda: cache.get("default", "after-drop") is not None, what="the pod after the drop")
        assert reflector.stats.relists == 0


@pytest.mark.parametrize("sandbox", [{"watcher_queue_size": 2}], indirect=True)
async def test_a_watch_cut_off_mid_stream_reconnects_from_where_it_was(sandbox: Sandbox, api_client: Any) -> None:
    """The emulator closes a watcher that falls behind (as the API server does); the client must re-watch."""
    core: Any = client.CoreV1Api(api_client)
    cache = Cache()
    reflector = Reflector(
        api_client=api_client, resource=PODS, cache=cache, namespaces=["default"], config=fast_config()
    )
    async with running(reflector):
        # Seeding commits all five in one go, so the watcher's queue overflows and the stream is closed.
        sandbox.control.seed([pod(f"burst-{i}") for i in range(5)])
        await eventually(lambda: len(cache) == 5, what="all five pods")
        assert reflector.stats.watch_restarts["closed"] >= 1
        assert reflector.stats.relists == 0, "the history still has the events: resume, no relist"
        await core.create_namespaced_pod("default", pod("after-overflow"))
        await eventually(lambda: cache.get("default", "after-overflow") is not None, what="a live event")


async def test_namespace_scoping_lists_and_watches_each_namespace_and_nothing_else(
    sandbox: Sandbox, api_client: Any
) -> None:
    core: Any = client.CoreV1Api(api_client)
    for ns in ("team-a", "team-b"):
        await core.create_namespace({"metadata": {"name": ns}})
    sandbox.control.seed([pod("a1", "team-a"), pod("b1", "team-b"), pod("d1", "default")])
    cache = Cache()
    reflector = Reflector(
        api_client=api_client, resource=PODS, cache=cache, namespaces=["team-a", "default"], config=fast_config()
    )
    async with running(reflector):
        assert sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in cache) == [
            ("default", "d1"),
            ("team-a", "a1"),
        ]
        assert reflector.namespaces == ["team-a", "default"]
        await core.create_namespaced_pod("team-b", pod("b2", "team-b"))
        await core.create_namespaced_pod("team-a", pod("a2", "team-a"))
        await eventually(lambda: names(cache, "team-a") == ["a1", "a2"], what="the team-a pod")
        assert names(cache, "team-b") == []
        assert requests_to(sandbox, "/api/v1/pods") == [], "never a cluster-wide request"
        assert requests_to(sandbox, "/api/v1/namespaces/team-b/pods") == []
        assert len(requests_to(sandbox, "/api/v1/namespaces/team-a/pods", watch=True)) >= 1


async def test_a_relist_of_one_namespace_deletes_only_in_that_namespace(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    await core.create_namespace({"metadata": {"name": "team-a"}})
    sandbox.control.seed([pod("a1", "team-a"), pod("a-doomed", "team-a"), pod("d1", "default")])
    cache = Cache()
    reflector = Reflector(
        api_client=api_client,
        resource=PODS,
        cache=cache,
        namespaces=["team-a", "default"],
        config=fast_config(watch_timeout_seconds=1),
    )
    async with running(reflector):
        sandbox.control.inject_fault(method="GET", path="^/api/v1/namespaces/team-a/pods$", status=503, count=100000)
        await eventually(
            lambda: any(r["status"] == 503 for r in requests_to(sandbox, "/api/v1/namespaces/team-a/pods")),
            what="team-a's re-watch failing",
        )
        await core.delete_namespaced_pod("a-doomed", "team-a")
        sandbox.control.compact()
        sandbox.control.clear_faults()
        await eventually(lambda: reflector.stats.relists == 1, what="team-a's relist")
        assert sorted(o["metadata"]["name"] for o in cache) == ["a1", "d1"]


async def test_label_selector_goes_to_the_server_and_keep_filters_what_it_cannot(
    sandbox: Sandbox, api_client: Any
) -> None:
    core: Any = client.CoreV1Api(api_client)
    sandbox.control.seed(
        [
            pod("head", labels={"ray.io/node-type": "head"}),
            pod("worker", labels={"ray.io/node-type": "worker"}),
            pod("ignored-worker", labels={"ray.io/node-type": "worker", "skip": "yes"}),
            pod("unrelated", labels={"app": "web"}),
        ]
    )
    cache = Cache()
    recorder = Recorder()
    cache.add_listener(recorder)
    selector = "ray.io/node-type in (head,worker,redis-cleanup)"
    reflector = Reflector(
        api_client=api_client,
        resource=PODS,
        cache=cache,
        label_selector=selector,
        keep=lambda obj: obj["metadata"].get("labels", {}).get("skip") != "yes",
        config=fast_config(),
    )
    async with running(reflector):
        assert names(cache) == ["head", "worker"]
        assert all(r["query"].get("labelSelector") == selector for r in requests_to(sandbox, "/api/v1/pods"))
        # A kept pod that becomes unwanted leaves the cache with a DELETED callback.
        await core.patch_namespaced_pod("worker", "default", {"metadata": {"labels": {"skip": "yes"}}})
        await eventually(lambda: "default/worker" in recorder.seen("DELETED"), what="the worker leaving the cache")
        assert names(cache) == ["head"]
        # A pod that leaves the server-side selector arrives as DELETED from the server.
        await core.patch_namespaced_pod("head", "default", {"metadata": {"labels": {"ray.io/node-type": None}}})
        await eventually(lambda: names(cache) == [], what="the head leaving the selector")
        assert cache.list(labels={"ray.io/node-type": "head"}) == []


async def test_managed_fields_are_dropped_by_default(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    await core.create_namespaced_pod("default", pod("listed"), field_manager="someone")
    trimmed, untouched = Cache(), Cache()
    default = Reflector(api_client=api_client, resource=PODS, cache=trimmed, config=fast_config())
    raw = Reflector(api_client=api_client, resource=PODS, cache=untouched, transform=None, config=fast_config())
    async with running(default), running(raw):
        await core.create_namespaced_pod("default", pod("watched"), field_manager="someone")
        await eventually(lambda: len(trimmed) == 2 and len(untouched) == 2, what="both pods in both caches")
        assert all("managedFields" in o["metadata"] for o in untouched), "the server does send managedFields"
        assert not any("managedFields" in o["metadata"] for o in trimmed)


async def test_the_owner_index_finds_the_objects_a_controller_owns(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    owner = await core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    other = await core.create_namespaced_config_map("default", {"metadata": {"name": "other"}})

    def ref(cm: Any, controller: bool) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": cm.metadata.name,
            "uid": cm.metadata.uid,
            "controller": controller,
        }

    sandbox.control.seed(
        [
            pod("owned-1", ownerReferences=[ref(owner, True)]),
            pod("owned-2", ownerReferences=[ref(owner, True)]),
            pod("only-referenced", ownerReferences=[ref(owner, False)]),
            pod("someone-elses", ownerReferences=[ref(other, True)]),
        ]
    )
    cache = Cache()
    async with running(Reflector(api_client=api_client, resource=PODS, cache=cache, config=fast_config())):
        uid = owner.metadata.uid
        assert [o["metadata"]["name"] for o in cache.controlled_by(uid)] == ["owned-1", "owned-2"]
        await core.patch_namespaced_pod(
            "owned-2",
            "default",
            {"metadata": {"ownerReferences": [ref(other, True)]}},
            _content_type="application/merge-patch+json",  # replace the list; SMP would merge by uid
        )
        await eventually(lambda: len(cache.controlled_by(uid)) == 1, what="the index following the owner change")
        assert [o["metadata"]["name"] for o in cache.controlled_by(other.metadata.uid)] == ["owned-2", "someone-elses"]
        await core.delete_namespaced_pod("owned-1", "default")
        await eventually(lambda: cache.controlled_by(uid) == [], what="the index following the delete")


async def test_a_cluster_scoped_kind_is_listed_and_watched_cluster_wide(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    cache = Cache()
    namespaces = Resource(group="", version="v1", plural="namespaces", namespaced=False)
    async with running(Reflector(api_client=api_client, resource=namespaces, cache=cache, config=fast_config())):
        assert [o["metadata"]["name"] for o in cache.list()] == [
            "default",
            "kube-node-lease",
            "kube-public",
            "kube-system",
        ]
        await core.create_namespace({"metadata": {"name": "fresh"}})
        await eventually(lambda: cache.get("", "fresh") is not None, what="the new namespace")
    with pytest.raises(ValueError, match="cluster-scoped"):
        Reflector(api_client=api_client, resource=namespaces, namespaces=["default"])


async def test_a_custom_resource_is_reflected_like_a_built_in(sandbox: Sandbox, api_client: Any) -> None:
    """Generic over group/version/plural: a small CRD goes through the same code as pods."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    await client.ApiextensionsV1Api(api_client).create_custom_resource_definition(crd)
    custom: Any = client.CustomObjectsApi(api_client)
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "size": 3}
    await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget)
    cache = Cache()
    widgets = Resource(group="example.com", version="v1", plural="widgets")
    async with running(Reflector(api_client=api_client, resource=widgets, cache=cache, config=fast_config())):
        w1 = cache.get("default", "w1")
        assert w1 is not None and w1["kind"] == "Widget" and w1["size"] == 3
        await custom.patch_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w1", {"size": 4}, _content_type="application/merge-patch+json"
        )
        await eventually(lambda: (cache.get("default", "w1") or {}).get("size") == 4, what="the patched widget")


async def test_a_410_on_the_list_itself_backs_off_instead_of_spinning(sandbox: Sandbox, api_client: Any) -> None:
    """Only a watch's 410 means 'relist now'; a list answered 410 is an error like any other."""
    from ray_operator.kube.backoff import BackoffPolicy

    sandbox.control.inject_fault(method="GET", path=f"^{POD_PATH}$", status=410, count=100000)
    config = fast_config(backoff=BackoffPolicy(initial_seconds=0.05, max_seconds=0.1, jitter=0))
    reflector = Reflector(api_client=api_client, resource=PODS, namespaces=["default"], config=config)
    task = asyncio.create_task(reflector.run())
    await asyncio.sleep(0.4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    attempts = len(requests_to(sandbox, POD_PATH))
    assert 2 <= attempts <= 8, f"{attempts} list attempts in 0.4 s"
    assert not reflector.synced.is_set()
