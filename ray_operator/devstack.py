"""``ray-operator sandbox``: the API-server emulator and the operator together, one command, one loop.

It starts the sandbox (fake kubelet on unless ``--no-kubelet``), installs what a cluster install
would - the RayCluster CRD, the ``ray-system`` namespace, the webhook Service and the validating and
mutating webhook configurations - routes the Service to the local webhook server, and runs the
operator runtime beside it, by default in ``--mode all``: the webhooks and the reconciler, so a
RayCluster created with kubectl becomes head and worker pods that the fake kubelet runs.
Certificates are bootstrapped *through the emulator* exactly as in a cluster: the self-signed source
writes its Secret there and injects the caBundle into the two configurations, and the emulator then
calls the webhooks over TLS verified against it.

The kubeconfig file is written only after a server-side dry-run create of a RayCluster has gone
through both webhooks and the reconciler's caches have synced, so whoever waits for the file can use
kubectl at once. With ``--mode controller`` no webhook runs and no webhook configuration is installed
(with ``failurePolicy: Fail`` it would refuse every RayCluster). Runs until SIGINT or
SIGTERM, then exits 0 and removes the file; a stop requested while starting ends it at once (the
round trip may otherwise retry for a minute) and the file is never written.

The webhook objects are built here in Python (the ``config/`` tree is not shipped in the package);
a test compares them with ``kubectl kustomize config/webhook`` so the two cannot drift.

Decided against: shelling out to kubectl to install (the package must work without it) and running
the operator as a second process (one loop keeps start-up under a second and shutdown simple).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import structlog

from ray_operator.kube.client import kube_api_client
from ray_operator.logging import configure_logging
from ray_operator.metrics import new_registry
from ray_operator.runtime import EXIT_CRASHED, EXIT_OK, EXIT_USAGE, RuntimeState, run
from ray_operator.sandbox.kubelet.process.netns import NamespacesUnavailable
from ray_operator.sandbox_rbac import operator_kubeconfig
from ray_operator.settings import Mode, Settings
from webhook.app import MUTATE_PATH, VALIDATE_PATH

log = structlog.get_logger("ray_operator.devstack")

WEBHOOK_TIMEOUT_SECONDS = 5
ROUND_TRIP_DEADLINE_SECONDS = 60.0


def webhook_resources(settings: Settings) -> list[dict[str, Any]]:
    """The webhook Service and both webhook configurations exactly as ``config/default`` installs them."""
    part_of = {"app.kubernetes.io/part-of": "ray-operator"}
    rules = [
        {
            "apiGroups": ["ray.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["rayclusters"],
            "scope": "Namespaced",
        }
    ]

    def hook(name: str, path: str, **extra: Any) -> dict[str, Any]:
        service = {"name": settings.webhook_service_name, "namespace": settings.namespace, "path": path, "port": 443}
        return {
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"caBundle": "", "service": service},
            "failurePolicy": "Fail",
            "name": name,
            **extra,
            "rules": rules,
            "sideEffects": "None",
            "timeoutSeconds": WEBHOOK_TIMEOUT_SECONDS,
        }

    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "labels": {
                    "app.kubernetes.io/component": "webhook",
                    "app.kubernetes.io/name": "ray-operator",
                    **part_of,
                },
                "name": settings.webhook_service_name,
                "namespace": settings.namespace,
            },
            "spec": {
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 9443}],
                "selector": {"app.kubernetes.io/component": "operator", "app.kubernetes.io/name": "ray-operator"},
                "type": "ClusterIP",
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"labels": dict(part_of), "name": settings.mutating_webhook_name},
            "webhooks": [hook("mraycluster.kb.io", MUTATE_PATH, reinvocationPolicy="IfNeeded")],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"labels": dict(part_of), "name": settings.validating_webhook_name},
            "webhooks": [hook("vraycluster.kb.io", VALIDATE_PATH)],
        },
    ]


def probe_raycluster(name: str = "devstack-admission-check") -> dict[str, Any]:
    """The smallest valid RayCluster, used for the dry-run admission round trip."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "rayVersion": "2.41.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.41.0"}]}},
            },
        },
    }


async def _create(call: Callable[..., Any], **kwargs: Any) -> None:
    from kubernetes_asyncio.client.exceptions import ApiException

    try:
        await call(**kwargs)
    except ApiException as exc:
        if exc.status != 409:
            raise


