"""The kubelet's API-client loop: a scheduler and node agent for one node, through the API only.

Like a real kubelet, this one is an ordinary API client (list, watch from the last resourceVersion,
re-list on 410 Gone): it binds unscheduled pods to its node, allocates their IPs, asks its pod runtime
(``runtime.PodRuntime``) what each pod's status is and writes it to ``pods/status`` (phase, podIP,
hostIP, startTime, conditions, container and init-container statuses), so watchers — the operator's
reflector included — see MODIFIED events exactly as on a cluster. Pods marked for deletion are stopped
by the runtime and removed with ``gracePeriodSeconds=0`` once their grace period (optionally capped,
for fast tests) has passed. A control API switches the whole kubelet off (pods then stay Pending, as
on a cluster without nodes).

Decisions:

* Scheduling tries the ``pods/binding`` subresource first (what kube-scheduler uses) and falls back to
  a merge patch of ``spec.nodeName`` when the server does not serve it.
* Status is written with a JSON merge patch of ``/status`` that names removed keys with ``null``;
  decided against PUT with resourceVersion, which would only add 409 retries here. A status equal to
  the stored one (or to what the server made of our last write) is not written again.
* One worker processes pod keys in order (deduplicated); enough for sandbox-sized clusters and
  free of per-key locking.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog
from aiohttp import web

from ray_operator.sandbox.kubelet.runtime import PodRuntime

log = structlog.get_logger(__name__)

POD_CIDR = ipaddress.IPv4Network("10.244.0.0/16")
WATCH_TIMEOUT_SECONDS = 60
RETRY_DELAY_SECONDS = 0.5
MAX_RETRY_DELAY_SECONDS = 5.0


# ------------------------------------------------------------------------------------------
# Pure helpers


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def allocate_ip(used: set[str]) -> str:
    """The lowest free address of the pod CIDR (``.0`` and ``.1`` stay reserved).

    Candidates are formatted by hand: ``ipaddress``'s ``str()`` made allocation the emulator's
    hottest path once thousands of pods ran.
    """
    network = int(POD_CIDR.network_address)
    for offset in range(2, POD_CIDR.num_addresses - 1):
        value = network + offset
        text = f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
        if text not in used:
            return text
    raise RuntimeError(f"pod CIDR {POD_CIDR} is exhausted")


def merge_patch_for(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning ``current`` into ``desired`` at the top level (removed keys → null)."""
    patch: dict[str, Any] = {k: v for k, v in desired.items() if current.get(k) != v}
    for key in current:
        if key not in desired:
            patch[key] = None
    return patch


