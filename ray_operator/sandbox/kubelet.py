"""A fake scheduler + kubelet for the sandbox: it moves pods to Running/Ready through the API only.

Why: the operator's status (ready workers, head pod IP, cluster state) is computed from pod status,
and no node runs containers here. Like a real kubelet, this one is an ordinary API client (list,
watch from the last resourceVersion, re-list on 410 Gone): it binds unscheduled pods to its node,
then writes ``pods/status`` (phase, podIP, hostIP, startTime, the five conditions, container and
init-container statuses), so watchers — the operator's reflector included — see MODIFIED events
exactly as on a cluster. Pods marked for deletion are removed with ``gracePeriodSeconds=0`` once their
grace period (optionally capped, for fast tests) has passed. A control API fails a pod, makes it
unready or ready again, and switches the whole kubelet off (pods then stay Pending, as on a cluster
without nodes).

Decisions:

* The status is a pure function of the pod and a per-pod mode (``running``/``unready``/``failed``/
  ``creating``) — ``desired_status`` — reusing existing timestamps, IPs and container IDs, so a
  steady pod costs zero writes and a re-list never rewrites anything.
* Scheduling tries the ``pods/binding`` subresource first (what kube-scheduler uses) and falls back to
  a merge patch of ``spec.nodeName`` when the server does not serve it.
* Status is written with a JSON merge patch of ``/status`` that names removed keys with ``null``;
  decided against PUT with resourceVersion, which would only add 409 retries here.
* One worker processes pod keys in order (deduplicated); enough for sandbox-sized clusters and
  free of per-key locking.
* ``fail_pod`` yields phase ``Failed`` whatever ``restartPolicy`` says (a real kubelet would restart
  containers of an ``Always`` pod); the point is to let tests exercise the operator's failure paths.
* Images are reported the way containerd does (``docker.io/library/x:latest``) with a fake, stable
  ``imageID`` digest; no probes are run — readiness changes only through the control API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import logging
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
MODES = ("running", "unready", "failed", "creating")
WATCH_TIMEOUT_SECONDS = 60
RETRY_DELAY_SECONDS = 0.5
MAX_RETRY_DELAY_SECONDS = 5.0
TERMINAL_PHASES = ("Succeeded", "Failed")


# ------------------------------------------------------------------------------------------
# Pure status computation


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def qualified_image(image: str) -> str:
    """The image reference as containerd reports it: registry, repository path and tag made explicit."""
    name = image
    first, sep, _ = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if sep else f"docker.io/library/{name}"
    last = name.rsplit("/", 1)[-1]
    if "@" not in last and ":" not in last:
        name = f"{name}:latest"
    return name


def image_id(image: str) -> str:
    qualified = qualified_image(image)
    repo = qualified.split("@", 1)[0]
    last = repo.rsplit("/", 1)
    if ":" in last[-1]:
        repo = repo[: repo.rfind(":")]
    return f"{repo}@sha256:{hashlib.sha256(qualified.encode()).hexdigest()}"


def container_id(pod_uid: str, container: str) -> str:
    return "containerd://" + hashlib.sha256(f"{pod_uid}/{container}".encode()).hexdigest()


def allocate_ip(used: set[str]) -> str:
    """The lowest free address of the pod CIDR (``.0`` and ``.1`` stay reserved)."""
    for offset, address in enumerate(POD_CIDR.hosts()):
        if offset == 0:
            continue
        text = str(address)
        if text not in used:
            return text
    raise RuntimeError(f"pod CIDR {POD_CIDR} is exhausted")


def _containers(spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = spec.get(key)
    return (
        [c for c in items if isinstance(c, Mapping) and isinstance(c.get("name"), str)]
        if isinstance(items, list)
        else []
    )


def _by_name(statuses: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(statuses, list):
        return {}
    return {s["name"]: s for s in statuses if isinstance(s, Mapping) and isinstance(s.get("name"), str)}


def _condition(
    kind: str, ok: bool, now: str, previous: Mapping[str, Mapping[str, Any]], reason: str = "", message: str = ""
) -> dict[str, Any]:
    status = "True" if ok else "False"
    before = previous.get(kind)
    since = now
    if before is not None and before.get("status") == status and isinstance(before.get("lastTransitionTime"), str):
        since = before["lastTransitionTime"]
    cond: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def desired_status(
    pod: Mapping[str, Any],
    *,
    mode: str,
    pod_ip: str,
    host_ip: str,
    now: str,
    reason: str = "Error",
) -> dict[str, Any]:
    """The ``status`` a kubelet would report for ``pod`` in ``mode``, keeping what it already reported."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    meta = _obj(pod.get("metadata"))
    spec = _obj(pod.get("spec"))
    current = _obj(pod.get("status"))
    uid = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
    start_time = current.get("startTime") if isinstance(current.get("startTime"), str) else now
    previous_conditions = _by_type(current.get("conditions"))
    old_containers = _by_name(current.get("containerStatuses"))
    old_inits = _by_name(current.get("initContainerStatuses"))
    containers = _containers(spec, "containers")
    inits = _containers(spec, "initContainers")

    statuses = [
        _container_status(c, mode=mode, uid=uid, now=now, old=old_containers.get(c["name"]), reason=reason)
        for c in containers
    ]
    init_statuses = [_init_status(c, mode=mode, uid=uid, now=now, old=old_inits.get(c["name"])) for c in inits]

    running = mode in ("running", "unready")
    ready = mode == "running"
    unready_names = " ".join(c["name"] for c in containers)
    if mode == "failed":
        ready_reason, ready_message = "PodFailed", ""
    elif mode == "creating":
        ready_reason, ready_message = "ContainersNotReady", f"containers with unready status: [{unready_names}]"
    else:
        ready_reason, ready_message = (
            ("", "")
            if ready
            else (
                "ContainersNotReady",
                f"containers with unready status: [{unready_names}]",
            )
        )
    conditions = [
        _condition("PodReadyToStartContainers", mode != "failed", now, previous_conditions),
        _condition("Initialized", True, now, previous_conditions),
        _condition("Ready", ready, now, previous_conditions, ready_reason, ready_message),
        _condition("ContainersReady", ready, now, previous_conditions, ready_reason, ready_message),
        _condition("PodScheduled", True, now, previous_conditions),
    ]
    status: dict[str, Any] = {
        "phase": "Failed" if mode == "failed" else ("Running" if running else "Pending"),
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if isinstance(current.get("qosClass"), str):
        status["qosClass"] = current["qosClass"]
    return status


def _by_type(conditions: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(conditions, list):
        return {}
    return {c["type"]: c for c in conditions if isinstance(c, Mapping) and isinstance(c.get("type"), str)}


def _started_at(old: Mapping[str, Any] | None, now: str) -> str:
    if old is not None:
        state = _obj(old.get("state"))
        for key in ("running", "terminated"):
            started = _obj(state.get(key)).get("startedAt")
            if isinstance(started, str):
                return started
    return now


def _container_status(
    container: Mapping[str, Any], *, mode: str, uid: str, now: str, old: Mapping[str, Any] | None, reason: str
) -> dict[str, Any]:
    name = container["name"]
    image = str(container.get("image") or "")
    base: dict[str, Any] = {"name": name, "image": qualified_image(image) if image else "", "imageID": ""}
    if mode == "creating":
        base.update(
            state={"waiting": {"reason": "ContainerCreating"}},
            lastState={},
            ready=False,
            restartCount=0,
            started=False,
        )
        return base
    started_at = _started_at(old, now)
    base["imageID"] = image_id(image) if image else ""
    base["containerID"] = container_id(uid, name)
    if mode == "failed":
        finished = now
        if old is not None:
            previous = _obj(_obj(old.get("state")).get("terminated")).get("finishedAt")
            if isinstance(previous, str):
                finished = previous
        base.update(
            state={
                "terminated": {
                    "exitCode": 1,
                    "reason": reason,
                    "startedAt": started_at,
                    "finishedAt": finished,
                    "containerID": base["containerID"],
                }
            },
            lastState={},
            ready=False,
            restartCount=0,
            started=False,
        )
        return base
    base.update(
        state={"running": {"startedAt": started_at}},
        lastState={},
        ready=mode == "running",
        restartCount=0,
        started=True,
    )
    return base


def _init_status(
    container: Mapping[str, Any], *, mode: str, uid: str, now: str, old: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Init containers have completed; a sidecar (``restartPolicy: Always``) keeps running."""
    name = container["name"]
    image = str(container.get("image") or "")
    started_at = _started_at(old, now)
    cid = container_id(uid, name)
    status: dict[str, Any] = {
        "name": name,
        "image": qualified_image(image) if image else "",
        "imageID": image_id(image) if image else "",
        "containerID": cid,
        "lastState": {},
        "restartCount": 0,
    }
    if container.get("restartPolicy") == "Always" and mode in ("running", "unready"):
        status.update(state={"running": {"startedAt": started_at}}, ready=mode == "running", started=True)
        return status
    finished = started_at
    status.update(
        state={
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": started_at,
                "finishedAt": finished,
                "containerID": cid,
            }
        },
        ready=True,
        started=False,
    )
    return status


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


class FakeKubelet:
    """Watches pods through the API and plays scheduler and kubelet for one node."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        ssl_context: ssl.SSLContext | None,
        node_name: str = "sandbox-node",
        host_ip: str = "172.18.0.2",
        max_grace_seconds: float | None = None,
        start_delay: float = 0.0,
        watch_timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
    ) -> None:
        """``max_grace_seconds`` caps deletion grace periods (tests use 0); ``start_delay`` keeps new pods
        in ``ContainerCreating`` that long before they run."""
        self.base_url = base_url.rstrip("/")
        self.node_name = node_name
        self.host_ip = host_ip
        self._token = token
        self._ssl = ssl_context
        self._max_grace = max_grace_seconds
        self._start_delay = start_delay
        self._watch_timeout = watch_timeout_seconds
        self._enabled = True
        self._pods: dict[tuple[str, str], dict[str, Any]] = {}
        self._modes: dict[tuple[str, str], tuple[str, str]] = {}
        self._first_seen: dict[tuple[str, str], float] = {}
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

    async def fail_pod(self, namespace: str, name: str, reason: str = "Error") -> dict[str, Any]:
        """Phase Failed, every container terminated with exit code 1 and ``reason``."""
        return await self._set_mode(namespace, name, "failed", reason)

    async def make_unready(self, namespace: str, name: str) -> dict[str, Any]:
        """Containers keep running but report not ready; Ready and ContainersReady turn False."""
        return await self._set_mode(namespace, name, "unready", "")

    async def make_ready(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._set_mode(namespace, name, "running", "")

    async def _set_mode(self, namespace: str, name: str, mode: str, reason: str) -> dict[str, Any]:
        key = (namespace, name)
        pod = self._pods.get(key) or await self._get_pod(namespace, name)
        if pod is None:
            raise LookupError(f'pods "{name}" not found in namespace "{namespace}"')
        self._pods[key] = pod
        self._modes[key] = (mode, reason)
        await self._sync(key)
        return self._pods.get(key, pod)

    def control_routes(self, prefix: str = "") -> list[web.RouteDef]:
        """Routes for the emulator's control API (JSON in, JSON out), relative to where they are mounted.

        Mounted under ``/_sandbox/kubelet``: ``GET /`` state, ``POST /enabled`` ``{"enabled": bool}``,
        ``POST /pods/{namespace}/{name}/fail`` ``{"reason": "..."}``, ``POST …/unready``, ``POST …/ready``.
        """
        return [
            web.get(f"{prefix}/", self._h_state),
            web.post(f"{prefix}/enabled", self._h_enabled),
            web.post(prefix + "/pods/{namespace}/{name}/fail", self._h_fail),
            web.post(prefix + "/pods/{namespace}/{name}/unready", self._h_unready),
            web.post(prefix + "/pods/{namespace}/{name}/ready", self._h_ready),
        ]

    def state(self) -> dict[str, Any]:
        return {
            "enabled": self._enabled,
            "node": self.node_name,
            "pods": len(self._pods),
            "overrides": {f"{ns}/{n}": mode for (ns, n), (mode, _) in self._modes.items() if mode != "running"},
            "errors": self.errors[-20:],
        }

    async def _h_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _h_enabled(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        value = body.get("enabled")
        if not isinstance(value, bool):
            return web.json_response({"error": 'body must be {"enabled": true|false}'}, status=400)
        self.set_enabled(value)
        return web.json_response(self.state())

    async def _h_fail(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        reason = body.get("reason", "Error")
        if not isinstance(reason, str) or not reason:
            return web.json_response({"error": '"reason" must be a non-empty string'}, status=400)
        return await self._h_mode(request, "failed", reason)

    async def _h_unready(self, request: web.Request) -> web.Response:
        return await self._h_mode(request, "unready", "")

    async def _h_ready(self, request: web.Request) -> web.Response:
        return await self._h_mode(request, "running", "")

    async def _h_mode(self, request: web.Request, mode: str, reason: str) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        try:
            pod = await self._set_mode(namespace, name, mode, reason)
        except LookupError as exc:
            return web.json_response({"error": str(exc)}, status=404)
        return web.json_response({"namespace": namespace, "name": name, "mode": mode, "status": pod.get("status")})

    # ---- API access ----------------------------------------------------------------------

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
        log.debug("sandbox kubelet: %s", text)

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
        metadata = _obj(body.get("metadata"))
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
        meta = _obj(obj.get("metadata"))
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
        self._modes.pop(key, None)
        self._first_seen.pop(key, None)
        self._applied.pop(key, None)
        self._delete_sent.pop(key, None)
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
                log.exception("sandbox kubelet: sync of %s/%s failed", *key)
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
        meta = _obj(pod.get("metadata"))
        spec = _obj(pod.get("spec"))
        status = _obj(pod.get("status"))
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
        mode, reason = self._modes.get(key, ("running", ""))
        if status.get("phase") in TERMINAL_PHASES and mode != "failed":
            return  # a finished pod never runs again
        if mode == "running" and self._start_delay > 0:
            first = self._first_seen.setdefault(key, time.monotonic())
            remaining = self._start_delay - (time.monotonic() - first)
            if remaining > 0 and status.get("phase") in (None, "Pending"):  # never un-start a running pod
                mode = "creating"
                self._later(key, remaining)
        pod_ip = status.get("podIP") if isinstance(status.get("podIP"), str) and status.get("podIP") else None
        if pod_ip is None:
            pod_ip = allocate_ip(self._used_ips())
        desired = desired_status(
            pod,
            mode=mode,
            pod_ip=pod_ip,
            host_ip=self.host_ip,
            now=rfc3339(datetime.now(UTC)),
            reason=reason or "Error",
        )
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
        meta = _obj(pod.get("metadata"))
        grace = meta.get("deletionGracePeriodSeconds")
        seconds = float(grace) if isinstance(grace, int | float) and not isinstance(grace, bool) else 30.0
        if self._max_grace is not None:
            seconds = min(seconds, self._max_grace)
        try:
            if seconds > 0:
                await asyncio.sleep(seconds)
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


def _obj(value: Any) -> dict[str, Any]:
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


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
