"""``Sandbox``: one emulated API server (store, engine, GC, admission, optional fake kubelet) on a local port.

It is the single entry point for tests, the ``ray-operator sandbox`` command and other engineers' code:
``async with Sandbox(tls=True, port=0, kubelet=True) as sb`` gives a URL, CA, token, kubeconfig writer and
the control API. The listening socket is bound before the app starts so that the URL is known while
the app is assembled (the fake kubelet needs it, and its control routes must be mounted before aiohttp
freezes the router). HTTPS requires the bearer token; plain HTTP (tests only) requires nothing, because
kubectl never sends a token over HTTP.
Decided against: a separate process per sandbox (tests share the event loop and inspect the store).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import socket
import ssl
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from ray_operator.sandbox import errors
from ray_operator.sandbox.admission import AdmissionChain
from ray_operator.sandbox.auth.bootstrap import bootstrap_objects
from ray_operator.sandbox.auth.gate import AuthGate
from ray_operator.sandbox.builtins import catalog
from ray_operator.sandbox.builtins.namespaces import INITIAL_NAMESPACES
from ray_operator.sandbox.engine import Engine
from ray_operator.sandbox.engine.context import DEFAULT_USER, NAMESPACE_GR
from ray_operator.sandbox.engine.gc import GarbageCollector
from ray_operator.sandbox.kubelet import FakeKubelet, Kubelet
from ray_operator.sandbox.kubelet.agent import POD_CIDR
from ray_operator.sandbox.resources import Registry
from ray_operator.sandbox.server import http, podlogs, tls
from ray_operator.sandbox.server.control import LOG_SIZE, PREFIX, Control
from ray_operator.sandbox.server.handlers import Handlers, ServerOptions
from ray_operator.sandbox.storage.store import Store

NODE_NAME = "emulator-node"
NODE_IP = "172.18.0.2"
"""The fake node's InternalIP; the fake kubelet reports the same hostIP by default."""


