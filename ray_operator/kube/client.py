"""The Kubernetes client: one ``ApiClient`` factory, and raw JSON requests and streams through it.

``kube_api_client`` builds a kubernetes_asyncio ``ApiClient`` from ``--kubeconfig``, else the in-cluster
service account, else ``$KUBECONFIG``/``~/.kube/config``; it gives every request that sets no timeout of
its own a default (kubernetes_asyncio has none, and a half-dead connection would hang forever), and it
is created inside the running loop and closed on the way out, as aiohttp requires.

``request_json`` and ``open_stream`` go through ``ApiClient.call_api`` with ``_preload_content=False``:
they keep what the client is for (host, TLS, bearer token and its refresh hook for rotated in-cluster
tokens, the User-Agent), but hand back the status, headers and bytes instead of deserialized models, so
that the reflector decides itself what a 410 or a 429 means, reads a watch line by line, and keeps
plain dicts (the generated models drop unknown fields and cost several times the memory).

Decided against: kubernetes_asyncio's ``Watch`` (it retries a 410 once with the same stale
resourceVersion and then raises) and a second, hand-made aiohttp session (it would have to re-implement
kubeconfig auth, exec plugins and token refresh).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

USER_AGENT = "ray-operator"
"""Sent on every request, so audit logs (and the sandbox request log) tell the operator's calls apart."""

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"

__all__ = [
    "JSON",
    "MERGE_PATCH",
    "USER_AGENT",
    "ApiError",
    "ClientSettings",
    "JsonResponse",
    "KubeconfigError",
    "api_path",
    "kube_api_client",
    "open_stream",
    "request_json",
]


class KubeconfigError(Exception):
    """No usable client configuration: a user error, reported without a traceback."""


class ClientSettings(Protocol):
    """What ``kube_api_client`` reads of the operator's settings (``ray_operator.settings.Settings`` fits)."""

    @property
    def kubeconfig(self) -> str | None: ...

    @property
    def kube_request_timeout_seconds(self) -> float: ...

    @property
    def kube_max_connections(self) -> int: ...


