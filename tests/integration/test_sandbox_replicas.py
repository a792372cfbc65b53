"""``ray-operator sandbox --replicas 2``: two operator processes, one Lease; killing the holder hands over,
and the webhook Service follows a live replica, so kubectl keeps working through the failover.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from ray_operator.kube.client import kube_api_client
from ray_operator.settings import Settings
from tests.integration.rayclusters import Api, sample, wait_until

LEASE = "/apis/coordination.k8s.io/v1/namespaces/ray-system/leases/ray-operator-leader"
SERVICE_ACCOUNT = "system:serviceaccount:ray-system:ray-operator-controller-manager"
REPLICA = re.compile(r"replica-(\d): pid (\d+), identity (\S+),")


def kubeconfig_of(pid: int) -> str:
    """The ``--kubeconfig`` a replica process was started with."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return argv[argv.index("--kubeconfig") + 1]


async def test_two_replicas_one_leads_and_a_killed_leader_hands_over(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ray-operator"), "sandbox", "--replicas", "2",
        "--kubeconfig", str(kubeconfig), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        pids: dict[str, int] = {}
        async with asyncio.timeout(90):
            while "Stop with Ctrl-C." not in (line := (await proc.stdout.readline()).decode()):
                assert line, f"the sandbox exited with {await proc.wait()}"
                if match := REPLICA.search(line):
                    pids[match.group(3)] = int(match.group(2))
        assert len(pids) == 2
        for pid in pids.values():  # each replica runs as the operator's ServiceAccount, confined to config/rbac
            async with kube_api_client(Settings(kubeconfig=kubeconfig_of(pid))) as client:
                review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
                who = await Api(client).send("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
                assert who["status"]["userInfo"]["username"] == SERVICE_ACCOUNT
        async with kube_api_client(Settings(kubeconfig=str(kubeconfig))) as client:
            api = Api(client)
            holder = (await api.get(LEASE))["spec"]["holderIdentity"]
            assert holder in pids
            (other,) = set(pids) - {holder}
            os.kill(pids[holder], signal.SIGTERM)  # what `kill PID` does: drain, release, exit

            async def led_by_other() -> bool:
                return bool((await api.get(LEASE))["spec"].get("holderIdentity") == other)

            await wait_until(led_by_other, seconds=10, what="the other replica leads")
            await api.create_cluster(sample("ray_v1_raycluster.mini.yaml"))  # admitted by the surviving replica
            await wait_until(lambda: api.ready("raycluster-mini", workers=1), seconds=30, what="reconciled")
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 40) == 0
        assert not kubeconfig.exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_replicas_need_a_controller(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [str(Path(sys.executable).parent / "ray-operator"), "sandbox", "--replicas", "2", "--mode", "webhook",
         "--kubeconfig", str(tmp_path / "kc")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--replicas needs a controller" in done.stderr
