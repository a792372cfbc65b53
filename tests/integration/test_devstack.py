"""``ray-operator sandbox``: the webhook objects it installs match ``config/``, and the command works end to end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ray_operator.devstack import run_devstack, webhook_resources
from ray_operator.sandbox.testing import Kubectl, kubectl_path
from ray_operator.settings import Settings

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_KINDS = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
BROKEN = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "broken"},
    "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": []}}}},
}


def kustomize(directory: str, tmp: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(kubectl_path()), "kustomize", str(REPO / directory), "--cache-dir", str(tmp / "kc")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def by_kind_and_name(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_installed_webhook_objects_match_config_default(tmp_path: Path) -> None:
    rendered = by_kind_and_name(kustomize("config/default", tmp_path))
    ours = by_kind_and_name(webhook_resources(Settings()))
    for key, obj in ours.items():
        assert rendered.get(key) == obj, key


def test_installed_webhook_objects_match_config_webhook_with_the_name_prefix(tmp_path: Path) -> None:
    prefix = "ray-operator-"
    rendered = kustomize("config/webhook", tmp_path)
    for obj in rendered:
        obj["metadata"]["name"] = prefix + obj["metadata"]["name"]
        for hook in obj.get("webhooks", []):
            hook["clientConfig"]["service"]["name"] = prefix + hook["clientConfig"]["service"]["name"]
    ours = webhook_resources(Settings())
    for obj in ours:
        obj["metadata"]["labels"].pop("app.kubernetes.io/part-of")  # added by config/default
        if not obj["metadata"]["labels"]:
            del obj["metadata"]["labels"]
    assert by_kind_and_name(rendered) == by_kind_and_name(ours)


async def wait_for_output(kubectl: Kubectl, args: list[str], wanted: str, *, seconds: float = 30) -> str:
    async with asyncio.timeout(seconds):
        while True:
            done = await kubectl(*args)
            if wanted in done.stdout:
                return done.stdout
            await asyncio.sleep(0.2)


async def test_sandbox_command_writes_the_kubeconfig_only_once_admissions_work(tmp_path: Path) -> None:
    """The README's first command, as a user runs it: admission refuses a broken cluster, a sample becomes
    a ready cluster of pods and a head Service, SIGTERM ends it cleanly."""
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ray-operator"), "sandbox", "--kubeconfig", str(kubeconfig),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        # Whoever waits for the file must be able to use kubectl the moment it appears: poll for the
        # file itself (not the banner) and send admissions at once.
        async with asyncio.timeout(60):
            while not kubeconfig.exists():
                assert proc.returncode is None, f"the sandbox exited early: {(await proc.stderr.read()).decode()}"
                await asyncio.sleep(0.02)
        kubectl = Kubectl(kubeconfig=kubeconfig, cache_dir=tmp_path / "kc")
        refused = await kubectl("create", "-f", "-", input=json.dumps(BROKEN))
        assert refused.returncode == 1 and 'The RayCluster "broken" is invalid:' in refused.stderr, refused.stderr
        created = await kubectl("create", "-f", str(REPO / "samples" / "ray_v1_raycluster.mini.yaml"))
        assert created.returncode == 0, created.stderr
        got = json.loads((await kubectl("get", "rayclusters", "-o", "json")).stdout)
        assert [i["metadata"]["name"] for i in got["items"]] == ["raycluster-mini"]
        await wait_for_output(kubectl, ["get", "raycluster", "raycluster-mini"], "ready")
        pods = json.loads((await kubectl("get", "pods", "-l", "ray.io/cluster=raycluster-mini", "-o", "json")).stdout)
        types = sorted(p["metadata"]["labels"]["ray.io/node-type"] for p in pods["items"])
        assert types == ["head", "worker"]
        assert all(p["status"]["phase"] == "Running" for p in pods["items"])
        services = (await kubectl("get", "svc", "raycluster-mini-head-svc", "-o", "name")).stdout
        assert services.strip() == "service/raycluster-mini-head-svc"
        banner: list[str] = []
        async with asyncio.timeout(30):
            while not banner or "Stop with Ctrl-C" not in banner[-1]:
                line = (await proc.stdout.readline()).decode()
                assert line, "the sandbox closed stdout before printing how to use it"
                banner.append(line)
        assert any(str(kubeconfig) in line for line in banner)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.communicate()
    assert proc.returncode == 0
    assert not kubeconfig.exists(), "a stale kubeconfig must not outlive the sandbox"


async def test_sandbox_in_controller_mode_reconciles_without_webhooks(tmp_path: Path) -> None:
    """No webhook runs, so none is installed (with failurePolicy Fail it would refuse every RayCluster); the
    reconciler alone validates: a broken cluster is stored, warned about and given no pods."""
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    stop = asyncio.Event()
    task = asyncio.create_task(run_devstack(kubeconfig=kubeconfig, mode="controller", stop=stop, handle_signals=False))
    try:
        async with asyncio.timeout(60):
            while not kubeconfig.exists():
                assert not task.done(), f"the sandbox exited early with {task.result()}"
                await asyncio.sleep(0.02)
        kubectl = Kubectl(kubeconfig=kubeconfig, cache_dir=tmp_path / "kc")
        hooks = await kubectl("get", "validatingwebhookconfigurations,mutatingwebhookconfigurations", "-o", "name")
        assert hooks.stdout.strip() == ""
        created = await kubectl("create", "-f", "-", input=json.dumps(BROKEN))
        assert created.returncode == 0, created.stderr
        await wait_for_output(kubectl, ["get", "events.events.k8s.io"], "InvalidRayClusterSpec")
        notes = (await kubectl("get", "events.events.k8s.io", "-o", "jsonpath={.items[*].note}")).stdout
        assert "headGroupSpec should have at least one container" in notes
        assert (await kubectl("get", "pods", "-o", "name")).stdout.strip() == ""
    finally:
        stop.set()
        async with asyncio.timeout(30):
            assert await task == 0


async def test_a_stop_during_start_up_ends_the_sandbox_without_writing_the_kubeconfig(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while the webhooks are still coming up must not wait for the admission round trip (up to a
    minute when something is wrong) and must leave no kubeconfig that promises a working sandbox."""
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    stop = asyncio.Event()
    stop.set()  # requested before the operator could possibly serve
    async with asyncio.timeout(30):
        code = await run_devstack(kubeconfig=kubeconfig, kubelet=False, stop=stop, handle_signals=False)
    assert code == 0
    assert not kubeconfig.exists()
    assert "sandbox is ready" not in capsys.readouterr().out  # it stopped instead of announcing itself
