"""``ray-operator run --mode webhook`` as a real process against the sandbox.

It must admit RayClusters through the emulator and touch nothing a webhook-only replica has no
business touching: the emulator's request log shows no Lease (no leader election) and no pod write.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from ray_operator.devstack import admission_round_trip, install, operator_settings
from ray_operator.kube.client import USER_AGENT
from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.mark.kubelet
async def test_webhook_mode_process_admits_and_never_elects_or_writes_pods(
    sandbox: Sandbox, kubeconfig_path: Path, kubectl: Kubectl, api_client: Any
) -> None:
    settings = operator_settings(kubeconfig=kubeconfig_path)
    await install(api_client, settings)  # the test's own client: a different User-Agent from the operator's
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}
    exe = Path(sys.executable).parent / "ray-operator"
    proc = await asyncio.create_subprocess_exec(
        str(exe), "run", "--mode", "webhook", "--kubeconfig", str(kubeconfig_path),
        "--webhook-host", "127.0.0.1", "--webhook-port", "0", "--probe-host", "127.0.0.1", "--probe-port", "0",
        "--metrics-host", "127.0.0.1", "--metrics-port", "0", "--log-format", "json",
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        port = None
        async with asyncio.timeout(60):
            while port is None:
                line = await proc.stderr.readline()
                assert line, f"the operator exited early with {await proc.wait()}"
                event = json.loads(line)
                if event["event"] == "webhook_serving":
                    port = int(event["port"])
        sandbox.register_service_endpoint(settings.namespace, settings.webhook_service_name, 443, "127.0.0.1", port)
        await admission_round_trip(api_client, deadline_seconds=30)

        created = await kubectl("create", "-f", str(SAMPLES / "ray_v1_raycluster.mini.yaml"))
        assert created.returncode == 0, created.stderr
        refused = await kubectl(
            "create", "-f", "-",
            input=json.dumps({"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "x"}, "spec": {
                "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": []}}}}}),
        )  # fmt: skip
        assert refused.returncode == 1 and 'The RayCluster "x" is invalid:' in refused.stderr
        await asyncio.sleep(1.0)  # let the certificate loop run at least once more

        ours = [r for r in sandbox.control.request_log() if r["user_agent"].startswith(USER_AGENT)]
        assert any("/secrets" in r["path"] for r in ours), "the operator's requests were not recognised"
        assert not [r for r in ours if "leases" in r["path"]]
        assert not [r for r in ours if r["method"] in WRITES and re.search(r"/pods(/|$)", r["path"])]
        allowed = re.compile(r"/(secrets|validatingwebhookconfigurations|mutatingwebhookconfigurations)(/|$)")
        assert [r["path"] for r in ours if not allowed.search(r["path"])] == []
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest = (await proc.stderr.read()).decode()
            code = await proc.wait()
    assert code == 0, rest[-2000:]
    assert '"operator_stopped"' in rest
