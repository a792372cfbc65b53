"""The events recorder against the emulator: creates, series aggregation, bounds, failures never raised."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import structlog

from ray_operator.kube.client import request_json
from ray_operator.kube.clock import ManualClock
from ray_operator.kube.events import EventRecorder, EventRecorderConfig, ObjectReference
from ray_operator.sandbox.server import Sandbox

EVENTS = "/apis/events.k8s.io/v1/namespaces/default/events"
CLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "demo", "namespace": "default", "uid": "1234-abcd", "resourceVersion": "42"},
}


def fast(**overrides: Any) -> EventRecorderConfig:
    values: dict[str, Any] = {"series_flush_seconds": 0.05, "request_timeout_seconds": 2.0}
    values.update(overrides)
    return EventRecorderConfig(**values)


@contextlib.asynccontextmanager
async def writing(recorder: EventRecorder) -> AsyncIterator[EventRecorder]:
    task = asyncio.create_task(recorder.run())
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def events(api_client: Any) -> list[dict[str, Any]]:
    return list((await request_json(api_client, "GET", EVENTS, timeout=5)).body["items"])


def writes(sandbox: Sandbox, method: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.control.request_log(method=method) if r["path"].startswith(EVENTS)]


async def test_the_first_occurrence_creates_an_events_k8s_io_event(sandbox: Sandbox, api_client: Any) -> None:
    recorder = EventRecorder(api_client=api_client, reporting_instance="ray-operator-7d9f-x2", config=fast())
    async with writing(recorder):
        recorder.normal(CLUSTER, reason="CreatedHeadPod", action="Create", note="Created head Pod default/demo-head")
        assert await recorder.flush()
    listed = (await request_json(api_client, "GET", EVENTS, timeout=5)).body
    assert listed["apiVersion"] == "events.k8s.io/v1"
    [event] = listed["items"]
    assert event["metadata"]["name"].startswith("demo.")
    assert event["reportingController"] == "raycluster-controller"
    assert event["reportingInstance"] == "ray-operator-7d9f-x2"
    assert (event["type"], event["reason"], event["action"]) == ("Normal", "CreatedHeadPod", "Create")
    assert event["note"] == "Created head Pod default/demo-head"
    assert event["regarding"] == {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": "demo",
        "namespace": "default",
        "uid": "1234-abcd",
        "resourceVersion": "42",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["eventTime"])
    assert "series" not in event
    assert recorder.stats.created == 1


async def test_repeats_update_the_series_of_one_event_instead_of_creating_more(
    sandbox: Sandbox, api_client: Any
) -> None:
    recorder = EventRecorder(api_client=api_client, reporting_instance="r1", config=fast(series_flush_seconds=0.2))
    async with writing(recorder):
        recorder.warning(CLUSTER, reason="InvalidRayClusterSpec", action="Validate", note="bad spec")
        await asyncio.sleep(0.05)  # the create is written at once
        for _ in range(999):  # a hot loop: all of these fold into the one Event
            recorder.warning(CLUSTER, reason="InvalidRayClusterSpec", action="Validate", note="bad spec")
        await asyncio.sleep(0.3)  # one flush interval
        recorder.warning(CLUSTER, reason="InvalidRayClusterSpec", action="Validate", note="bad spec")
        assert await recorder.flush()
    [event] = await events(api_client)
    assert event["series"]["count"] == 1001
    assert event["series"]["lastObservedTime"] >= event["eventTime"]
    assert re.fullmatch(r".*\.\d{6}Z", event["series"]["lastObservedTime"])
    assert len(writes(sandbox, "POST")) == 1
    patches = writes(sandbox, "PATCH")
    assert 1 <= len(patches) <= 3, f"{len(patches)} patches for 1000 repeats: not coalesced"
    assert all(p["content_type"] == "application/merge-patch+json" for p in patches)
    assert recorder.stats.coalesced == 1000


async def test_different_reason_type_or_note_are_different_events(sandbox: Sandbox, api_client: Any) -> None:
    recorder = EventRecorder(api_client=api_client, reporting_instance="r1", config=fast())
    async with writing(recorder):
        recorder.normal(CLUSTER, reason="CreatedWorkerPod", action="Create", note="Created worker Pod a")
        recorder.normal(CLUSTER, reason="CreatedWorkerPod", action="Create", note="Created worker Pod b")
        recorder.warning(CLUSTER, reason="CreatedWorkerPod", action="Create", note="Created worker Pod a")
        recorder.normal(CLUSTER, reason="DeletedWorkerPod", action="Delete", note="Created worker Pod a")
        assert await recorder.flush()
    found = await events(api_client)
    assert len(found) == 4
    assert len({e["metadata"]["name"] for e in found}) == 4
    assert all("series" not in e for e in found)


async def test_a_repeat_after_the_window_starts_a_new_event(sandbox: Sandbox, api_client: Any) -> None:
    clock = ManualClock()
    recorder = EventRecorder(
        api_client=api_client, reporting_instance="r1", clock=clock, config=fast(series_window_seconds=60)
    )
    async with writing(recorder):
        recorder.normal(CLUSTER, reason="Suspended", action="Suspend", note="suspended")
        clock.advance(59)
        recorder.normal(CLUSTER, reason="Suspended", action="Suspend", note="suspended")  # within: a series
        assert await recorder.flush()
        clock.advance(61)
        recorder.normal(CLUSTER, reason="Suspended", action="Suspend", note="suspended")  # after: a new Event
        assert await recorder.flush()
    found = sorted(await events(api_client), key=lambda e: e["eventTime"])
    assert [e.get("series", {}).get("count") for e in found] == [2, None]
    assert found[0]["eventTime"] == "2025-01-01T00:00:00.000000Z", "eventTime comes from the injected clock"


async def test_a_failing_api_never_raises_into_the_caller(sandbox: Sandbox, api_client: Any) -> None:
    sandbox.control.inject_fault(method="POST", path="/events$", status=500, count=100)
    recorder = EventRecorder(api_client=api_client, reporting_instance="r1", config=fast(max_attempts=2))
    async with writing(recorder) as rec:
        with structlog.testing.capture_logs() as logs:
            rec.warning(CLUSTER, reason="FailedToCreateHeadPod", action="Create", note="quota exceeded")
            assert await rec.flush()
        # The writer survived: a later event still goes out once the API is back.
        sandbox.control.clear_faults()
        rec.normal(CLUSTER, reason="CreatedHeadPod", action="Create", note="ok now")
        assert await rec.flush()
    assert rec.stats.failed == 1
    assert [e["giving_up"] for e in logs if e["event"] == "event_write_failed"] == [False, True]
    assert [e["reason"] for e in await events(api_client)] == ["CreatedHeadPod"]


async def test_recording_with_an_unreachable_api_returns_at_once() -> None:
    """No server at all (a closed port): the caller neither blocks nor sees an exception."""
    from kubernetes_asyncio import client

    configuration = client.Configuration()
    configuration.host = "http://127.0.0.1:9"
    async with client.ApiClient(configuration) as api:
        config = fast(max_attempts=1, writes_per_second=1000, burst=100)
        recorder = EventRecorder(api_client=api, reporting_instance="r1", config=config)
        async with writing(recorder):
            loop = asyncio.get_running_loop()
            started = loop.time()
            for i in range(100):
                recorder.normal(CLUSTER, reason="CreatedWorkerPod", action="Create", note=f"pod {i}")
            assert loop.time() - started < 0.1
            assert await recorder.flush(timeout=10)
        assert recorder.stats.failed == 100 and recorder.stats.created == 0


async def test_new_events_beyond_the_pending_bound_are_dropped_and_counted(sandbox: Sandbox, api_client: Any) -> None:
    recorder = EventRecorder(api_client=api_client, reporting_instance="r1", config=fast(max_pending=20))
    for i in range(500):  # before the writer runs: nothing is written yet, so the bound applies
        recorder.normal(CLUSTER, reason="CreatedWorkerPod", action="Create", note=f"Created worker Pod {i}")
    assert recorder.stats.dropped == 480
    async with writing(recorder):
        assert await recorder.flush()
    assert len(await events(api_client)) == 20


async def test_writes_are_rate_limited(sandbox: Sandbox, api_client: Any) -> None:
    recorder = EventRecorder(
        api_client=api_client, reporting_instance="r1", config=fast(writes_per_second=20, burst=5)
    )
    for i in range(15):
        recorder.normal(CLUSTER, reason="CreatedWorkerPod", action="Create", note=f"pod {i}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with writing(recorder):
        assert await recorder.flush()
    assert loop.time() - started >= 0.45, "15 writes with burst 5 at 20/s need at least half a second"
    assert len(await events(api_client)) == 15


async def test_a_series_whose_event_was_deleted_is_created_again_with_its_count(
    sandbox: Sandbox, api_client: Any
) -> None:
    recorder = EventRecorder(api_client=api_client, reporting_instance="r1", config=fast())
    async with writing(recorder):
        recorder.normal(CLUSTER, reason="Reconciled", action="Reconcile", note="ok")
        assert await recorder.flush()
        [first] = await events(api_client)
        await request_json(api_client, "DELETE", f"{EVENTS}/{first['metadata']['name']}", timeout=5)
        recorder.normal(CLUSTER, reason="Reconciled", action="Reconcile", note="ok")
        assert await recorder.flush()
    [again] = await events(api_client)
    assert again["metadata"]["name"] != first["metadata"]["name"]
    assert again["series"]["count"] == 2


async def test_cluster_scoped_objects_get_their_events_in_default_and_long_notes_are_cut(
    sandbox: Sandbox, api_client: Any
) -> None:
    recorder = EventRecorder(api_client=api_client, reporting_instance="r1", config=fast())
    node = ObjectReference(api_version="v1", kind="Node", name="emulator-node")
    async with writing(recorder):
        recorder.warning(node, reason="Pressure", action="Observe", note="é" * 2000)
        assert await recorder.flush()
    [event] = await events(api_client)
    assert event["regarding"] == {"apiVersion": "v1", "kind": "Node", "name": "emulator-node"}
    assert len(event["note"].encode()) <= 1024 and event["note"].startswith("éé")


async def test_writes_overlap_up_to_max_in_flight_and_never_twice_for_one_event() -> None:
    """A slow API server must not cap the recorder at one write per round trip; one Event's writes stay ordered."""
    from aiohttp import web
    from kubernetes_asyncio import client

    in_flight: list[str] = []
    peak = 0
    overlapping_one_event: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        nonlocal peak
        body = await request.json()
        name = request.match_info.get("name") or body["metadata"]["name"]
        regarding = name.split(".")[0]
        if regarding in in_flight:
            overlapping_one_event.append(regarding)
        in_flight.append(regarding)
        peak = max(peak, len(in_flight))
        await asyncio.sleep(0.05)
        in_flight.remove(regarding)
        return web.json_response(body, status=201 if request.method == "POST" else 200)

    app = web.Application()
    app.add_routes([web.post(EVENTS, slow), web.patch(EVENTS + "/{name}", slow)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    try:
        async with client.ApiClient(configuration) as api:
            config = fast(max_in_flight=4, writes_per_second=1000, burst=100, series_flush_seconds=0.0)
            recorder = EventRecorder(api_client=api, reporting_instance="r1", config=config)
            async with writing(recorder):
                for i in range(12):
                    pod = {**CLUSTER, "metadata": {**CLUSTER["metadata"], "name": f"pod-{i}", "uid": f"u{i}"}}
                    recorder.normal(pod, reason="CreatedWorkerPod", action="Create", note="created")
                for _ in range(5):  # repeats of one Event while its create may be in flight
                    recorder.normal(CLUSTER, reason="Reconciled", action="Reconcile", note="ok")
                    await asyncio.sleep(0.01)
                assert await recorder.flush(timeout=10)
    finally:
        await runner.cleanup()
    assert recorder.stats.created == 13
    assert peak == 4, "writes overlap, up to max_in_flight"
    assert overlapping_one_event == []
