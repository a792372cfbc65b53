"""Every API write the controller makes, in one place: create, merge patch, delete, status update.

Why one module: the steady-state promise ("a steady cluster costs zero writes") and the RBAC the
operator needs are both statements about this list of calls, so they are easy to audit here. Each
call has a timeout, counts itself through ``WriteObserver`` (for metrics and for tests), and keeps the
API server's answer as an ``ApiError``: a 409 is the caller's cue to retry from fresh state, never to
overwrite.

Choices:

* **Merge patches** (``application/merge-patch+json``) for drift repair and finalizers: they send only
  the changed fields, and a ``metadata.resourceVersion`` inside one makes it conditional (409 when the
  object moved), which is how finalizer edits avoid clobbering someone else's.
* **Status through ``PUT /status``** with the resourceVersion the status was computed from, like
  KubeRay's ``Status().Update``: a status computed from a stale object is refused with 409, not written.
* **Deletes carry a UID precondition** when the caller knows the UID, so a pod recreated under the same
  name is never the one removed; 404 counts as done (someone else deleted it).

Decided against: server-side apply (field ownership is not needed for objects only the operator writes,
and it costs a larger request on every write) and the typed kubernetes_asyncio APIs (they round-trip
pod templates through models that drop unknown fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ray_operator.controller.kinds import RAYCLUSTERS, object_path
from ray_operator.controller.workers import current_key
from ray_operator.kube.client import MERGE_PATCH, ApiError, request_json
from ray_operator.kube.reflector import Resource

__all__ = ["NullWriteObserver", "WriteObserver", "Writer"]


class WriteObserver(Protocol):
    def on_write(self, *, verb: str, resource: str, namespace: str, ok: bool, cluster: str | None) -> None:
        """One write was answered (``ok`` False when the server refused it); ``cluster`` is the key
        (``namespace/name``) of the RayCluster being reconciled, ``None`` outside a reconcile."""


class NullWriteObserver:
    def on_write(self, *, verb: str, resource: str, namespace: str, ok: bool, cluster: str | None) -> None:
        pass


class Writer:
    """The controller's API writes (and its few direct reads), with one timeout for all."""

    def __init__(self, *, api_client: Any, timeout: float, observer: WriteObserver | None = None) -> None:
        self._api = api_client
        self._timeout = timeout
        self._observer: WriteObserver = observer or NullWriteObserver()

    async def _send(
        self,
        verb: str,
        method: str,
        resource: Resource,
        namespace: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        try:
            response = await request_json(
                self._api, method, path, timeout=self._timeout, body=body, content_type=content_type
            )
        except ApiError:
            self._observer.on_write(
                verb=verb, resource=str(resource), namespace=namespace, ok=False, cluster=current_key()
            )
            raise
        self._observer.on_write(verb=verb, resource=str(resource), namespace=namespace, ok=True, cluster=current_key())
        return response.body

    async def create(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self._send(
            "create", "POST", resource, namespace, object_path(resource, namespace), body=dict(body)
        )
        return created

    async def merge_patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        path = object_path(resource, namespace, name, subresource)
        patched: dict[str, Any] = await self._send(
            "patch", "PATCH", resource, namespace, path, body=dict(patch), content_type=MERGE_PATCH
        )
        return patched

    async def delete(self, resource: Resource, namespace: str, name: str, *, uid: str | None = None) -> bool:
        """Delete one object; False when it was already gone (404) or replaced by another of that name."""
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if uid:
            options["preconditions"] = {"uid": uid}
        try:
            path = object_path(resource, namespace, name)
            await self._send("delete", "DELETE", resource, namespace, path, body=options)
        except ApiError as exc:
            if exc.code == 404:
                return False
            if exc.code == 409 and uid and "Precondition failed" in exc.message:
                return False  # the name now belongs to another object; ours is gone
            raise
        return True

    async def replace_status(self, cluster: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT .../rayclusters/NAME/status`` with ``cluster``'s resourceVersion: 409 when it moved meanwhile."""
        meta = cluster["metadata"]
        body = {
            "apiVersion": cluster.get("apiVersion", RAYCLUSTERS.api_version),
            "kind": cluster.get("kind", "RayCluster"),
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "resourceVersion": meta["resourceVersion"],
            },
            "spec": cluster.get("spec"),
            "status": dict(status),
        }
        path = object_path(RAYCLUSTERS, meta["namespace"], meta["name"], "status")
        namespace = meta["namespace"]
        updated: dict[str, Any] = await self._send("update_status", "PUT", RAYCLUSTERS, namespace, path, body=body)
        return updated

    async def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        """A direct read (not counted as a write); None on 404. Used only where the cache cannot hold the object."""
        try:
            response = await request_json(
                self._api, "GET", object_path(resource, namespace, name), timeout=self._timeout
            )
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        found: dict[str, Any] = response.body
        return found