async def install(api_client: Any, settings: Settings, *, webhooks: bool = True) -> None:
    """CRD, namespace, and (``webhooks``) the webhook Service and configurations; existing objects are left alone."""
    from kubernetes_asyncio import client

    from ray_operator.api.crd import build_crd

    await _create(client.ApiextensionsV1Api(api_client).create_custom_resource_definition, body=build_crd())
    core = client.CoreV1Api(api_client)
    await _create(
        core.create_namespace, body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": settings.namespace}}
    )
    if not webhooks:
        return
    admission = client.AdmissionregistrationV1Api(api_client)
    for obj in webhook_resources(settings):
        if obj["kind"] == "Service":
            await _create(core.create_namespaced_service, namespace=settings.namespace, body=obj)
        elif obj["kind"] == "MutatingWebhookConfiguration":
            await _create(admission.create_mutating_webhook_configuration, body=obj)
        else:
            await _create(admission.create_validating_webhook_configuration, body=obj)


async def admission_round_trip(api_client: Any, *, deadline_seconds: float = ROUND_TRIP_DEADLINE_SECONDS) -> None:
    """Retry a server-side dry-run create of a RayCluster until both webhooks answer it."""
    from kubernetes_asyncio import client
    from kubernetes_asyncio.client.exceptions import ApiException

    api = client.CustomObjectsApi(api_client)
    deadline = time.monotonic() + deadline_seconds
    last = "no attempt yet"
    while time.monotonic() < deadline:
        try:
            await api.create_namespaced_custom_object(
                "ray.io", "v1", "default", "rayclusters", probe_raycluster(), dry_run="All", _request_timeout=15
            )
            return
        except ApiException as exc:
            last = f"{exc.status} {exc.reason}: {str(exc.body)[:500]}"
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the webhooks did not admit a RayCluster within {deadline_seconds:.0f}s; last error: {last}")


def operator_settings(*, kubeconfig: Path, mode: Mode = "all") -> Settings:
    return Settings(
        mode=mode,
        kubeconfig=str(kubeconfig),
        webhook_host="127.0.0.1",
        webhook_port=0,
        probe_host="127.0.0.1",
        probe_port=0,
        metrics_host="127.0.0.1",
        metrics_port=0,
        metrics_secure=False,  # plain http://127.0.0.1 metrics on a laptop (the usage text prints that URL)
        shutdown_delay_seconds=0.0,  # no Service endpoints to drain on a laptop
    )


def usage_text(
    *, kubeconfig: Path, url: str, state: RuntimeState, kubelet: bool, settings: Settings, runtime: str = "fake"
) -> str:
    lines = [
        f"ray-operator sandbox is ready: API server {url}, operator in {settings.mode} mode.",
        f"  kubeconfig:  {kubeconfig}",
        f"  try:         kubectl --kubeconfig {kubeconfig} apply -f samples/ray_v1_raycluster.mini.yaml",
        f"               kubectl --kubeconfig {kubeconfig} get rayclusters,pods,services",
    ]
    if settings.mode != "controller":
        lines.append(
            f"  webhook:     https://127.0.0.1:{state.webhook_port} "
            f"(Service {settings.namespace}/{settings.webhook_service_name})"
        )
    lines += [
        f"  probes:      http://127.0.0.1:{state.probe_port}/readyz   metrics: "
        f"http://127.0.0.1:{state.metrics_port}/metrics",
        f"  fake kubelet: {'on: pods become Running and Ready' if kubelet else 'off: pods stay Pending'}"
        if runtime == "fake" or not kubelet
        else "  kubelet:     process runtime: every pod runs as local processes in its own network namespace; "
        "each pod's container ports are forwarded to 127.0.0.1 as it starts (printed below)",
    ]
    if settings.mode == "webhook":
        lines.append("  RayClusters are validated and defaulted; no controller runs in webhook mode: no pods are made.")
    lines.append("  Stop with Ctrl-C.")
    return "\n".join(lines)


