"""Helpers for tests that drive the whole operator against the emulator: start it, apply, wait, read.

Reads go through the real API (``request_json`` over the test's kubernetes_asyncio client), never the
operator's caches, so a test sees what a user would see.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from ray_operator.devstack import operator_settings
from ray_operator.kube.client import ApiError, request_json
from ray_operator.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
RAYCLUSTERS = "/apis/ray.io/v1/namespaces/{ns}/rayclusters"


def fast_settings(kubeconfig: Path, **overrides: Any) -> Settings:
    """The sandbox operator with test-sized timings (short requeues, a quick resync)."""
    base = operator_settings(kubeconfig=kubeconfig)
    values: dict[str, Any] = {"requeue_seconds": 0.2, "resync_seconds": 30.0, **overrides}
    return dataclasses.replace(base, **values)


def sample(name: str, kind: str = "RayCluster") -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((SAMPLES / name).read_text()) if d]
    return copy.deepcopy(next(d for d in docs if d["kind"] == kind))


def sample_documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((SAMPLES / name).read_text()) if d]


async def wait_until(
    predicate: Callable[[], Any | Awaitable[Any]], *, seconds: float = 20.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll until ``predicate()`` is truthy; returns its value; TimeoutError names ``what`` otherwise."""
    last: Any = None
    try:
        async with asyncio.timeout(seconds):
            while True:
                last = predicate()
                if inspect.isawaitable(last):
                    last = await last
                if last:
                    return last
                await asyncio.sleep(interval)
    except TimeoutError:
        raise TimeoutError(f"timed out after {seconds}s waiting for {what or predicate}; last value {last!r}") from None


class Api:
    """Raw JSON reads and writes as a user's client makes them."""

    def __init__(self, api_client: Any, namespace: str = "default") -> None:
        self.client = api_client
        self.namespace = namespace

    async def get(self, path: str, **query: str) -> Any:
        return (await request_json(self.client, "GET", path, timeout=10, query=list(query.items()))).body

    async def send(self, method: str, path: str, body: Any, *, content_type: str = "application/json") -> Any:
        return (await request_json(self.client, method, path, timeout=10, body=body, content_type=content_type)).body

    async def create_cluster(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self.send("POST", RAYCLUSTERS.format(ns=self.namespace), body)
        return created

    async def get_or_none(self, path: str) -> Any:
        """The object at ``path``, or None when it does not exist (any other error is raised)."""
        try:
            return await self.get(path)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def cluster(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.get_or_none(f"{RAYCLUSTERS.format(ns=self.namespace)}/{name}")
        return found

    async def gone(self, name: str) -> bool:
        """Whether the RayCluster ``name`` no longer exists."""
        return await self.cluster(name) is None

    async def patch_cluster(self, name: str, patch: Any, *, json_patch: bool = False) -> dict[str, Any]:
        kind = "application/json-patch+json" if json_patch else "application/merge-patch+json"
        path = f"{RAYCLUSTERS.format(ns=self.namespace)}/{name}"
        patched: dict[str, Any] = await self.send("PATCH", path, patch, content_type=kind)
        return patched

    async def delete(self, path: str) -> None:
        await request_json(self.client, "DELETE", path, timeout=10)

    async def pods(self, cluster: str, *, live_only: bool = True) -> list[dict[str, Any]]:
        items = (
            await self.get(f"/api/v1/namespaces/{self.namespace}/pods", labelSelector=f"ray.io/cluster={cluster}")
        )["items"]
        return [p for p in items if not (live_only and p["metadata"].get("deletionTimestamp"))]

    async def services(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.get(f"/api/v1/namespaces/{self.namespace}/services"))["items"]
        return items

    async def events(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.get(f"/apis/events.k8s.io/v1/namespaces/{self.namespace}/events"))[
            "items"
        ]
        return items

    async def reasons(self) -> list[str]:
        return [event["reason"] for event in await self.events()]

    async def state(self, name: str) -> str | None:
        cluster = await self.cluster(name)
        return ((cluster or {}).get("status") or {}).get("state")

    async def ready(self, name: str, *, workers: int) -> bool:
        cluster = await self.cluster(name)
        status = (cluster or {}).get("status") or {}
        pods = await self.pods(name)
        running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
        return (
            status.get("state") == "ready"
            and status.get("readyWorkerReplicas") == workers
            and len(running) == (workers + 1)
        )


def group_of(pod: dict[str, Any]) -> str:
    return str(pod["metadata"]["labels"].get("ray.io/group"))


def by_group(pods: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        out.setdefault(group_of(pod), []).append(pod)
    return out
