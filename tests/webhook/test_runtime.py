"""The process runtime in webhook mode: what starts, when it is ready, how it stops and how it fails.

A stand-in certificate source (the test PKI, readiness under the test's control) and no API client
keep these tests about the composition; the integration tests run the real certificate source
against the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from certs.tlsctx import handshake_ok
from ray_operator.metrics import new_registry
from ray_operator.runtime import EXIT_CRASHED, EXIT_OK, EXIT_USAGE, RuntimeState, run
from ray_operator.settings import Settings
from tests.webhook.conftest import FAKE_RULES, review
from tests.webhook.tls import SERVER_NAME, Pki, make_pki
from webhook.app import VALIDATE_PATH


class FakeCertificates:
    def __init__(self, pki: Pki, tmp: Path, *, fail_after: float | None = None) -> None:
        self._pki = pki
        self._ctx = pki.server_context(tmp)
        self.release = asyncio.Event()
        self.fail_after = fail_after
        self.ready = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self._ctx

    def current_ca_bundle(self) -> bytes:
        return self._pki.ca_pem

    async def ensure_ready(self) -> None:
        await self.release.wait()
        self.ready = True

    async def run(self) -> None:
        if self.fail_after is not None:
            await asyncio.sleep(self.fail_after)
            raise RuntimeError("secret store unreachable")
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def no_client(settings: Settings) -> AsyncIterator[None]:
    yield None


def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = dict(
        mode="webhook",
        webhook_host="127.0.0.1",
        webhook_port=0,
        probe_host="127.0.0.1",
        probe_port=0,
        metrics_host="127.0.0.1",
        metrics_port=0,
        metrics_secure=False,  # plain /metrics here; tests/integration/test_metrics_auth.py covers the secure one
        shutdown_timeout_seconds=1.0,
        shutdown_delay_seconds=0.0,
    )
    base.update(kw)
    return Settings(**base)


async def wait_for(predicate: Any, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110  # polls state another task fills in, bounded by `within`
            await asyncio.sleep(0.02)


async def start(
    pki: Pki, tmp: Path, *, config: Settings | None = None, **kw: Any
) -> tuple[asyncio.Task[int], RuntimeState, FakeCertificates]:
    certs = FakeCertificates(pki, tmp, **kw)
    state = RuntimeState(registry=new_registry(process_metrics=False))
    task = asyncio.create_task(
        run(
            config or settings(),
            api_client_factory=no_client,
            certificate_source_factory=lambda **_: certs,
            handshake_ok=handshake_ok,
            rules=FAKE_RULES,
            state=state,
            handle_signals=False,
        )
    )
    await wait_for(lambda: state.probe_port is not None and state.metrics_port is not None)
    return task, state, certs


async def test_readyz_fails_until_a_certificate_is_loaded_then_admissions_work(pki: Pki, tmp_path: Path) -> None:
    task, state, certs = await start(pki, tmp_path)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        probe = f"http://127.0.0.1:{state.probe_port}"
        async with http.get(probe + "/healthz") as resp:
            assert resp.status == 200
        async with http.get(probe + "/readyz") as resp:
            assert resp.status == 503 and "no serving certificate" in await resp.text()
        certs.release.set()
        await wait_for(state.webhook_serving.is_set)
        async with http.get(probe + "/readyz") as resp:
            assert resp.status == 200, await resp.text()
        url = f"https://127.0.0.1:{state.webhook_port}{VALIDATE_PATH}"
        obj = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "a"}, "spec": {"badX": 1}}
        async with http.post(url, json=review(obj), ssl=pki.client_context(), server_hostname=SERVER_NAME) as resp:
            assert resp.status == 200 and (await resp.json())["response"]["allowed"] is False
        async with http.get(f"http://127.0.0.1:{state.metrics_port}/metrics") as resp:
            text = await resp.text()
        assert (
            'controller_runtime_webhook_requests_total{code="200",webhook="/validate-ray-io-v1-raycluster"} 1.0' in text
        )
        assert "controller_runtime_webhook_latency_seconds_bucket" in text
        assert 'controller_runtime_webhook_requests_in_flight{webhook="/validate-ray-io-v1-raycluster"} 0.0' in text
    state.stop.set()
    assert await asyncio.wait_for(task, 10) == EXIT_OK


async def test_readyz_fails_when_the_handshake_fails(pki: Pki, tmp_path: Path) -> None:
    task, state, certs = await start(pki, tmp_path)
    certs.release.set()
    await wait_for(state.webhook_serving.is_set)
    other_ca = make_pki().ca_pem
    certs.current_ca_bundle = lambda: other_ca  # type: ignore[method-assign]  # the caBundle no longer matches
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{state.probe_port}/readyz") as resp:
        assert resp.status == 503 and "TLS handshake" in await resp.text()
    state.stop.set()
    assert await asyncio.wait_for(task, 10) == EXIT_OK


async def test_a_crashing_root_task_stops_the_process_with_a_clear_log_line(pki: Pki, tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        task, state, certs = await start(pki, tmp_path, fail_after=0.2)
        certs.release.set()
        assert await asyncio.wait_for(task, 10) == EXIT_CRASHED
    crash = [e for e in logs if e["event"] == "root_task_crashed"]
    assert crash and crash[0]["task"] == "certificates" and "secret store unreachable" in crash[0]["error"]
    with pytest.raises(aiohttp.ClientConnectionError):  # every server was shut down with it
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{state.probe_port}/healthz"):
            pass


async def test_sigterm_shuts_down_gracefully(pki: Pki, tmp_path: Path) -> None:
    certs = FakeCertificates(pki, tmp_path)
    certs.release.set()
    state = RuntimeState(registry=new_registry(process_metrics=False))
    task = asyncio.create_task(
        run(
            settings(),
            api_client_factory=no_client,
            certificate_source_factory=lambda **_: certs,
            handshake_ok=handshake_ok,
            rules=FAKE_RULES,
            state=state,
            handle_signals=True,
        )
    )
    await wait_for(state.webhook_serving.is_set)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 10) == EXIT_OK


def test_run_command_serves_in_webhook_mode_and_exits_0_on_sigterm(pki: Pki, tmp_path: Path) -> None:
    """The real ``ray-operator run`` process with cert-manager style files: admit, then SIGTERM."""
    (tmp_path / "tls.crt").write_bytes(pki.cert_pem)
    (tmp_path / "tls.key").write_bytes(pki.key_pem)
    (tmp_path / "ca.crt").write_bytes(pki.ca_pem)
    exe = Path(sys.executable).parent / "ray-operator"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}
    args = [
        str(exe),
        "run",
        "--mode",
        "webhook",
        "--cert-source",
        "files",
        "--cert-dir",
        str(tmp_path),
        "--webhook-host",
        "127.0.0.1",
        "--webhook-port",
        "0",
        "--probe-host",
        "127.0.0.1",
        "--probe-port",
        "0",
        "--metrics-host",
        "127.0.0.1",
        "--metrics-port",
        "0",
        "--no-metrics-secure",
        "--log-format",
        "json",
    ]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        port = None
        for _ in range(200):
            line = proc.stderr.readline()
            if not line:
                break
            event = json.loads(line)
            if event["event"] == "webhook_serving":
                port = event["port"]
                break
        assert port, "the webhook never started serving"
        obj = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "a"}, "spec": {}}
        ctx = pki.client_context()
        ctx.check_hostname = False
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        conn.request("POST", VALIDATE_PATH, body=json.dumps(review(obj)), headers={"Content-Type": "application/json"})
        answer = json.loads(conn.getresponse().read())
        conn.close()
        assert answer["kind"] == "AdmissionReview" and "allowed" in answer["response"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        rest = proc.stderr.read()
        assert "operator_stopped" in rest and "shutdown requested" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_readyz_without_a_known_ca_checks_the_bare_handshake(pki: Pki, tmp_path: Path) -> None:
    task, state, certs = await start(pki, tmp_path)
    certs.release.set()
    await wait_for(state.webhook_serving.is_set)
    certs.current_ca_bundle = lambda: None  # type: ignore[method-assign,assignment,return-value]  # files without ca.crt
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{state.probe_port}/readyz") as resp:
        assert resp.status == 200, await resp.text()
    state.stop.set()
    assert await asyncio.wait_for(task, 10) == EXIT_OK


async def test_api_calls_without_their_own_timeout_get_the_default(tmp_path: Path) -> None:
    """A hung API server must not hang the operator: calls time out after kube_request_timeout_seconds."""
    from aiohttp import web

    from ray_operator.kube.client import kube_api_client

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    try:
        from kubernetes_asyncio import client

        cfg = settings(kubeconfig=str(kubeconfig), kube_request_timeout_seconds=0.5)
        async with kube_api_client(cfg) as api:
            assert api.user_agent == "ray-operator"
            began = asyncio.get_running_loop().time()
            with pytest.raises(asyncio.TimeoutError):
                await client.CoreV1Api(api).list_namespace()
            assert asyncio.get_running_loop().time() - began < 5
    finally:
        await runner.cleanup()


def test_a_missing_kubeconfig_is_a_clear_usage_error(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ray-operator"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}
    missing = tmp_path / "nope.kubeconfig"
    done = subprocess.run(
        [str(exe), "run", "--mode", "webhook", "--kubeconfig", str(missing), "--log-format", "json"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 2
    failure = [json.loads(line) for line in done.stderr.splitlines() if "operator_start_failed" in line]
    assert failure and failure[0]["error"] == (
        f"kubeconfig {missing} does not exist (flag --kubeconfig, env RAY_OPERATOR_KUBECONFIG)"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("flag", "env"),
    [
        ("--cert-rollover-grace-seconds", "RAY_OPERATOR_CERT_ROLLOVER_GRACE_SECONDS"),
        ("--cert-check-interval-seconds", "RAY_OPERATOR_CERT_CHECK_INTERVAL_SECONDS"),
    ],
)
def test_unusable_certificate_settings_are_a_one_line_usage_error(flag: str, env: str, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ray-operator"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}
    done = subprocess.run(
        [str(exe), "run", "--mode", "webhook", "--kubeconfig", str(tmp_path / "unused"), flag, "0"],
        capture_output=True, text=True, timeout=60, env=clean,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert flag in done.stderr and env in done.stderr and "must be greater than 0" in done.stderr


def test_unusable_certificate_settings_cannot_even_be_built() -> None:
    """A ``Settings`` is range-checked when it is built, so ``run`` never receives one it cannot start with."""
    with pytest.raises(
        ValueError,
        match=r"^--cert-rollover-grace-seconds \(RAY_OPERATOR_CERT_ROLLOVER_GRACE_SECONDS\) must be greater than 0, "
        r"got -1\.0$",
    ):
        settings(cert_rollover_grace_seconds=-1.0)


async def test_on_shutdown_readyz_fails_first_while_the_webhook_still_answers(pki: Pki, tmp_path: Path) -> None:
    task, state, certs = await start(pki, tmp_path, config=settings(shutdown_delay_seconds=1.0))
    certs.release.set()
    await wait_for(state.webhook_serving.is_set)
    state.stop.set()
    await asyncio.sleep(0.1)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async with http.get(f"http://127.0.0.1:{state.probe_port}/readyz") as resp:
            assert resp.status == 503 and "shutting down" in await resp.text()
        url = f"https://127.0.0.1:{state.webhook_port}{VALIDATE_PATH}"
        obj = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "a"}, "spec": {}}
        async with http.post(url, json=review(obj), ssl=pki.client_context(), server_hostname=SERVER_NAME) as resp:
            assert resp.status == 200
    assert not task.done()
    assert await asyncio.wait_for(task, 10) == EXIT_OK


def test_a_flag_value_of_the_wrong_type_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from ray_operator.cli import build_parser
    from ray_operator.runtime import run_command

    args = build_parser().parse_args(["run", "--mode", "webhook", "--webhook-port", "https"])
    assert run_command(args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("ray-operator: --webhook-port (RAY_OPERATOR_WEBHOOK_PORT) must be an integer")
    assert "'https'" in err and len(err.strip().splitlines()) == 1
