"""The one Secret that holds the self-signed CA and serving certificate, read and written with optimistic concurrency.

Why: several replicas start together and all want a certificate. Creating with "409 AlreadyExists means
someone else won, read theirs" makes them converge on ONE CA; replacing with the resourceVersion that
was read means a replica never overwrites what another wrote since — on 409 Conflict it re-reads and
adopts the winner's contents.

Decisions:
- Type ``kubernetes.io/tls``: the API server then insists on ``tls.crt``/``tls.key``, ``kubectl
  describe`` and other tools recognise it, and the same Secret can be mounted by someone who wants
  files. The extra ``ca.crt``/``ca.key`` keys are allowed in a TLS Secret. A pre-existing Secret of
  another type (e.g. an empty Opaque one from old manifests) is adopted as it is: type is immutable.
- ``replace`` rather than a patch: it sends the read object back with its resourceVersion, which is
  the precondition, and keeps labels/annotations others put on the Secret.
- Every call carries ``_request_timeout`` (kubernetes_asyncio has none by default).
- The API is any object with the three CoreV1Api methods used (a Protocol), so tests can pass a fake.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes_asyncio.client import V1ObjectMeta, V1Secret
from kubernetes_asyncio.client.exceptions import ApiException

SECRET_TYPE = "kubernetes.io/tls"
MANAGED_BY = {"app.kubernetes.io/managed-by": "ray-operator", "app.kubernetes.io/component": "webhook-certificates"}


class SecretsApi(Protocol):
    """The part of ``kubernetes_asyncio.client.CoreV1Api`` the store uses."""

    def read_namespaced_secret(self, name: str, namespace: str, **kwargs: Any) -> Awaitable[Any]: ...

    def create_namespaced_secret(self, namespace: str, body: Any, **kwargs: Any) -> Awaitable[Any]: ...

    def replace_namespaced_secret(self, name: str, namespace: str, body: Any, **kwargs: Any) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class Stored:
    """What the API server holds: decoded data and the object (replace sends it back with its resourceVersion)."""

    data: dict[str, bytes]
    obj: Any


def decode_data(raw: dict[str, str] | None) -> dict[str, bytes]:
    """Secret ``data`` as bytes; a value that is not base64 is dropped (and then treated as missing)."""
    out: dict[str, bytes] = {}
    for key, value in (raw or {}).items():
        try:
            out[key] = base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError):
            continue
    return out


def encode_data(data: dict[str, bytes]) -> dict[str, str]:
    return {key: base64.b64encode(value).decode() for key, value in data.items()}


def _stored(obj: Any) -> Stored:
    return Stored(data=decode_data(obj.data), obj=obj)


class SecretStore:
    def __init__(self, *, api: SecretsApi, namespace: str, name: str, request_timeout: float) -> None:
        self._api = api
        self.namespace = namespace
        self.name = name
        self._timeout = request_timeout

    async def read(self) -> Stored | None:
        """The Secret, or ``None`` when it does not exist."""
        try:
            obj = await self._api.read_namespaced_secret(self.name, self.namespace, _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return _stored(obj)

    async def create(self, data: dict[str, bytes]) -> tuple[Stored, bool]:
        """Create the Secret; ``(stored, True)`` if ours was written, ``(winner, False)`` if another replica's was."""
        body = V1Secret(
            api_version="v1",
            kind="Secret",
            metadata=V1ObjectMeta(name=self.name, namespace=self.namespace, labels=dict(MANAGED_BY)),
            type=SECRET_TYPE,
            data=encode_data(data),
        )
        try:
            obj = await self._api.create_namespaced_secret(self.namespace, body, _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status != 409:
                raise
            winner = await self.read()
            if winner is None:  # created and deleted again in between: let the caller decide afresh
                raise
            return winner, False
        return _stored(obj), True

    async def replace(self, data: dict[str, bytes], *, current: Stored) -> tuple[Stored | None, bool]:
        """Write ``data`` over ``current`` if nobody changed it since it was read.

        ``(stored, True)`` when written; ``(what is there now, False)`` on 409 Conflict (``None`` if it was deleted).
        """
        body = copy.copy(current.obj)
        body.data = encode_data(data)
        try:
            obj = await self._api.replace_namespaced_secret(
                self.name, self.namespace, body, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise
            return await self.read(), False
        return _stored(obj), True