# ------------------------------------------------------------------------------------------
# The kubelet


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): re-list."""


class Kubelet:
    """Watches pods through the API and plays scheduler and kubelet for one node, with a pod runtime."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        ssl_context: ssl.SSLContext | None,
        runtime: PodRuntime,
        node_name: str = "sandbox-node",
        host_ip: str = "172.18.0.2",
        max_grace_seconds: float | None = None,
        watch_timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
    ) -> None:
        """``max_grace_seconds`` caps deletion grace periods (tests use 0)."""
        self.base_url = base_url.rstrip("/")
        self.node_name = node_name
        self.host_ip = host_ip
        self._token = token
        self._ssl = ssl_context
        self.runtime = runtime
        self._max_grace = max_grace_seconds
        self._watch_timeout = watch_timeout_seconds
        self._enabled = True
        self._pods: dict[tuple[str, str], dict[str, Any]] = {}
        self._applied: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._delete_sent: dict[tuple[str, str], Any] = {}
        self._deleting: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._delayed: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._queued: set[tuple[str, str]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._binding_supported = True
        self._synced = asyncio.Event()
        self.errors: list[str] = []
        """Recent API errors (bounded), for tests and the control endpoint."""

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        headers = {"Accept": "application/json", "User-Agent": f"sandbox-kubelet/{self.node_name}"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=None, connect=10))
        self._tasks = [
            asyncio.create_task(self._watch_loop(), name="sandbox-kubelet-watch"),
            asyncio.create_task(self._worker(), name="sandbox-kubelet-worker"),
        ]
        attach = getattr(self.runtime, "attach", None)
        if attach is not None:  # a runtime that reads the API (Services, Secrets) or resyncs pods itself
            attach(self)

    async def stop(self) -> None:
        for handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        tasks = [*self._tasks, *self._deleting.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._deleting.clear()
        close = getattr(self.runtime, "close", None)
        if close is not None:  # a runtime with processes stops them before the session goes
            await close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def wait_synced(self) -> None:
        """Until the first list has been processed (tests wrap it in ``asyncio.timeout``)."""
        await self._synced.wait()

    # ---- control -------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Off: no scheduling, no status, no deletion. On again: every known pod is reconsidered."""
        self._enabled = enabled
        if enabled:
            for key in list(self._pods):
                self._enqueue(key)

    def control_routes(self, prefix: str = "") -> list[web.RouteDef]:
        """Routes for the emulator's control API (JSON in, JSON out), relative to where they are mounted.

        Mounted under ``/_sandbox/kubelet``: ``GET /`` state, ``POST /enabled`` ``{"enabled": bool}``.
        """
        return [web.get(f"{prefix}/", self._h_state), web.post(f"{prefix}/enabled", self._h_enabled)]

    def state(self) -> dict[str, Any]:
        return {
            "enabled": self._enabled,
            "node": self.node_name,
            "pods": len(self._pods),
            **self.runtime.state(),
            "errors": self.errors[-20:],
        }

    async def _h_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _h_enabled(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        value = body.get("enabled")
        if not isinstance(value, bool):
            return web.json_response({"error": 'body must be {"enabled": true|false}'}, status=400)
        self.set_enabled(value)
        return web.json_response(self.state())

    # ---- API access ----------------------------------------------------------------------

    async def api_request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        """One API call with the kubelet's credentials (for runtimes): (HTTP status, decoded JSON or None)."""
        if method == "GET":
            async with self._client().get(
                f"{self.base_url}{path}", ssl=self._ssl_arg(), timeout=aiohttp.ClientTimeout(total=30)
            ) as resp:
                try:
                    return resp.status, await resp.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    return resp.status, None
        return await self._send(method, f"{self.base_url}{path}", body, content_type)

    def resync(self, key: tuple[str, str]) -> None:
        """Compute ``key``'s status again soon (a runtime saw its processes change)."""
        if key in self._pods:
            self._enqueue(key)

    def known_pods(self) -> list[dict[str, Any]]:
        """Every pod the kubelet has seen, as last listed or watched."""
        return list(self._pods.values())

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FakeKubelet.start() was not called")
        return self._session

    def _pod_url(self, namespace: str, name: str, sub: str = "") -> str:
        url = f"{self.base_url}/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}"
        return f"{url}/{sub}" if sub else url

    def _note_error(self, text: str) -> None:
        self.errors.append(text)
        del self.errors[:-50]
        log.debug("kubelet_call_failed", node=self.node_name, error=text)

    async def _get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        async with self._client().get(self._pod_url(namespace, name), ssl=self._ssl_arg()) as resp:
            if resp.status == 404:
                return None
            body = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(body, dict):
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status, message=str(body))
            return body

    def _ssl_arg(self) -> ssl.SSLContext | bool:
        return self._ssl if self._ssl is not None else True

    async def _send(self, method: str, url: str, body: Any, content_type: str) -> tuple[int, Any]:
        async with self._client().request(
            method,
            url,
            data=json.dumps(body),
            headers={"Content-Type": content_type},
            ssl=self._ssl_arg(),
            timeout=aiohttp.ClientTimeout(total=30),
        ) as resp:
            try:
                payload = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                payload = None
            return resp.status, payload

    # ---- list and watch ------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        """List, then watch from the last resourceVersion; transient errors resume the watch, 410 re-lists."""
        delay = RETRY_DELAY_SECONDS
        rv: str | None = None
        while True:
            try:
                if rv is None:
                    rv = await self._list()
                    self._synced.set()
                rv = await self._watch(rv)
                delay = RETRY_DELAY_SECONDS
            except _Gone:
                rv = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep watching whatever the server sent; back off and say why
                self._note_error(f"list/watch failed: {exc!r}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)

    async def _list(self) -> str:
        async with self._client().get(
            f"{self.base_url}/api/v1/pods", ssl=self._ssl_arg(), timeout=aiohttp.ClientTimeout(total=60)
        ) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(body, dict):
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status, message=str(body)[:200])
        items = body.get("items")
        if not isinstance(items, list):
            items = []
        seen: set[tuple[str, str]] = set()
        for pod in items:
            key = _key(pod)
            if key is not None:
                seen.add(key)
                self._pods[key] = pod
                self._enqueue(key)
        for key in set(self._pods) - seen:
            self._forget(key)
        metadata = as_dict(body.get("metadata"))
        return str(metadata.get("resourceVersion") or "")

    async def _watch(self, rv: str) -> str:
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self._watch_timeout),
        }
        if rv:
            params["resourceVersion"] = rv
        async with self._client().get(
            f"{self.base_url}/api/v1/pods",
            params=params,
            ssl=self._ssl_arg(),
            timeout=aiohttp.ClientTimeout(total=self._watch_timeout + 30, sock_read=self._watch_timeout + 15),
        ) as resp:
            if resp.status == 410:
                raise _Gone()
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status, message="watch refused")
            buffer = b""
            async for chunk in resp.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        rv = self._on_event(json.loads(line), rv)
        return rv

    def _on_event(self, event: Any, rv: str) -> str:
        if not isinstance(event, dict):
            return rv
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            return rv
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise ValueError(f"watch error: {obj.get('message')}")
        meta = as_dict(obj.get("metadata"))
        new_rv = str(meta.get("resourceVersion") or rv)
        if kind == "BOOKMARK":
            return new_rv
        key = _key(obj)
        if key is None:
            return new_rv
        if kind == "DELETED":
            self._forget(key)
        else:
            self._pods[key] = obj
            self._enqueue(key)
        return new_rv

    def _forget(self, key: tuple[str, str]) -> None:
        self._pods.pop(key, None)
        self._applied.pop(key, None)
        self._delete_sent.pop(key, None)
        self.runtime.forget(key)
        handle = self._delayed.pop(key, None)
        if handle is not None:
            handle.cancel()
        task = self._deleting.pop(key, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # ---- work ----------------------------------------------------------------------------

    def _enqueue(self, key: tuple[str, str]) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                await self._sync(key)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                self._note_error(f"sync {key[0]}/{key[1]} failed: {exc!r}")
                self._later(key, RETRY_DELAY_SECONDS)
            except Exception as exc:  # a malformed pod must not stop the kubelet for every other pod
                log.exception("kubelet_sync_crashed", node=self.node_name, namespace=key[0], pod=key[1])
                self._note_error(f"sync {key[0]}/{key[1]} crashed: {exc!r}")

    def _later(self, key: tuple[str, str], seconds: float) -> None:
        old = self._delayed.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._delayed.pop(key, None)
            if key in self._pods:
                self._enqueue(key)

        self._delayed[key] = asyncio.get_running_loop().call_later(seconds, fire)

    async def _sync(self, key: tuple[str, str]) -> None:
        pod = self._pods.get(key)
        if pod is None or not self._enabled:
            return
        meta = as_dict(pod.get("metadata"))
        spec = as_dict(pod.get("spec"))
        status = as_dict(pod.get("status"))
        node = spec.get("nodeName")
        if meta.get("deletionTimestamp"):
            if (
                (not node or node == self.node_name)
                and key not in self._deleting
                and self._delete_sent.get(key) != meta.get("uid")
            ):
                self._deleting[key] = asyncio.create_task(self._delete_after_grace(key, pod))
            return
        if not node:
            if not spec.get("schedulingGates"):
                await self._bind(key, pod)
            return
        if node != self.node_name:
            return
        report = await self.runtime.sync_pod(
            key,
            pod,
            host_ip=self.host_ip,
            now=rfc3339(datetime.now(UTC)),
            allocate_ip=lambda: allocate_ip(self._used_ips()),
        )
        if report.recheck_after is not None:
            self._later(key, report.recheck_after)
        desired = report.status
        if desired is None:
            return
        want, have = _without_nulls(desired), _without_nulls(status)
        if want == have or self._applied.get(key) == (want, have):
            return  # up to date, or the server normalised our last write: writing again would loop
        patch = merge_patch_for(status, desired)
        code, body = await self._send(
            "PATCH", self._pod_url(*key, sub="status"), {"status": patch}, "application/merge-patch+json"
        )
        if code == 200 and isinstance(body, dict):
            self._applied[key] = (want, _without_nulls(body.get("status") or {}))
            if key in self._pods:
                self._pods[key] = body
        elif code == 404:
            self._forget(key)
        else:
            self._note_error(f"status of {key[0]}/{key[1]}: HTTP {code}: {_message(body)}")
            self._later(key, RETRY_DELAY_SECONDS)

    def _used_ips(self) -> set[str]:
        used: set[str] = set()
        for pod in self._pods.values():
            status = pod.get("status")
            if isinstance(status, dict) and isinstance(status.get("podIP"), str):
                used.add(status["podIP"])
        return used

    async def _bind(self, key: tuple[str, str], pod: dict[str, Any]) -> None:
        namespace, name = key
        if self._binding_supported:
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
            }
            code, body = await self._send(
                "POST", self._pod_url(namespace, name, "binding"), binding, "application/json"
            )
            if code in (200, 201):
                return  # the watch delivers the bound pod
            if code == 404 and _message(body).startswith('pods "'):
                self._forget(key)
                return
            if code not in (404, 405):
                self._note_error(f"binding {namespace}/{name}: HTTP {code}: {_message(body)}")
                self._later(key, RETRY_DELAY_SECONDS)
                return
            self._binding_supported = False  # no pods/binding here: fall back to setting spec.nodeName
        code, body = await self._send(
            "PATCH",
            self._pod_url(namespace, name),
            {"spec": {"nodeName": self.node_name}},
            "application/merge-patch+json",
        )
        if code == 200 and isinstance(body, dict):
            self._pods[key] = body
            self._enqueue(key)
        elif code == 404:
            self._forget(key)
        else:
            self._note_error(f"scheduling {namespace}/{name}: HTTP {code}: {_message(body)}")
            self._later(key, RETRY_DELAY_SECONDS)

    async def _delete_after_grace(self, key: tuple[str, str], pod: dict[str, Any]) -> None:
        meta = as_dict(pod.get("metadata"))
        grace = meta.get("deletionGracePeriodSeconds")
        seconds = float(grace) if isinstance(grace, int | float) and not isinstance(grace, bool) else 30.0
        if self._max_grace is not None:
            seconds = min(seconds, self._max_grace)
        try:
            await self.runtime.terminate(key, pod, grace_seconds=seconds)
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
            if meta.get("uid"):
                body["preconditions"] = {"uid": meta["uid"]}
            code, answer = await self._send("DELETE", self._pod_url(*key), body, "application/json")
            if key in self._pods:
                self._delete_sent[key] = meta.get("uid")  # finalizers may keep it; never send twice
            if code not in (200, 202, 404, 409):
                self._note_error(f"deleting {key[0]}/{key[1]}: HTTP {code}: {_message(answer)}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._note_error(f"deleting {key[0]}/{key[1]} failed: {exc!r}")
        finally:
            if self._deleting.get(key) is asyncio.current_task():
                del self._deleting[key]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _without_nulls(value: Any) -> Any:
    """``value`` without null-valued object members, to compare what we send with what the server stores."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _key(pod: Any) -> tuple[str, str] | None:
    if not isinstance(pod, dict):
        return None
    meta = pod.get("metadata")
    if not isinstance(meta, dict):
        return None
    namespace, name = meta.get("namespace"), meta.get("name")
    if isinstance(namespace, str) and isinstance(name, str) and namespace and name:
        return namespace, name
    return None


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(body)[:200]


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
