"""The ``fake`` pod runtime: containers "run" as soon as a pod is scheduled, and only the API sees them.

Why: the operator's status (ready workers, head pod IP, cluster state) is computed from pod status,
and no node runs containers here. The status is a pure function of the pod and a per-pod mode
(``running``/``unready``/``failed``/``creating``) — ``desired_status`` — reusing existing timestamps,
IPs and container IDs, so a steady pod costs zero writes and a re-list never rewrites anything.
``FakeKubelet`` is the kubelet loop with this runtime, plus the control API that fails a pod or makes
it unready or ready again.

Decisions:

* ``fail_pod`` yields phase ``Failed`` whatever ``restartPolicy`` says (a real kubelet would restart
  containers of an ``Always`` pod); the point is to let tests exercise the operator's failure paths.
* ``start_delay`` keeps new pods in ``ContainerCreating`` that long; a pod that runs is never
  un-started, and a finished pod never runs again.
* Images are reported the way containerd does (``docker.io/library/x:latest``) with a fake, stable
  ``imageID`` digest; no probes are run — readiness changes only through the control API.
* Deleting a pod only waits out its grace period: there is nothing to stop.
* ``set_image_mode`` gives every pod running a given image a starting mode (``unready``: a "bad image"
  whose pods never become Ready), so a test can make pods not-ready from their very first status, which
  flipping each pod after it appeared could not (the operator may have seen it Ready in between).

Decided against: simulating container lifecycles over time (restarts, probes, image pulls), which no
operator test needs and which would make pod status depend on timing.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from ray_operator.sandbox.kubelet.agent import WATCH_TIMEOUT_SECONDS, Kubelet, as_dict, json_body
from ray_operator.sandbox.kubelet.runtime import PodKey, PodReport

MODES = ("running", "unready", "failed", "creating")
TERMINAL_PHASES = ("Succeeded", "Failed")


# ------------------------------------------------------------------------------------------
# Pure status computation


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
    meta = as_dict(pod.get("metadata"))
    spec = as_dict(pod.get("spec"))
    current = as_dict(pod.get("status"))
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
        state = as_dict(old.get("state"))
        for key in ("running", "terminated"):
            started = as_dict(state.get(key)).get("startedAt")
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
            previous = as_dict(as_dict(old.get("state")).get("terminated")).get("finishedAt")
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


# ------------------------------------------------------------------------------------------
# The runtime and its kubelet


class FakeRuntime:
    """Pods report the status of their mode (``running`` unless told otherwise); nothing runs."""

    def __init__(self, *, start_delay: float = 0.0) -> None:
        self._start_delay = start_delay
        self._modes: dict[PodKey, tuple[str, str]] = {}
        self._first_seen: dict[PodKey, float] = {}
        self._image_modes: dict[str, str] = {}

    def set_mode(self, key: PodKey, mode: str, reason: str) -> None:
        self._modes[key] = (mode, reason)

    def set_image_mode(self, image: str, mode: str | None) -> None:
        """Pods with a container running ``image`` report ``mode`` unless set per pod; None forgets the rule."""
        if mode is None:
            self._image_modes.pop(image, None)
        elif mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        else:
            self._image_modes[image] = mode

    def _default_mode(self, pod: Mapping[str, Any]) -> tuple[str, str]:
        for container in _containers(as_dict(pod.get("spec")), "containers"):
            mode = self._image_modes.get(str(container.get("image") or ""))
            if mode is not None:
                return (mode, "")
        return ("running", "")

    async def sync_pod(
        self,
        key: PodKey,
        pod: Mapping[str, Any],
        *,
        host_ip: str,
        now: str,
        allocate_ip: Callable[[], str],
    ) -> PodReport:
        status = as_dict(pod.get("status"))
        mode, reason = self._modes.get(key) or self._default_mode(pod)
        if status.get("phase") in TERMINAL_PHASES and mode != "failed":
            return PodReport(status=None)  # a finished pod never runs again
        recheck_after: float | None = None
        if mode == "running" and self._start_delay > 0:
            first = self._first_seen.setdefault(key, time.monotonic())
            remaining = self._start_delay - (time.monotonic() - first)
            if remaining > 0 and status.get("phase") in (None, "Pending"):  # never un-start a running pod
                mode = "creating"
                recheck_after = remaining
        pod_ip = status.get("podIP") if isinstance(status.get("podIP"), str) and status.get("podIP") else None
        if pod_ip is None:
            pod_ip = allocate_ip()
        desired = desired_status(pod, mode=mode, pod_ip=pod_ip, host_ip=host_ip, now=now, reason=reason or "Error")
        return PodReport(status=desired, recheck_after=recheck_after)

    async def terminate(self, key: PodKey, pod: Mapping[str, Any], *, grace_seconds: float) -> None:
        if grace_seconds > 0:
            await asyncio.sleep(grace_seconds)

    def forget(self, key: PodKey) -> None:
        self._modes.pop(key, None)
        self._first_seen.pop(key, None)

    def state(self) -> dict[str, Any]:
        return {"overrides": {f"{ns}/{n}": mode for (ns, n), (mode, _) in self._modes.items() if mode != "running"}}


class FakeKubelet(Kubelet):
    """The kubelet loop with the fake runtime, and the control API to fail pods or flip their readiness."""

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
        self.fake = FakeRuntime(start_delay=start_delay)
        super().__init__(
            base_url=base_url,
            token=token,
            ssl_context=ssl_context,
            runtime=self.fake,
            node_name=node_name,
            host_ip=host_ip,
            max_grace_seconds=max_grace_seconds,
            watch_timeout_seconds=watch_timeout_seconds,
        )

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
        self.fake.set_mode(key, mode, reason)
        await self._sync(key)
        return self._pods.get(key, pod)

    def control_routes(self, prefix: str = "") -> list[web.RouteDef]:
        """Routes for the emulator's control API (JSON in, JSON out), relative to where they are mounted.

        Mounted under ``/_sandbox/kubelet``: ``GET /`` state, ``POST /enabled`` ``{"enabled": bool}``,
        ``POST /pods/{namespace}/{name}/fail`` ``{"reason": "..."}``, ``POST …/unready``, ``POST …/ready``.
        """
        return [
            *super().control_routes(prefix),
            web.post(prefix + "/pods/{namespace}/{name}/fail", self._h_fail),
            web.post(prefix + "/pods/{namespace}/{name}/unready", self._h_unready),
            web.post(prefix + "/pods/{namespace}/{name}/ready", self._h_ready),
        ]

    async def _h_fail(self, request: web.Request) -> web.Response:
        body = await json_body(request)
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