async def run_devstack(
    *,
    kubeconfig: Path,
    port: int = 0,
    kubelet: bool = True,
    mode: Mode = "all",
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    state: RuntimeState | None = None,
    manifests: Sequence[dict[str, Any]] = (),
    replicas: int = 1,
    rbac: list[dict[str, Any]] | None = None,
    runtime: str = "fake",
) -> int:
    """Serve the sandbox with the operator until ``stop`` (or SIGINT/SIGTERM); returns the exit code.

    The operator runs with its ServiceAccount's token under ``config/rbac`` (``rbac`` replaces those objects).
    With ``manifests`` (``--apply``), they are created once the operator is ready and a progress view
    of the RayClusters runs on stdout (``ray_operator.progress``) until the sandbox stops. With
    ``replicas`` > 1 the operators are that many processes instead (``ray_operator.replicas``).
    """
    from ray_operator.sandbox.server import Sandbox

    done = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, done.set)
                installed.append(sig)
    if replicas > 1:
        from ray_operator.replicas import run_replicated_devstack

        try:
            return await run_replicated_devstack(
                kubeconfig=kubeconfig, port=port, kubelet=kubelet, mode=mode, count=replicas, stop=done,
                manifests=manifests,
            )  # fmt: skip
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
    st = state if state is not None else RuntimeState(registry=new_registry())
    written: Path | None = None
    stopper = asyncio.create_task(done.wait())
    operator: asyncio.Task[int] | None = None

    async def until_stopped(step: asyncio.Future[Any]) -> bool:
        """Wait for ``step``, the operator ending, or a stop request; True when ``step`` finished first."""
        waiting: set[asyncio.Future[Any]] = {step, stopper}
        if operator is not None:
            waiting.add(operator)
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if step.done():
            return True
        step.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await step
        return False

    async def stop_operator() -> int:
        if operator is None:
            return EXIT_OK
        st.stop.set()
        code = await operator
        return EXIT_OK if code == EXIT_OK else code

    async def serve_ready(settings: Settings) -> int:
        """Ready: apply the manifests and show their progress (``--apply``), until stopped.

        ``settings`` are the admin's: the manifests are the user's, not the operator's to create.
        """
        assert operator is not None
        async with contextlib.AsyncExitStack() as stack:
            if manifests:
                view = await stack.enter_async_context(applied(settings, manifests))
                stack.push_async_callback(_cancelled, view)
            await asyncio.wait({operator, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not stopper.done():
            log.error("devstack_failed", reason="the operator stopped", exit_code=operator.result())
            return operator.result() or EXIT_CRASHED
        return await stop_operator()

    try:
        with tempfile.TemporaryDirectory(prefix="ray-operator-devstack-") as tmp:
            async with Sandbox(tls=True, port=port, kubelet=kubelet, runtime=runtime) as sb:
                if sb.process_runtime is not None:
                    sb.process_runtime.on_forward = print_forward
                admin = operator_settings(kubeconfig=sb.write_kubeconfig(Path(tmp) / "admin.kubeconfig"), mode=mode)
                webhooks = mode != "controller"
                async with kube_api_client(admin) as api_client:
                    await install(api_client, admin, webhooks=webhooks)
                    # The operator is confined to config/rbac, as in a cluster (sandbox_rbac).
                    operator_config = Path(tmp) / "operator.kubeconfig"
                    internal = await operator_kubeconfig(sb, api_client, operator_config, objects=rbac)
                settings = operator_settings(kubeconfig=internal, mode=mode)
                operator = asyncio.create_task(run(settings, state=st, handle_signals=False), name="operator")
                if mode != "webhook" and not await until_stopped(asyncio.ensure_future(controller_synced(st))):
                    if operator.done():
                        log.error("devstack_failed", reason="the operator stopped before its caches synced")
                        return operator.result() or EXIT_CRASHED
                    return await stop_operator()
                if not webhooks:
                    written = sb.write_kubeconfig(kubeconfig)
                    usage = usage_text(
                        kubeconfig=written, url=sb.url, state=st, kubelet=kubelet, settings=settings, runtime=runtime
                    )
                    print(usage, flush=True)
                    return await serve_ready(admin)
                if not await until_stopped(asyncio.ensure_future(st.webhook_serving.wait())):
                    if operator.done():
                        log.error("devstack_failed", reason="the operator stopped before its webhook served")
                        return operator.result() or EXIT_CRASHED
                    return await stop_operator()  # Ctrl-C while starting
                assert st.webhook_port is not None
                sb.register_service_endpoint(
                    settings.namespace, settings.webhook_service_name, 443, "127.0.0.1", st.webhook_port
                )

                async def round_trip() -> None:
                    async with kube_api_client(admin) as api_client:
                        await admission_round_trip(api_client)

                check = asyncio.ensure_future(round_trip())
                try:
                    admitted = await until_stopped(check)
                    if admitted:
                        check.result()
                except Exception as exc:
                    log.error("devstack_failed", reason=str(exc))
                    await stop_operator()
                    return EXIT_CRASHED
                if not admitted:
                    if operator.done():
                        log.error("devstack_failed", reason="the operator stopped", exit_code=operator.result())
                        return operator.result() or EXIT_CRASHED
                    return await stop_operator()
                written = sb.write_kubeconfig(kubeconfig)
                usage = usage_text(
                    kubeconfig=written, url=sb.url, state=st, kubelet=kubelet, settings=settings, runtime=runtime
                )
                print(usage, flush=True)
                return await serve_ready(admin)
    finally:
        stopper.cancel()
        if operator is not None and not operator.done():  # an exception above: do not leave it running
            st.stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(operator, 30)
        for sig in installed:
            loop.remove_signal_handler(sig)
        if written is not None:
            with contextlib.suppress(OSError):
                written.unlink()


@contextlib.asynccontextmanager
async def applied(settings: Settings, manifests: Sequence[dict[str, Any]]) -> Any:
    """Create ``manifests`` (printing one line each), then yield the running progress-view task."""
    from ray_operator.applying import apply_manifests
    from ray_operator.progress import watch_progress

    async with kube_api_client(settings, user_agent="ray-operator-sandbox-apply") as api_client:
        for outcome in await apply_manifests(api_client, manifests):
            print(f"{outcome.reference} {outcome.result}", flush=True)
        tty = sys.stdout.isatty()
        yield asyncio.create_task(watch_progress(api_client, out=sys.stdout, tty=tty), name="progress")


async def _cancelled(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def controller_synced(state: RuntimeState) -> None:
    """Wait until the operator's controller exists and its caches are complete."""
    await state.controller_created.wait()
    assert state.controller is not None
    await state.controller.synced.wait()


def print_forward(pod: str, port: str, address: str) -> None:
    """The process runtime opened a host port for a pod's container port: tell the user where."""
    scheme = "http://" if port in ("8265", "8080") else ""
    print(f"  forwarded:   pod {pod} port {port} -> {scheme}{address}", flush=True)


def run_devstack_command(args: argparse.Namespace) -> int:
    """``ray-operator sandbox [--mode M] [--replicas N] [--apply FILE...] --kubeconfig FILE`` (not ``--api-only``)."""
    from ray_operator.applying import ManifestError, load_manifests

    if int(args.replicas) > 1 and args.mode == "webhook":
        print("error: --replicas needs a controller (--mode all or controller): webhook replicas elect nobody",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    if int(args.replicas) > 1 and getattr(args, "runtime", "fake") != "fake":
        print("error: --replicas runs with the fake kubelet only: drop --runtime process", file=sys.stderr)
        return EXIT_USAGE
    try:
        manifests = load_manifests([Path(p) for p in args.apply or ()])
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # The live view redraws the terminal: log lines would tear it, so they go to a file beside the kubeconfig.
    live = bool(manifests) and sys.stdout.isatty()
    log_file: TextIO | None = None
    if live:
        log_path = Path(args.kubeconfig).with_suffix(".log")
        try:
            log_file = log_path.open("a", encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write the operator log {log_path}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"operator logs: {log_path} (the progress view below redraws in place)", flush=True)
    configure_logging(level="info", fmt="json" if live else "auto", stream=log_file)
    mode: Mode = args.mode
    try:
        return asyncio.run(
            run_devstack(
                kubeconfig=Path(args.kubeconfig),
                port=int(args.port),
                kubelet=not bool(args.no_kubelet),
                mode=mode,
                manifests=manifests,
                replicas=int(args.replicas),
                runtime=str(getattr(args, "runtime", "fake")),
            )
        )
    except NamespacesUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CRASHED
    except OSError as exc:
        print(f"error: cannot start the sandbox on port {args.port}: {exc}", file=sys.stderr)
        return EXIT_CRASHED
    finally:
        if log_file is not None:
            log_file.close()