def _with_default_timeout(api_client: Any, *, total: float) -> None:
    """Give every request of ``api_client`` a timeout unless the caller set one."""
    rest = api_client.rest_client
    original = rest.request
    default = aiohttp.ClientTimeout(total=total, sock_connect=min(10.0, total))

    async def request(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        return await original(*args, _request_timeout=_request_timeout or default, **kwargs)

    rest.request = request


@contextlib.asynccontextmanager
async def kube_api_client(
    settings: ClientSettings, *, user_agent: str = USER_AGENT, watches: int = 0
) -> AsyncIterator[Any]:
    """A kubernetes_asyncio ``ApiClient``: ``--kubeconfig``, else in-cluster, else ``$KUBECONFIG``/~/.kube/config.

    A watch holds a pooled connection for as long as it runs, so the pool has one for each of the
    caller's ``watches`` on top of ``kube_max_connections`` for requests: however many namespaces are
    watched, requests always find a connection.
    """
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    configuration.connection_pool_maxsize = settings.kube_max_connections + watches
    try:
        if settings.kubeconfig:
            if not os.path.isfile(settings.kubeconfig):  # noqa: ASYNC240  # one stat, once, at start-up
                raise KubeconfigError(
                    f"kubeconfig {settings.kubeconfig} does not exist (flag --kubeconfig, env RAY_OPERATOR_KUBECONFIG)"
                )
            await config.load_kube_config(config_file=settings.kubeconfig, client_configuration=configuration)
        else:
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except config.ConfigException:
                await config.load_kube_config(client_configuration=configuration)
    except config.ConfigException as exc:
        where = settings.kubeconfig or "$KUBECONFIG or ~/.kube/config (not running in a cluster)"
        raise KubeconfigError(f"cannot load a Kubernetes client configuration from {where}: {exc}") from exc
    api = client.ApiClient(configuration)
    api.user_agent = user_agent
    _with_default_timeout(api, total=settings.kube_request_timeout_seconds)
    try:
        yield api
    finally:
        await api.close()


# ------------------------------------------------------------------------------------ raw requests


class ApiError(Exception):
    """A non-2xx answer, with the ``Status`` fields a caller decides on (``code``, ``reason``, retry delay)."""

    def __init__(
        self, *, code: int, reason: str = "", message: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code} {reason}: {message}" if reason else f"{code}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        """Seconds the server asked to wait (``Retry-After`` or ``details.retryAfterSeconds``), if it did."""

    @classmethod
    def from_response(cls, status: int, headers: Mapping[str, str], body: bytes) -> ApiError:
        """Read a ``meta/v1 Status`` body when there is one; anything else becomes the message."""
        reason, message, retry_after = "", body[:200].decode(errors="replace"), None
        with contextlib.suppress(ValueError, TypeError):
            data = json.loads(body)
            if isinstance(data, dict):
                reason = str(data.get("reason") or "")
                message = str(data.get("message") or "")
                details = data.get("details")
                if isinstance(details, dict) and isinstance(details.get("retryAfterSeconds"), int | float):
                    retry_after = float(details["retryAfterSeconds"])
        header = headers.get("Retry-After")
        if header is not None:
            # Kubernetes sends whole seconds; an HTTP-date form is not something it sends, so it is ignored.
            with contextlib.suppress(ValueError):
                retry_after = max(float(header), 0.0)
        return cls(code=status, reason=reason, message=message, retry_after=retry_after)


@dataclass(frozen=True)
class JsonResponse:
    status: int
    headers: Mapping[str, str]
    body: Any
    """The decoded JSON body (``None`` when the body was empty)."""


def api_path(group: str, version: str) -> str:
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` otherwise."""
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


async def _call(
    api_client: Any,
    method: str,
    path: str,
    *,
    query: Sequence[tuple[str, str]] | None,
    body: Any,
    content_type: str,
    timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - handed to aiohttp as the request's ClientTimeout
) -> aiohttp.ClientResponse:
    response: aiohttp.ClientResponse = await api_client.call_api(
        path,
        method,
        query_params=list(query or ()),
        header_params={"Accept": JSON, "Content-Type": content_type},
        body=body,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
        _request_timeout=timeout,
    )
    return response


async def request_json(
    api_client: Any,
    method: str,
    path: str,
    *,
    timeout: float,  # noqa: ASYNC109 - passed on to aiohttp as the request's ClientTimeout
    query: Sequence[tuple[str, str]] | None = None,
    body: Any = None,
    content_type: str = JSON,
) -> JsonResponse:
    """One request; raises ``ApiError`` on a non-2xx answer, aiohttp/timeout errors as they come."""
    client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(10.0, timeout))
    response = await _call(
        api_client, method, path, query=query, body=body, content_type=content_type, timeout=client_timeout
    )
    try:
        raw = await response.read()
    finally:
        response.release()
    if not 200 <= response.status <= 299:
        raise ApiError.from_response(response.status, response.headers, raw)
    return JsonResponse(status=response.status, headers=response.headers, body=json.loads(raw) if raw else None)


async def open_stream(
    api_client: Any,
    path: str,
    *,
    connect_timeout: float,
    query: Sequence[tuple[str, str]] | None = None,
) -> aiohttp.ClientResponse:
    """A GET whose body is read by the caller (a watch); raises ``ApiError`` on a non-2xx answer.

    Only connecting is bounded here: a watch is long by design, so the caller bounds its silence.
    The caller must ``release()`` the response.
    """
    client_timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout)
    response = await _call(api_client, "GET", path, query=query, body=None, content_type=JSON, timeout=client_timeout)
    if not 200 <= response.status <= 299:
        try:
            raw = await response.read()
        finally:
            response.release()
        raise ApiError.from_response(response.status, response.headers, raw)
    return response