class Sandbox:
    """An emulated kube-apiserver on ``host:port`` (0 = a free port), started by ``async with``.

    ``tls`` serves HTTPS with a fresh CA (``ca_pem``) and requires ``token``; without it, plain HTTP and no
    authentication. ``kubelet`` runs the fake kubelet (node ``emulator-node``) with ``kubelet_options``.
    ``history_size`` bounds the watch history (older resourceVersions get 410), ``watcher_queue_size`` the
    events buffered per watch before it is closed, ``bookmark_interval`` and ``default_watch_timeout`` are in
    seconds, ``clock`` replaces the wall clock (``control.advance_clock`` moves it forward), and ``log_size``
    bounds the request and admission logs (``control.requests``, ``admission_log``: the newest entries stay).
    """

    def __init__(
        self,
        *,
        tls: bool = True,
        port: int = 0,
        host: str = "127.0.0.1",
        kubelet: bool = False,
        token: str | None = None,
        history_size: int = 10000,
        watcher_queue_size: int = 1000,
        bookmark_interval: float = 60.0,
        default_watch_timeout: float = 1800.0,
        clock: Callable[[], datetime] | None = None,
        kubelet_options: dict[str, Any] | None = None,
        log_size: int = LOG_SIZE,
        runtime: str = "fake",
        runtime_options: dict[str, Any] | None = None,
    ) -> None:
        """``kubelet_options`` go to the kubelet (e.g. ``{"max_grace_seconds": 0}`` for fast pod deletion);
        ``runtime`` is its pod runtime: ``fake`` (nothing runs) or ``process`` (pods run as local processes,
        ``runtime_options`` go to ``ProcessRuntime``; needs root on Linux and ``tls``)."""
        if runtime not in ("fake", "process"):
            raise ValueError(f"runtime must be fake or process, not {runtime!r}")
        self.tls = tls
        self.host = host
        self._requested_port = port
        self.kubelet_wanted = kubelet
        self.kubelet_options = dict(kubelet_options or {})
        self.runtime_name = runtime
        self.runtime_options = dict(runtime_options or {})
        self.process_runtime: Any = None
        """The ``ProcessRuntime`` when ``runtime="process"`` (its forwards, log files, namespaces)."""
        self.token = token or secrets.token_urlsafe(24)
        base_clock = clock or (lambda: datetime.now(UTC))
        self._clock_offset = timedelta()
        self.clock: Callable[[], datetime] = lambda: base_clock() + self._clock_offset
        self.store = Store(history_size=history_size, watcher_queue_size=watcher_queue_size)
        self.registry = Registry(catalog.builtin_resource_types())
        self.service_endpoints: dict[tuple[str, str, int], tuple[str, int]] = {}
        self.engine = Engine(
            store=self.store, registry=self.registry, strategies=catalog.strategies(), clock=self.clock
        )
        self.gc = GarbageCollector(engine=self.engine)
        self.engine.on_change = self.gc.kick
        self.kubelet: Kubelet | None = None
        self.control = Control(
            reset=self._reset,
            seed=self._seed,
            compact=self.store.compact,
            settle=self.gc.settle,
            advance_clock=self._advance_clock,
            kubelet=None,
            log_size=log_size,
        )
        self.admission_log = self.control.admission_log
        self._options = ServerOptions(
            require_token=tls,
            tokens={self.token: dict(DEFAULT_USER)},
            bookmark_interval=bookmark_interval,
            default_watch_timeout=default_watch_timeout,
        )
        self.auth = AuthGate(store=self.store, now=self.clock, static_tokens=self._options.tokens, require_token=tls)
        """Authentication and RBAC: the admin token stays all-powerful (``system:masters``)."""
        self.engine.object_check = lambda rt, obj, ctx: self.auth.check_grant(rt, obj, ctx.user)
        self.ca_pem: str | None = None
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # --------------------------------------------------------------------------------------- public

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext | None:
        return tls.client_context(self.ca_pem) if self.ca_pem else None

    def register_service_endpoint(self, namespace: str, name: str, port: int, host: str, target_port: int) -> None:
        """Route ``https://<name>.<namespace>.svc:<port>`` (webhook clientConfig.service) to host:target_port."""
        self.service_endpoints[(namespace, name, port)] = (host, target_port)

    def service_account_token(
        self, namespace: str, name: str, *, expiration_seconds: int = 86400, audiences: tuple[str, ...] = ()
    ) -> str:
        """A TokenRequest token for an existing ServiceAccount, as ``kubectl create token`` gets one."""
        from ray_operator.sandbox.builtins.tokenrequest import token_request

        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if audiences:
            spec["audiences"] = list(audiences)
        issued = token_request(self.auth, namespace, name, {"spec": spec}, self.clock())
        return str(issued["status"]["token"])

    def kubeconfig(self, *, namespace: str = "default", token: str | None = None) -> dict[str, Any]:
        """A kubeconfig for the admin token, or for ``token`` (a ServiceAccount's)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem.encode()).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sandbox", "cluster": cluster}],
            "users": [{"name": "sandbox-admin", "user": {"token": token or self.token}}],
            "contexts": [
                {"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox-admin", "namespace": namespace}}
            ],
            "current-context": "sandbox",
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path, *, token: str | None = None) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(yaml.safe_dump(self.kubeconfig(token=token), sort_keys=False))
        tmp.replace(target)
        return target

    # ---------------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Sandbox:
        try:
            await self.start()
        except BaseException:
            await self.stop()  # a half-started process runtime has namespaces to remove
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        self._options.server_address = f"{self.host}:{self.port}"
        ssl_ctx = None
        if self.tls:
            material = tls.generate()
            self.ca_pem = material.ca_pem
            self._tmp = tempfile.TemporaryDirectory(prefix="ray-sandbox-")
            ssl_ctx = tls.server_context(material, Path(self._tmp.name))
        self._seed_initial()
        self._setup_admission()
        app = web.Application(client_max_size=4 * 1024 * 1024)
        handlers = Handlers(
            engine=self.engine, control=self.control, options=self._options, now=self.clock, gate=self.auth
        )
        app.middlewares.append(handlers.middleware)
        app.add_routes(self.control.routes())
        if self.kubelet_wanted:
            await self._setup_kubelet(app)
        app.add_routes(podlogs.routes(self._pod_for_logs, lambda: self.process_runtime))
        app.add_routes(handlers.routes())
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0, **http.PARSER_LIMITS
        )
        await self._runner.setup()
        site = http.StatusSite(self._runner, sock, ssl_context=ssl_ctx)
        await site.start()
        self._tasks.append(asyncio.create_task(self.gc.run(), name="sandbox-gc"))
        if self.kubelet is not None:
            await self.kubelet.start()

    async def stop(self) -> None:
        if self.kubelet is not None:
            with contextlib.suppress(Exception):
                await self.kubelet.stop()
        if self.process_runtime is not None and self.process_runtime.started:
            await self.process_runtime.close()  # the kubelet never started, or its stop failed
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.store.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if isinstance(self.engine.admission, AdmissionChain):
            await self.engine.admission.close()  # after the runner: no request is being admitted any more
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ---------------------------------------------------------------------------------- internals

    def _seed_initial(self) -> None:
        ns_rt = self.registry.lookup("", "v1", "namespaces")
        assert ns_rt is not None
        for name in INITIAL_NAMESPACES:
            if self.store.get(NAMESPACE_GR, "", name) is None:
                self.engine.seed(ns_rt, {"metadata": {"name": name}})
        for obj in bootstrap_objects():  # the default RBAC policy (sandbox/auth)
            rt = self.registry.by_kind(obj["apiVersion"], obj["kind"])
            assert rt is not None
            if self.store.get(self.engine.gr(rt), "", obj["metadata"]["name"]) is None:
                self.engine.seed(rt, obj)
        node_rt = self.registry.lookup("", "v1", "nodes")
        assert node_rt is not None
        if self.store.get(("", "nodes"), "", NODE_NAME) is None:
            self.engine.seed(
                node_rt,
                {
                    "metadata": {
                        "name": NODE_NAME,
                        "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux"},
                    },
                    "status": {
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True",
                                "reason": "KubeletReady",
                                "message": "kubelet is posting ready status",
                            }
                        ],
                        "addresses": [
                            {"type": "InternalIP", "address": NODE_IP},
                            {"type": "Hostname", "address": NODE_NAME},
                        ],
                        "capacity": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                        "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                        "nodeInfo": {
                            "architecture": "amd64",
                            "operatingSystem": "linux",
                            "osImage": "ray-operator sandbox",
                            "kernelVersion": "6.1.0",
                            "containerRuntimeVersion": "containerd://1.7.24",
                            "kubeletVersion": "v1.32.0-sandbox",
                            "kubeProxyVersion": "v1.32.0-sandbox",
                            "machineID": "",
                            "systemUUID": "",
                            "bootID": "",
                        },
                    },
                },
            )

    def _setup_admission(self) -> None:
        def get_namespace(name: str) -> dict[str, Any] | None:
            ns = self.store.get(NAMESPACE_GR, "", name)
            return dict(ns) if ns is not None else None

        self.engine.admission = AdmissionChain(
            resolve_service=lambda ns, name, port: self.service_endpoints.get((ns, name, port)),
            get_namespace=get_namespace,
            log=self.admission_log,
            served_versions=self.served_versions,
        )

    def served_versions(self, group: str, resource: str) -> list[str]:
        """The versions ``group``/``resource`` is served in (matchPolicy Equivalent matches across them)."""
        return [rt.version for rt in self.registry.all() if rt.group == group and rt.resource == resource]

    def _pod_for_logs(self, namespace: str, name: str) -> dict[str, Any]:
        rt = self.registry.by_kind("v1", "Pod")
        assert rt is not None
        return self.engine.get_stored(rt, namespace, name)

    async def _setup_kubelet(self, app: web.Application) -> None:
        if self.runtime_name == "process":
            from ray_operator.sandbox.kubelet.process import ProcessRuntime

            if not self.tls or self.ca_pem is None:
                raise ValueError("the process runtime needs tls=True: pods reach the API server over HTTPS")
            runtime = ProcessRuntime(
                api_port=self.port,
                ca_pem=self.ca_pem,
                token=self.token,
                pod_cidr=POD_CIDR,
                token_for=lambda namespace, name: self.service_account_token(namespace, name),
                **self.runtime_options,
            )
            await runtime.start()
            self.process_runtime = runtime
            self.kubelet = Kubelet(
                base_url=self.url,
                token=self.token,
                ssl_context=self.client_ssl_context(),
                runtime=runtime,
                node_name=NODE_NAME,
                **self.kubelet_options,
            )
        else:
            self.kubelet = FakeKubelet(
                base_url=self.url,
                token=self.token if self.tls else None,
                ssl_context=self.client_ssl_context(),
                node_name=NODE_NAME,
                **self.kubelet_options,
            )
        self.engine.graceful_pods = True
        self.control.kubelet = self.kubelet
        sub = web.Application()
        sub.add_routes(self.kubelet.control_routes())
        app.add_subapp(f"{PREFIX}/kubelet/", sub)

    def _advance_clock(self, seconds: float) -> datetime:
        self._clock_offset += timedelta(seconds=seconds)
        return self.clock()

    def _reset(self) -> None:
        self.store.clear()
        self.registry.reset_crds()
        self._seed_initial()

    def _seed(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for obj in objects:
            if not isinstance(obj, dict):
                raise errors.bad_request("every seeded object must be a JSON object")
            rt = self.registry.by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            if rt is None:
                raise errors.bad_request(
                    f"no served resource has apiVersion {obj.get('apiVersion')!r} and kind {obj.get('kind')!r}"
                )
            out.append(self.engine.seed(rt, obj))
        return out
