"""``ProcessRuntime``: the kubelet's pods run as real local processes, one network namespace per pod.

Per pod: a namespace with the pod IP the kubelet allocated (reported as ``status.podIP``, which is
also the IP Ray detects for its node), ``/etc/hosts`` with every Service name (``podenv.hosts_file``,
rewritten in place whenever a pod or Service changes), the API server at ``127.0.0.1:443`` inside the
pod (``forward``), the service-account files (a TokenRequest token for the pod's ServiceAccount, so the
emulator's RBAC applies to it; the emulator's CA; the namespace), emptyDir, configMap and secret
volumes (``volumes``), a private ``/tmp/ray`` and ``/dev/shm`` per container. Init containers run to
completion in order, then every container starts (``enter.py`` sets up its mounts and cgroups and
execs its command+args with the kubelet-resolved environment, ``ray`` on PATH from this Python
environment). Probes run on their schedule (``probes``); exits are restarted by ``restartPolicy`` with
the kubelet's back-off; stdout and stderr go to one file per container run (``log_file``), which
``pods/log`` serves. Deleting a pod sends SIGTERM to each container's process group, SIGKILL to
whatever is left in the namespace after the grace period, then removes namespace, files and cgroups.

Images are not pulled: the image is reported as given; a container whose command is not a Ray command
runs when its executable exists on this machine, else it waits with reason ``ImageNotRunnable``.
A RayCluster whose ``rayVersion`` differs from the installed Ray gets one Warning event.

Limits here, on purpose: Services resolve to their first ready endpoint (no virtual IPs, so a Service
port that differs from its targetPort is not translated); ``startupProbe`` gates the other probes but
``grpc`` probes always fail; sidecar init containers (``restartPolicy: Always``) are run as ordinary
init containers; projected volumes other than the service account and PVCs are refused
(``CreateContainerConfigError``).

One file of about 800 lines on purpose: ``ProcessRuntime`` is one pod lifecycle (setup, run, supervise,
probe, restart, tear down) over the shared state of each ``PodRun``; everything that stands alone is in
the sibling modules (``netns``, ``volumes``, ``podenv``, ``probes``, ``status``, ``forward``, ``cgroups``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog

from ray_operator.sandbox.kubelet.process import cgroups, forward, netns, podenv, probes, volumes
from ray_operator.sandbox.kubelet.process.status import ContainerView, pod_status
from ray_operator.sandbox.kubelet.runtime import PodKey, PodReport

log = structlog.get_logger(__name__)

ENTER = Path(__file__).with_name("enter.py")
API_PORT_IN_POD = 443
DEFAULT_ROOT = Path("/var/lib/ray-operator-sandbox")
SHM_ROOT = Path("/dev/shm")
OBJECT_STORE_CAP = 512 * 1024 * 1024
"""Each Ray node's object store at most (Ray's default is 30% of host RAM per node): several pods fit."""
SERVICES_POLL_SECONDS = 5.0
_RAY_WORD = re.compile(r"(^|[\s;&|/(])ray(\s|$)")


class Api(Protocol):
    """What the runtime needs of the kubelet: API calls with its credentials, and a way to resync a pod."""

    async def api_request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]: ...

    def resync(self, key: PodKey) -> None: ...

    def known_pods(self) -> list[dict[str, Any]]: ...


def installed_ray_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("ray")
    except metadata.PackageNotFoundError:
        return None


def is_ray_command(argv: list[str]) -> bool:
    return any(_RAY_WORD.search(part) for part in argv)


@dataclass
class ContainerRun:
    spec: dict[str, Any]
    view: ContainerView
    index: int
    proc: asyncio.subprocess.Process | None = None
    env: dict[str, str] = field(default_factory=dict)
    probe_task: asyncio.Task[None] | None = None
    cgroups: list[Path] = field(default_factory=list)


@dataclass
class PodRun:
    key: PodKey
    uid: str
    number: int
    netns: str
    ip: str
    directory: Path
    shm: Path
    inits: list[ContainerRun]
    containers: list[ContainerRun]
    sandbox_ready: bool = False
    init_failed: bool = False
    message: str = ""
    stopping: bool = False
    task: asyncio.Task[None] | None = None
    forwarders: list[forward.Forwarder] = field(default_factory=list)
    ports: dict[str, str] = field(default_factory=dict)
    """containerPort → host address of its forward (``127.0.0.1:PORT``)."""
    hosts: str = ""


class ProcessRuntime:
    """The ``process`` pod runtime (see the module docstring); ``start`` before the kubelet syncs pods."""

    def __init__(
        self,
        *,
        api_port: int,
        ca_pem: str,
        token: str,
        pod_cidr: ipaddress.IPv4Network,
        root: Path = DEFAULT_ROOT,
        backoff_base_seconds: float = 10.0,
        backoff_max_seconds: float = 300.0,
        object_store_bytes: int = OBJECT_STORE_CAP,
        token_for: Callable[[str, str], str] | None = None,
    ) -> None:
        """``api_port``: the emulator on the host's 127.0.0.1; ``token_for(namespace, serviceaccount)``
        issues the token a pod's service-account files hold (the emulator's TokenRequest), ``token`` is
        used where no issuer is given."""
        self.instance = secrets.token_hex(2)
        self.prefix = f"{netns.PREFIX}{self.instance}-"
        self._api_port = api_port
        self._ca_pem = ca_pem
        self._token = token
        self._token_for = token_for
        self._cidr = pod_cidr
        self._gateway = ipaddress.IPv4Interface(f"{next(pod_cidr.hosts())}/{pod_cidr.prefixlen}")
        self.hub = f"{self.prefix}hub"
        self.root = root / self.instance
        self._backoff = (backoff_base_seconds, backoff_max_seconds)
        self._object_store = object_store_bytes
        self._runs: dict[PodKey, PodRun] = {}
        self._numbers = 0
        self._api: Api | None = None
        self._services: list[dict[str, Any]] = []
        self._cgroups = cgroups.Cgroups()
        self._ray_version = installed_ray_version()
        self._warned: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._teardowns: set[asyncio.Task[None]] = set()
        self.on_forward: Callable[[str, str, str], None] | None = None
        """Called with (namespace/name, containerPort, host address) when a port forward opens."""
        self.started = False

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check namespaces work, remove a crashed sandbox's leftovers, blackhole the pod range, make the hub."""
        netns.check_support()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sweep_leftovers)
        netns.register_owner(self.instance)
        try:
            await loop.run_in_executor(None, netns.ensure_blackhole, self._cidr)
            await loop.run_in_executor(None, netns.create_hub, self.hub, self._gateway)
        except RuntimeError as exc:
            netns.unregister_owner(self.instance)
            raise netns.NamespacesUnavailable(netns.unavailable_message(str(exc))) from exc
        self.root.mkdir(parents=True, exist_ok=True)
        self.started = True

    def attach(self, api: Api) -> None:
        self._api = api
        self._tasks.append(asyncio.create_task(self._poll_services(), name="process-runtime-services"))

    async def close(self) -> None:
        """Stop every pod (short grace) and remove everything this instance made."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await asyncio.gather(*(self._teardown(run, 2.0) for run in list(self._runs.values())), return_exceptions=True)
        self._runs.clear()
        for task in list(self._teardowns):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.started:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, netns.delete_namespace, self.hub)
            shutil.rmtree(self.root, ignore_errors=True)
            netns.unregister_owner(self.instance)
            self.started = False

    # ---- PodRuntime ------------------------------------------------------------------------

    async def sync_pod(
        self, key: PodKey, pod: Mapping[str, Any], *, host_ip: str, now: str, allocate_ip: Callable[[], str]
    ) -> PodReport:
        meta = _d(pod.get("metadata"))
        status = _d(pod.get("status"))
        uid = str(meta.get("uid") or "")
        run = self._runs.get(key)
        if run is not None and run.uid != uid:
            self._schedule_teardown(run, 0.0)
            run = None
        if run is None:
            if status.get("phase") in ("Succeeded", "Failed"):
                return PodReport(status=None)  # finished before this runtime saw it: it never runs again
            ip = status.get("podIP") if isinstance(status.get("podIP"), str) and status.get("podIP") else allocate_ip()
            run = self._new_run(key, uid, pod, str(ip))
            self._runs[key] = run
            run.task = asyncio.create_task(self._run_pod(run, dict(pod)), name=f"pod-{key[0]}-{key[1]}")
        self._refresh_hosts()
        desired = pod_status(
            pod,
            pod_ip=run.ip,
            host_ip=host_ip,
            now=now,
            sandbox_ready=run.sandbox_ready,
            inits=[c.view for c in run.inits],
            containers=[c.view for c in run.containers],
            init_failed=run.init_failed,
            message=run.message,
        )
        return PodReport(status=desired)

    async def terminate(self, key: PodKey, pod: Mapping[str, Any], *, grace_seconds: float) -> None:
        run = self._runs.pop(key, None)
        if run is not None:
            await self._teardown(run, grace_seconds)

    def forget(self, key: PodKey) -> None:
        run = self._runs.pop(key, None)
        if run is not None:  # deleted without a graceful stop (force delete): kill now
            self._schedule_teardown(run, 0.0)

    def state(self) -> dict[str, Any]:
        return {
            "runtime": "process",
            "instance": self.instance,
            "cgroups": self._cgroups.kind,
            "ray": self._ray_version,
            "forwards": self.forwards(),
            "namespaces": {f"{k[0]}/{k[1]}": r.netns for k, r in self._runs.items()},
        }

    def forwards(self) -> dict[str, dict[str, str]]:
        """``namespace/name`` → containerPort → ``127.0.0.1:PORT`` on the host."""
        return {f"{k[0]}/{k[1]}": dict(r.ports) for k, r in self._runs.items() if r.ports}

    def log_file(self, key: PodKey, container: str, *, previous: bool = False) -> Path | None:
        """The file holding ``container``'s output (its previous run with ``previous``), if it ran."""
        run = self._runs.get(key)
        if run is None:
            return None
        for item in [*run.inits, *run.containers]:
            if item.view.name == container:
                count = item.view.restarts - (1 if previous else 0)
                if count < 0:
                    return None
                path = run.directory / "logs" / f"{container}.{count}.log"
                return path if path.exists() else None
        return None

    async def exec_in(self, key: PodKey, container: str, argv: list[str], *, seconds: float = 60.0) -> tuple[int, str]:
        """Run ``argv`` inside a running container (its namespaces and environment), as ``kubectl exec`` would;
        (exit code, stdout and stderr)."""
        run = self._runs.get(key)
        target = next((c for c in run.containers if c.view.name == container), None) if run is not None else None
        if target is None or target.proc is None or target.proc.returncode is not None:
            raise LookupError(f"container {container} of pod {key[0]}/{key[1]} is not running")
        proc = await asyncio.create_subprocess_exec(
            "nsenter",
            "-t",
            str(target.proc.pid),
            "-n",
            "-m",
            "--",
            *argv,
            env=target.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), seconds)
        except TimeoutError:
            _signal_pid(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        return int(proc.returncode or 0), out.decode(errors="replace")

    def is_running(self, key: PodKey, container: str) -> bool:
        run = self._runs.get(key)
        if run is None:
            return False
        found = next((c for c in [*run.inits, *run.containers] if c.view.name == container), None)
        return found is not None and found.proc is not None and found.proc.returncode is None

    def container_names(self, key: PodKey) -> list[str] | None:
        run = self._runs.get(key)
        return None if run is None else [c.view.name for c in run.containers]

    # ---- pod setup ---------------------------------------------------------------------------

    def _new_run(self, key: PodKey, uid: str, pod: Mapping[str, Any], ip: str) -> PodRun:
        self._numbers += 1
        number = self._numbers
        spec = _d(pod.get("spec"))

        def runs(kind: str, init: bool) -> list[ContainerRun]:
            out = []
            for index, c in enumerate(spec.get(kind) or []):
                if isinstance(c, dict) and isinstance(c.get("name"), str):
                    view = ContainerView(name=c["name"], image=str(c.get("image") or ""), init=init)
                    if init:
                        view.state = {"waiting": {"reason": "PodInitializing"}}
                    out.append(ContainerRun(spec=c, view=view, index=index + (100 if init else 0)))
            return out

        return PodRun(
            key=key,
            uid=uid,
            number=number,
            netns=f"{self.prefix}p{number}",
            ip=ip,
            directory=self.root / f"p{number}",
            shm=SHM_ROOT / f"{self.prefix}p{number}",
            inits=runs("initContainers", True),
            containers=runs("containers", False),
        )

    async def _run_pod(self, run: PodRun, pod: dict[str, Any]) -> None:
        try:
            env_objects = await self._setup(run, pod)
        except Exception as exc:  # the pod cannot start: say why on its containers and keep it Pending
            log.warning("process_pod_setup_failed", pod=f"{run.key[0]}/{run.key[1]}", error=str(exc))
            for c in [*run.inits, *run.containers]:
                c.view.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}}
            self._notify(run)
            return
        policy = str(_d(pod.get("spec")).get("restartPolicy") or "Always")
        for init in run.inits:
            while not run.stopping:
                code = await self._run_once(run, init, pod, env_objects)
                if code is None:
                    return
                if code == 0:
                    init.view.will_restart = False
                    break
                if policy == "Never":
                    init.view.will_restart = False
                    run.init_failed = True
                    self._notify(run)
                    return
                await self._back_off(run, init)
            self._notify(run)
        if run.stopping:
            return
        await asyncio.gather(*(self._supervise(run, c, pod, env_objects, policy) for c in run.containers))

    async def _setup(self, run: PodRun, pod: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        loop = asyncio.get_running_loop()
        meta, spec = _d(pod.get("metadata")), _d(pod.get("spec"))
        namespace = str(meta.get("namespace"))
        address = ipaddress.IPv4Interface(f"{run.ip}/{self._cidr.prefixlen}")
        if ipaddress.IPv4Address(run.ip) not in self._cidr:
            raise RuntimeError(f"pod IP {run.ip} is outside the pod range {self._cidr}")
        await loop.run_in_executor(
            None,
            lambda: netns.create_pod_namespace(
                run.netns,
                hub=self.hub,
                veth=f"{self.prefix.replace('-', '')}v{run.number}"[:15],
                address=address,
                gateway=self._gateway.ip,
            ),
        )
        run.sandbox_ready = True
        netns.write_netns_file(run.netns, "resolv.conf", podenv.RESOLV_CONF)
        self._write_hosts(run, pod)
        run.forwarders.append(
            await forward.pod_listener(run.netns, API_PORT_IN_POD, forward.connect_host(self._api_port))
        )
        (run.directory / "logs").mkdir(parents=True, exist_ok=True)
        run.shm.mkdir(parents=True, exist_ok=True)
        secret_names, map_names = podenv.referenced_names(pod)
        found_secrets = {n: o for n in secret_names if (o := await self._get(namespace, "secrets", n)) is not None}
        found_maps = {n: o for n in map_names if (o := await self._get(namespace, "configmaps", n)) is not None}
        token = await self._service_account_token(namespace, spec)
        volumes.write_volumes(
            directory=run.directory,
            shm=run.shm,
            spec=spec,
            found_secrets=found_secrets,
            found_maps=found_maps,
            service_account={"token": token, "ca.crt": self._ca_pem, "namespace": namespace},
        )
        await self._open_forwards(run, spec)
        await self._check_ray_version(pod)
        self._notify(run)
        return found_secrets, found_maps

    async def _service_account_token(self, namespace: str, spec: Mapping[str, Any]) -> str:
        """A token for the pod's ServiceAccount; retried a while, since the account may be created just after
        the pod (the kubelet retries too), then the pod fails to start with the reason."""
        if self._token_for is None or spec.get("automountServiceAccountToken") is False:
            return self._token
        account = str(spec.get("serviceAccountName") or "default")
        last = ""
        for _ in range(40):
            try:
                return self._token_for(namespace, account)
            except Exception as exc:  # the emulator's NotFound, as the TokenRequest answers it
                last = str(exc)
            await asyncio.sleep(0.25)
        raise RuntimeError(f'no token for serviceaccount "{namespace}/{account}": {last}')

    # ---- containers --------------------------------------------------------------------------

    def _base_env(self, pod: Mapping[str, Any]) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)
        return {
            "PATH": f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME": str(_d(pod.get("metadata")).get("name") or ""),
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_DEFAULT_OBJECT_STORE_MAX_MEMORY_BYTES": str(self._object_store),
        }

    def _not_runnable(self, argv: list[str], env: Mapping[str, str], image: str) -> str | None:
        if not argv:
            return (
                f"image {image!r} is not pulled by the process runtime and its entrypoint is not known here: "
                "give the container a command"
            )
        if is_ray_command(argv) and self._ray_version is None:
            return "the Ray container needs ray in the sandbox's Python environment: pip install 'ray[default]'"
        if shutil.which(argv[0], path=env.get("PATH")) is None:
            return f"the command {argv[0]!r} of image {image!r} does not exist on this machine"
        return None

    async def _run_once(
        self, run: PodRun, c: ContainerRun, pod: Mapping[str, Any], objects: tuple[dict[str, Any], dict[str, Any]]
    ) -> int | None:
        """Start ``c`` and wait for it to exit; its exit code, or None when the pod is stopping or it cannot run."""
        if run.stopping:
            return None
        current = {**pod, "status": {**_d(pod.get("status")), "podIP": run.ip}}
        try:
            env = {
                **self._base_env(pod),
                **podenv.container_env(
                    current,
                    c.spec,
                    api_host="127.0.0.1",
                    api_port=API_PORT_IN_POD,
                    secrets=objects[0],
                    config_maps=objects[1],
                ),
            }
        except podenv.EnvError as exc:
            c.view.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}}
            c.view.will_restart = False
            self._notify(run)
            return None
        argv = podenv.expand_command(c.spec, env)
        problem = self._not_runnable(argv, env, c.view.image)
        if problem is not None:
            c.view.state = {"waiting": {"reason": "ImageNotRunnable", "message": problem}}
            self._notify(run)
            return None
        c.env = env
        procs, made = self._cgroups.create(
            f"{self.prefix}p{run.number}-{c.index}",
            memory=podenv.memory_limit_bytes(c.spec),
            cpu=podenv.cpu_limit_cores(c.spec),
        )
        c.cgroups = made
        spec_file = run.directory / "containers" / c.view.name / "enter.json"
        mounts = volumes.container_mounts(
            directory=run.directory, shm=run.shm, name=c.view.name, container=c.spec, spec=_d(pod.get("spec"))
        )
        spec_file.write_text(
            json.dumps({"argv": argv, "env": env, "mounts": mounts, "workdir": c.spec.get("workingDir")})
        )
        log_path = run.directory / "logs" / f"{c.view.name}.{c.view.restarts}.log"
        # The cgroups are joined before ``ip netns exec``, which remounts /sys (and so hides /sys/fs/cgroup)
        # for the new namespace; the shell then execs, so the container's processes all start inside them.
        launch = " ".join(
            shlex.quote(part)
            for part in ("ip", "netns", "exec", run.netns, sys.executable, "-I", "-S", str(ENTER), str(spec_file))
        )
        join = 'for procs in "$@"; do echo $$ > "$procs" || echo "sandbox: cannot join $procs" >&2; done; '
        with log_path.open("ab") as output:
            c.proc = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                f"{join}exec {launch}",
                "enter",
                *procs,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        if run.stopping:  # deleted while starting: the teardown may have looked before this process existed
            _signal(c.proc, signal.SIGKILL)
        started = _now()
        c.view.state = {"running": {"startedAt": started}}
        c.view.started = True
        c.view.ready = not c.spec.get("readinessProbe") and not c.spec.get("startupProbe") and not c.view.init
        self._notify(run)
        if not c.view.init:
            c.probe_task = asyncio.create_task(self._probe_loop(run, c))
        code = await c.proc.wait()
        if c.probe_task is not None:
            c.probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await c.probe_task
            c.probe_task = None
        c.proc = None
        exit_code = 128 - code if code < 0 else code  # killed by a signal: 128 + signal, as a container runtime says
        c.view.state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": started,
                "finishedAt": _now(),
                "containerID": f"containerd://{run.uid}-{c.view.name}-{c.view.restarts}",
            }
        }
        c.view.ready = False
        c.view.started = False
        self._notify(run)
        return None if run.stopping else exit_code

    async def _back_off(self, run: PodRun, c: ContainerRun) -> None:
        base, cap = self._backoff
        delay = min(cap, base * (2 ** min(c.view.restarts, 10)))
        c.view.last_state = c.view.state
        c.view.state = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {delay:g}s restarting failed container={c.view.name} pod={run.key[1]}",
            }
        }
        c.view.restarts += 1
        self._notify(run)
        await asyncio.sleep(delay)

    async def _supervise(
        self,
        run: PodRun,
        c: ContainerRun,
        pod: Mapping[str, Any],
        objects: tuple[dict[str, Any], dict[str, Any]],
        policy: str,
    ) -> None:
        while not run.stopping:
            code = await self._run_once(run, c, pod, objects)
            if code is None:
                if "waiting" in c.view.state and c.view.will_restart and not run.stopping:
                    await asyncio.sleep(self._backoff[0])  # not runnable yet (a command may be installed later)
                    continue
                return
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                c.view.will_restart = False
                self._notify(run)
                return
            await self._back_off(run, c)

    async def _probe_loop(self, run: PodRun, c: ContainerRun) -> None:
        proc = c.proc
        if proc is None:
            return
        ports = {
            str(p.get("name")): int(p["containerPort"])
            for p in c.spec.get("ports") or []
            if isinstance(p, dict) and p.get("name") and isinstance(p.get("containerPort"), int)
        }

        async def once(probe: Mapping[str, Any]) -> bool:
            return await probes.run_probe(probe, hub=self.hub, pod_ip=run.ip, pid=proc.pid, env=c.env, ports=ports)

        started_at = time.monotonic()
        startup = _d(c.spec.get("startupProbe"))
        if startup:
            delay, period, _, ok_n, fail_n = probes.timing(startup)
            state = probes.ProbeState(ok_n, fail_n)
            await asyncio.sleep(delay)
            while state.ok is not True:
                state.record(await once(startup))
                if state.ok is False:
                    _signal(proc, signal.SIGTERM)
                    return
                if state.ok is not True:
                    await asyncio.sleep(period)
        readiness, liveness = _d(c.spec.get("readinessProbe")), _d(c.spec.get("livenessProbe"))
        if not readiness:
            c.view.ready = True
            self._notify(run)
        loops = []
        if readiness:
            loops.append(self._probe(run, c, readiness, once, started_at, liveness=False))
        if liveness:
            loops.append(self._probe(run, c, liveness, once, started_at, liveness=True))
        await asyncio.gather(*loops)

    async def _probe(
        self,
        run: PodRun,
        c: ContainerRun,
        probe: Mapping[str, Any],
        once: Callable[[Mapping[str, Any]], Awaitable[bool]],
        started_at: float,
        *,
        liveness: bool,
    ) -> None:
        delay, period, _, ok_n, fail_n = probes.timing(probe)
        state = probes.ProbeState(ok_n, fail_n)
        await asyncio.sleep(max(0.0, delay - (time.monotonic() - started_at)))
        while True:
            changed = state.record(await once(probe))
            if liveness:
                if state.ok is False and c.proc is not None:
                    log.info("process_liveness_failed", pod=f"{run.key[0]}/{run.key[1]}", container=c.view.name)
                    _signal(c.proc, signal.SIGTERM)
                    return
            elif changed:
                c.view.ready = bool(state.ok)
                self._notify(run)
            await asyncio.sleep(period)

    # ---- stopping ----------------------------------------------------------------------------

    def _schedule_teardown(self, run: PodRun, grace: float) -> None:
        task = asyncio.create_task(self._teardown(run, grace))
        self._teardowns.add(task)
        task.add_done_callback(self._teardowns.discard)

    async def _teardown(self, run: PodRun, grace: float) -> None:
        run.stopping = True
        loop = asyncio.get_running_loop()
        live = [c for c in [*run.inits, *run.containers] if c.proc is not None and c.proc.returncode is None]
        for c in live:
            assert c.proc is not None
            _signal(c.proc, signal.SIGTERM)
        waits = [c.proc.wait() for c in live if c.proc is not None]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), max(grace, 0.0) or 0.01)
        for c in live:
            if c.proc is not None and c.proc.returncode is None:
                _signal(c.proc, signal.SIGKILL)
        await loop.run_in_executor(None, netns.kill_all_in, run.netns)
        for c in live:
            if c.proc is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(c.proc.wait(), 5)
        if run.task is not None and run.task is not asyncio.current_task():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run.task
        for forwarder in run.forwarders:
            await forwarder.close()
        await loop.run_in_executor(None, netns.delete_namespace, run.netns)
        for c in [*run.inits, *run.containers]:
            self._cgroups.remove(c.cgroups)
        shutil.rmtree(run.directory, ignore_errors=True)
        shutil.rmtree(run.shm, ignore_errors=True)

    # ---- cluster DNS, forwards, events -------------------------------------------------------

    def _notify(self, run: PodRun) -> None:
        if self._api is not None and not run.stopping:
            self._api.resync(run.key)

    def _write_hosts(self, run: PodRun, pod: Mapping[str, Any]) -> None:
        pods = self._api.known_pods() if self._api is not None else []
        content = podenv.hosts_file(pod, run.ip, self._services, pods, api_host="127.0.0.1")
        if content != run.hosts:
            netns.write_netns_file(run.netns, "hosts", content)
            run.hosts = content

    def _refresh_hosts(self) -> None:
        if self._api is None:
            return
        pods = {
            (str(_d(p.get("metadata")).get("namespace")), str(_d(p.get("metadata")).get("name"))): p
            for p in self._api.known_pods()
        }
        for key, run in self._runs.items():
            if run.sandbox_ready and not run.stopping and key in pods:
                self._write_hosts(run, pods[key])

    async def _poll_services(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                services = await self._list_services()
                if services is not None:
                    self._services = services
                    self._refresh_hosts()
            await asyncio.sleep(SERVICES_POLL_SECONDS)

    async def _list_services(self) -> list[dict[str, Any]] | None:
        if self._api is None:
            return None
        code, body = await self._api.api_request("GET", "/api/v1/services")
        if code != 200 or not isinstance(body, dict):
            return None
        return [s for s in body.get("items") or [] if isinstance(s, dict)]

    async def _get(self, namespace: str, resource: str, name: str) -> dict[str, Any] | None:
        if self._api is None:
            return None
        code, body = await self._api.api_request("GET", f"/api/v1/namespaces/{namespace}/{resource}/{name}")
        return body if code == 200 and isinstance(body, dict) else None

    async def _open_forwards(self, run: PodRun, spec: Mapping[str, Any]) -> None:
        services = await self._list_services()
        if services is not None:
            self._services = services
        for container in spec.get("containers") or []:
            for port in _d(container).get("ports") or []:
                number = _d(port).get("containerPort")
                if not isinstance(number, int) or str(number) in run.ports:
                    continue
                forwarder = await forward.host_listener(forward.connect_from(self.hub, run.ip, number))
                run.forwarders.append(forwarder)
                address = f"127.0.0.1:{forwarder.port}"
                run.ports[str(number)] = address
                log.info("process_port_forward", pod=f"{run.key[0]}/{run.key[1]}", port=number, address=address)
                if self.on_forward is not None:
                    self.on_forward(f"{run.key[0]}/{run.key[1]}", str(number), address)

    async def _check_ray_version(self, pod: Mapping[str, Any]) -> None:
        if self._api is None or self._ray_version is None:
            return
        meta = _d(pod.get("metadata"))
        owner = next((_d(o) for o in meta.get("ownerReferences") or [] if _d(o).get("kind") == "RayCluster"), None)
        if owner is None or str(owner.get("uid")) in self._warned:
            return
        self._warned.add(str(owner.get("uid")))
        namespace = str(meta.get("namespace"))
        code, cluster = await self._api.api_request(
            "GET", f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters/{owner.get('name')}"
        )
        if code != 200 or not isinstance(cluster, dict):
            return
        wanted = str(_d(cluster.get("spec")).get("rayVersion") or "")
        if not wanted or wanted == self._ray_version:
            return
        stamp = _now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{owner.get('name')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": "ray.io/v1",
                "kind": "RayCluster",
                "name": owner.get("name"),
                "namespace": namespace,
                "uid": owner.get("uid"),
            },
            "reason": "RayVersionMismatch",
            "message": (
                f"rayVersion {wanted} differs from the Ray installed in the sandbox ({self._ray_version}); "
                f"its pods run Ray {self._ray_version}"
            ),
            "type": "Warning",
            "source": {"component": "kubelet", "host": "emulator-node"},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        await self._api.api_request("POST", f"/api/v1/namespaces/{namespace}/events", event)


def sweep_leftovers() -> list[str]:
    """Remove namespaces, files and cgroups of process runtimes whose sandbox is gone; what was removed."""
    removed: list[str] = []
    names = netns.namespaces()
    with contextlib.suppress(OSError):
        names += [p.name for p in netns.NETNS_ETC.iterdir()]
    with contextlib.suppress(OSError):
        names += [p.name for p in SHM_ROOT.iterdir()]
    for instance in sorted(netns.dead_instances(names)):
        prefix = f"{netns.PREFIX}{instance}-"
        for name in sorted({n for n in names if n.startswith(prefix)}):
            netns.delete_namespace(name)
            shutil.rmtree(SHM_ROOT / name, ignore_errors=True)
            removed.append(name)
        groups = cgroups.Cgroups()
        groups.remove(sorted(groups.leftovers(prefix), key=lambda p: -len(str(p))))
        shutil.rmtree(DEFAULT_ROOT / instance, ignore_errors=True)
        netns.unregister_owner(instance)
    return removed


def _signal(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    """Signal the container's process group (its first process leads it: started in a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
