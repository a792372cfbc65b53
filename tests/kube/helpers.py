"""Small helpers for the reflector and events tests: pods, waiting for a condition, running a reflector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from ray_operator.kube.backoff import BackoffPolicy
from ray_operator.kube.cache import CacheEvent
from ray_operator.kube.reflector import Reflector, ReflectorConfig, Resource
from ray_operator.sandbox.server import Sandbox

PODS = Resource(group="", version="v1", plural="pods")
FAST_BACKOFF = BackoffPolicy(initial_seconds=0.01, max_seconds=0.05)


def fast_config(**overrides: Any) -> ReflectorConfig:
    """Test timings: fast retries, a 2 s watchdog unless a test wants it shorter."""
    values: dict[str, Any] = {
        "request_timeout_seconds": 5.0,
        "inactivity_timeout_seconds": 2.0,
        "backoff": FAST_BACKOFF,
    }
    values.update(overrides)
    return ReflectorConfig(**values)


def pod(name: str, namespace: str = "default", labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}, **meta},
        "spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.9.0"}]},
    }


async def eventually(condition: Callable[[], bool], *, timeout: float = 3.0, what: str = "condition") -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


class Recorder:
    """Collects cache events as (type, key) and keeps the events themselves."""

    def __init__(self) -> None:
        self.events: list[CacheEvent] = []

    def __call__(self, event: CacheEvent) -> None:
        self.events.append(event)

    def seen(self, kind: str | None = None) -> list[str]:
        return [e.key for e in self.events if kind is None or e.type == kind]


@contextlib.asynccontextmanager
async def running(reflector: Reflector) -> AsyncIterator[Reflector]:
    """Run the reflector until the block ends; the block starts once it is synced and every scope watches."""
    task = asyncio.create_task(reflector.run())
    try:
        await asyncio.wait_for(reflector.synced.wait(), 5)
        scopes = len(reflector.namespaces or [None])
        await eventually(lambda: reflector.stats.watches >= scopes, what="the first watches")
        yield reflector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def requests_to(sandbox: Sandbox, path: str, *, watch: bool | None = None) -> list[dict[str, Any]]:
    """The sandbox's log of GETs to exactly ``path``, lists or watches (``watch``) or both (``None``)."""
    out = []
    for r in sandbox.control.request_log(method="GET"):
        if r["path"] != path:
            continue
        is_watch = r["query"].get("watch") == "true"
        if watch is None or watch == is_watch:
            out.append(r)
    return out
