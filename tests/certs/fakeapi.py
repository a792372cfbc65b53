"""A small in-memory stand-in for the four API calls the certificate sources make, with kube-apiserver's semantics.

Secrets get resourceVersions, 404 on a missing object, 409 on create-over-existing and on a replace
with a stale resourceVersion. Webhook configurations take RFC 6902 patches, 422 on a failed ``test``.
Each call yields to the loop first, so two sources running together interleave like two replicas.
Every call records its keyword arguments, so tests can check that a client timeout was always set.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jsonpatch
from kubernetes_asyncio.client import V1Secret
from kubernetes_asyncio.client.exceptions import ApiException


class FakeApi:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], V1Secret] = {}
        self.configs: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._rv = 0
        self.fail_next: dict[str, ApiException] = {}
        self.before: dict[str, Callable[[], None]] = {}
        """One-shot hooks run at the start of a call, e.g. to simulate another replica's write in between."""

    async def _enter(self, method: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((method, kwargs))
        await asyncio.sleep(0)
        if method in self.before:
            self.before.pop(method)()
        if method in self.fail_next:
            raise self.fail_next.pop(method)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # --- CoreV1Api ------------------------------------------------------------------------

    async def read_namespaced_secret(self, name: str, namespace: str, **kwargs: Any) -> V1Secret:
        await self._enter("read_namespaced_secret", kwargs)
        if (namespace, name) not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.secrets[(namespace, name)])

    async def create_namespaced_secret(self, namespace: str, body: V1Secret, **kwargs: Any) -> V1Secret:
        await self._enter("create_namespaced_secret", kwargs)
        key = (namespace, body.metadata.name)
        if key in self.secrets:
            raise ApiException(status=409, reason="AlreadyExists")
        stored = copy.deepcopy(body)
        stored.metadata.resource_version = self._next_rv()
        self.secrets[key] = stored
        return copy.deepcopy(stored)

    async def replace_namespaced_secret(self, name: str, namespace: str, body: V1Secret, **kwargs: Any) -> V1Secret:
        await self._enter("replace_namespaced_secret", kwargs)
        current = self.secrets.get((namespace, name))
        if current is None:
            raise ApiException(status=404, reason="Not Found")
        if body.metadata.resource_version != current.metadata.resource_version:
            raise ApiException(status=409, reason="Conflict")
        stored = copy.deepcopy(body)
        stored.metadata.resource_version = self._next_rv()
        self.secrets[(namespace, name)] = stored
        return copy.deepcopy(stored)

    # --- AdmissionregistrationV1Api -------------------------------------------------------

    def add_config(self, kind: str, name: str, webhook_names: list[str]) -> None:
        self.configs[(kind, name)] = {
            "metadata": {"name": name, "resourceVersion": self._next_rv()},
            "webhooks": [{"name": n, "clientConfig": {"service": {"name": "svc"}}} for n in webhook_names],
        }

    def bundles(self, kind: str, name: str) -> list[str | None]:
        return [w["clientConfig"].get("caBundle") for w in self.configs[(kind, name)]["webhooks"]]

    async def _read_config(self, kind: str, name: str, kwargs: dict[str, Any]) -> SimpleNamespace:
        await self._enter(f"read_{kind}", kwargs)
        if (kind, name) not in self.configs:
            raise ApiException(status=404, reason="Not Found")
        raw = self.configs[(kind, name)]
        return SimpleNamespace(
            webhooks=[
                SimpleNamespace(
                    name=w["name"], client_config=SimpleNamespace(ca_bundle=w["clientConfig"].get("caBundle"))
                )
                for w in raw["webhooks"]
            ]
        )

    async def _patch_config(self, kind: str, name: str, body: Any, kwargs: dict[str, Any]) -> None:
        await self._enter(f"patch_{kind}", kwargs)
        assert kwargs.get("_content_type") == "application/json-patch+json"
        if (kind, name) not in self.configs:
            raise ApiException(status=404, reason="Not Found")
        try:
            patched = jsonpatch.apply_patch(self.configs[(kind, name)], body)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise ApiException(status=422, reason="Unprocessable Entity") from exc
        patched["metadata"]["resourceVersion"] = self._next_rv()
        self.configs[(kind, name)] = patched

    async def read_validating_webhook_configuration(self, name: str, **kwargs: Any) -> SimpleNamespace:
        return await self._read_config("validating", name, kwargs)

    async def read_mutating_webhook_configuration(self, name: str, **kwargs: Any) -> SimpleNamespace:
        return await self._read_config("mutating", name, kwargs)

    async def patch_validating_webhook_configuration(self, name: str, body: Any, **kwargs: Any) -> None:
        await self._patch_config("validating", name, body, kwargs)

    async def patch_mutating_webhook_configuration(self, name: str, body: Any, **kwargs: Any) -> None:
        await self._patch_config("mutating", name, body, kwargs)


class RecordingLogger:
    """A structlog-shaped logger that keeps ``(level, event, fields)`` for assertions."""

    def __init__(self, records: list[tuple[str, str, dict[str, Any]]] | None = None, **bound: Any) -> None:
        self.records = records if records is not None else []
        self._bound = bound

    def bind(self, **kw: Any) -> RecordingLogger:
        return RecordingLogger(self.records, **{**self._bound, **kw})

    def _log(self, level: str, event: str, kw: dict[str, Any]) -> None:
        self.records.append((level, event, {**self._bound, **kw}))

    def debug(self, event: str, /, **kw: Any) -> None:
        self._log("debug", event, kw)

    def info(self, event: str, /, **kw: Any) -> None:
        self._log("info", event, kw)

    def warning(self, event: str, /, **kw: Any) -> None:
        self._log("warning", event, kw)

    def error(self, event: str, /, **kw: Any) -> None:
        self._log("error", event, kw)

    def events(self, level: str | None = None) -> list[str]:
        return [event for lvl, event, _ in self.records if level in (None, lvl)]
