"""The test-control API: reset, seed, logs, watch-history compaction, faults, the kubelet switch, the clock.

Tests of retry, 409 and 410 paths must be deterministic, so the emulator lets them reach in: the same
operations are offered in Python (``sb.control``) and over HTTP under ``/_sandbox/`` (``reset``, ``seed``,
``requests``, ``admission-log``, ``compact``, ``faults``, ``kubelet``, ``settle``, ``clock``) for
out-of-process users of ``ray-operator sandbox``. It is kept apart from the Kubernetes paths so that no real client can
hit it by accident. Faults match the method and a path regular expression and apply to the next N
matching Kubernetes requests (never to control requests); a fault's ``retry_after`` (``retryAfter`` over
HTTP) adds the ``Retry-After`` header and ``details.retryAfterSeconds`` an API server sends with a 429.
Decided against: putting these hooks on Kubernetes paths or behind annotations, where a real client could
trigger them.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, SupportsIndex, overload

from aiohttp import web

from ray_operator.sandbox import errors

PREFIX = "/_sandbox"

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class Fault:
    method: str
    """An HTTP method, or ``*`` for any."""
    path: str
    """A regular expression searched in the request path."""
    count: int = 1
    status: int | None = 500
    delay: float = 0.0
    drop: bool = False
    message: str = "injected fault"
    retry_after: int | None = None
    """Seconds sent as ``Retry-After`` and ``details.retryAfterSeconds``, as the API server does with 429s."""

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and self.method in ("*", method.upper()) and re.search(self.path, path) is not None

    def error(self) -> errors.ApiError:
        code = self.status or 500
        if self.retry_after is None:
            return errors.ApiError(code=code, reason=_REASONS.get(code, "InternalError"), message=self.message)
        return errors.ApiError(
            code=code,
            reason=_REASONS.get(code, "InternalError"),
            message=self.message,
            details={"retryAfterSeconds": self.retry_after},
            headers={"Retry-After": str(self.retry_after)},
        )


LOG_SIZE = 10000
"""Entries kept in each of the request and admission logs."""


class RecentLog(deque[dict[str, Any]]):
    """The newest entries of a log, bounded like a ``deque(maxlen=...)`` and sliceable like a list.

    Tests take ``log[before:]`` to see what one step added; a plain deque cannot be sliced.
    """

    @overload
    def __getitem__(self, index: SupportsIndex) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return list(self)[index]
        return super().__getitem__(index)


class Control:
    """Inspectable state and hooks of one sandbox; ``Sandbox.control`` is an instance."""

    def __init__(
        self,
        *,
        reset: Callable[[], None],
        seed: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
        compact: Callable[[int | None], int],
        settle: Callable[[], Any],
        advance_clock: Callable[[float], datetime],
        kubelet: Any | None,
        log_size: int = LOG_SIZE,
    ) -> None:
        """``log_size`` bounds the request log and the admission log alike (the newest entries are kept)."""
        self._reset = reset
        self._seed = seed
        self._compact = compact
        self._settle = settle
        self._advance_clock = advance_clock
        self.kubelet = kubelet
        self.requests = RecentLog(maxlen=log_size)
        """Every Kubernetes request: method, path, query, content type, accept, user agent, status, and (over
        HTTPS, from ``sandbox/auth``) user, verb, api_group, resource, subresource, namespace, name,
        resource_request and allowed: the RBAC attributes and decision."""
        self.admission_log = RecentLog(maxlen=log_size)
        """Every webhook call of the admission chain (its ``log``): webhook, operation, outcome, duration."""
        self.faults: list[Fault] = []

    def reset(self) -> None:
        """Back to the initial state: default namespaces only, no CRDs, empty logs, no faults."""
        self.faults.clear()
        self.requests.clear()
        self.admission_log.clear()
        self._reset()

    def seed(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store objects without admission or validation (server metadata is filled in)."""
        return self._seed(objects)

    def compact(self, resource_version: int | None = None) -> int:
        """Forget watch history up to a revision (default: all), so older watches get 410."""
        return self._compact(resource_version)

    async def settle(self) -> None:
        """Wait until the garbage collector and namespace controller are idle."""
        await self._settle()

    def advance_clock(self, seconds: float) -> datetime:
        """Move the server's clock (timestamps, Table ages) forward; the real time is unaffected."""
        if seconds < 0:
            raise errors.bad_request("the clock only moves forward")
        return self._advance_clock(seconds)

    def inject_fault(
        self,
        *,
        method: str = "*",
        path: str = ".*",
        count: int = 1,
        status: int | None = 500,
        delay: float = 0.0,
        drop: bool = False,
        message: str = "injected fault",
        retry_after: int | None = None,
    ) -> Fault:
        fault = Fault(
            method=method.upper(),
            path=path,
            count=count,
            status=status,
            delay=delay,
            drop=drop,
            message=message,
            retry_after=retry_after,
        )
        re.compile(path)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def set_kubelet(self, enabled: bool) -> None:
        if self.kubelet is None:
            raise errors.bad_request("this sandbox runs without the fake kubelet (start it with kubelet=True)")
        self.kubelet.set_enabled(enabled)

    def request_log(self, *, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests
            if (path is None or re.search(path, r["path"])) and (method is None or r["method"] == method.upper())
        ]

    # ------------------------------------------------------------------------------------------ HTTP

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{PREFIX}/reset", self._http_reset),
            web.post(f"{PREFIX}/seed", self._http_seed),
            web.get(f"{PREFIX}/requests", self._http_requests),
            web.get(f"{PREFIX}/admission-log", self._http_admission),
            web.post(f"{PREFIX}/compact", self._http_compact),
            web.post(f"{PREFIX}/faults", self._http_fault),
            web.delete(f"{PREFIX}/faults", self._http_clear_faults),
            web.post(f"{PREFIX}/kubelet", self._http_kubelet),
            web.post(f"{PREFIX}/settle", self._http_settle),
            web.post(f"{PREFIX}/clock", self._http_clock),
        ]

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json() if request.can_read_body else {}
        except ValueError as exc:
            raise errors.bad_request(f"the control API takes JSON bodies: {exc}") from exc

    async def _http_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _http_seed(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        objects = body.get("items") if isinstance(body, dict) else body
        if not isinstance(objects, list):
            raise errors.bad_request('seed takes a list of objects or {"items": [...]}')
        return web.json_response({"items": self.seed(objects)})

    async def _http_requests(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"items": self.request_log(path=request.query.get("path"), method=request.query.get("method"))}
        )

    async def _http_admission(self, request: web.Request) -> web.Response:
        return web.json_response({"items": list(self.admission_log)})

    async def _http_compact(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        rv = body.get("resourceVersion") if isinstance(body, dict) else None
        try:
            upto = int(rv) if rv is not None else None
        except (TypeError, ValueError) as exc:
            raise errors.bad_request(f"resourceVersion must be an integer revision to compact up to: {exc}") from exc
        return web.json_response({"compactedResourceVersion": self.compact(upto)})

    async def _http_fault(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if not isinstance(body, dict):
            raise errors.bad_request(
                "a fault is an object: method, path, count, status, delay, drop, message, retryAfter"
            )
        keys = {k: k for k in ("method", "path", "count", "status", "delay", "drop", "message")}
        keys["retryAfter"] = "retry_after"
        try:
            fault = self.inject_fault(**{name: body[k] for k, name in keys.items() if k in body})
        except (TypeError, re.error) as exc:
            raise errors.bad_request(f"invalid fault: {exc}") from exc
        answer = asdict(fault)
        answer["retryAfter"] = answer.pop("retry_after")
        return web.json_response(answer)

    async def _http_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"faults": []})

    async def _http_kubelet(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        self.set_kubelet(bool(body.get("enabled", True)) if isinstance(body, dict) else True)
        return web.json_response({"enabled": bool(self.kubelet.enabled) if self.kubelet else False})

    async def _http_clock(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        try:
            seconds = float(body.get("advanceSeconds", 0)) if isinstance(body, dict) else 0.0
        except (TypeError, ValueError) as exc:
            raise errors.bad_request(f"advanceSeconds must be a number: {exc}") from exc
        return web.json_response({"now": self.advance_clock(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")})

    async def _http_settle(self, request: web.Request) -> web.Response:
        await asyncio.wait_for(self.settle(), 10)
        return web.json_response({"settled": True})
