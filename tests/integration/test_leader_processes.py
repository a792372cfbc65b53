"""Two ``ray-operator run`` processes against one emulator: hard failover (SIGKILL) and hand-over (SIGTERM).

The processes run ``--mode controller`` (no webhooks: two certificate managers are the subject of
``test_two_replicas.py``), so what is under test is the election and the controller. Each process logs
its identity, and its User-Agent carries it, so the emulator's request log tells who wrote what.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ray_operator.devstack import install, operator_settings
from ray_operator.runtime import user_agent
from ray_operator.sandbox.server import Sandbox
from tests.integration.rayclusters import Api, sample, wait_until

pytestmark = pytest.mark.kubelet

NAME = "raycluster-mini"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/ray-system/leases/ray-operator-leader"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Process:
    proc: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def identity(self) -> str | None:
        return next((e["identity"] for e in self.events if e["event"] == "operator_starting"), None)

    def saw(self, event: str) -> bool:
        return any(e["event"] == event for e in self.events)

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))


@pytest.fixture
async def spawn(kubeconfig_path: Path, api_client: Any) -> AsyncIterator[Any]:
    await install(api_client, operator_settings(kubeconfig=kubeconfig_path), webhooks=False)
    started: list[Process] = []
    exe = Path(sys.executable).parent / "ray-operator"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}

    async def start(*timings: str) -> Process:
        proc = await asyncio.create_subprocess_exec(
            str(exe), "run", "--mode", "controller", "--kubeconfig", str(kubeconfig_path),
            "--probe-host", "127.0.0.1", "--probe-port", "0", "--metrics-host", "127.0.0.1", "--metrics-port", "0",
            "--log-format", "json", "--requeue-seconds", "0.2", "--shutdown-delay-seconds", "0", *timings,
            stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        process = Process(proc)
        process.reader = asyncio.create_task(process._read())
        started.append(process)
        await wait_until(lambda: process.identity or process.proc.returncode is not None, seconds=30, what="start")
        assert process.identity, f"exited with {process.proc.returncode}: {process.events[-5:]}"
        return process

    yield start
    for process in started:
        if process.proc.returncode is None:
            process.proc.kill()
        await process.proc.wait()
        if process.reader is not None:
            await process.reader


def writes_by(sandbox: Sandbox, process: Process, since: int = 0) -> list[str]:
    assert process.identity is not None
    agent = user_agent(process.identity)
    return [
        f"{r['method']} {r['path']}"
        for r in sandbox.control.request_log()[since:]
        if r["user_agent"] == agent and r["method"] in WRITES and "/leases" not in r["path"]
    ]


def micro(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")


FAST = ("--lease-duration-seconds", "3", "--renew-deadline-seconds", "2", "--retry-period-seconds", "0.2")


async def test_sigkill_of_the_leader_lets_the_standby_lead_after_the_lease_and_converge_what_changed(
    spawn: Any, api_client: Any, sandbox: Sandbox
) -> None:
    first: Process = await spawn(*FAST)
    await wait_until(lambda: first.saw("controller_synced"), seconds=30, what="the first leads and syncs")
    second: Process = await spawn(*FAST)
    api = Api(api_client)
    await api.create_cluster(sample("ray_v1_raycluster.mini.yaml"))
    await wait_until(lambda: api.ready(NAME, workers=1), seconds=30, what="ready")
    assert writes_by(sandbox, first) and writes_by(sandbox, second) == []
    held = (await api.get(LEASE))["spec"]
    assert held["holderIdentity"] == first.identity

    first.proc.kill()
    await first.proc.wait()
    last_renew = micro((await api.get(LEASE))["spec"]["renewTime"])  # nobody renews it any more
    patch = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}]
    await api.patch_cluster(NAME, patch, json_patch=True)  # while nobody leads

    await wait_until(lambda: second.saw("leader_elected"), seconds=15, what="the standby leads")
    taken = (await api.get(LEASE))["spec"]
    assert taken["holderIdentity"] == second.identity and taken["leaseTransitions"] == held["leaseTransitions"] + 1
    waited = (micro(taken["acquireTime"]) - last_renew).total_seconds()
    # It never takes a live lease (it waits a whole lease duration after the last renewal it saw)
    # and takes it soon after: within the lease duration plus one jittered retry and a request.
    assert 3.0 <= waited < 3.0 + 3.0, waited
    await wait_until(lambda: api.ready(NAME, workers=2), seconds=30, what="the change converged by the new leader")
    assert writes_by(sandbox, second)


async def test_sigterm_hands_over_by_releasing_the_lease_not_by_letting_it_expire(
    spawn: Any, api_client: Any, sandbox: Sandbox
) -> None:
    # Default lease and renew deadline (15 s / 10 s): a hand-over well before 15 s can only be a release.
    first: Process = await spawn("--retry-period-seconds", "0.5")
    await wait_until(lambda: first.saw("controller_synced"), seconds=30, what="the first leads and syncs")
    second: Process = await spawn("--retry-period-seconds", "0.5")
    api = Api(api_client)
    await api.create_cluster(sample("ray_v1_raycluster.mini.yaml"))
    await wait_until(lambda: api.ready(NAME, workers=1), seconds=30, what="ready")

    loop = asyncio.get_running_loop()
    began = loop.time()
    first.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.proc.wait(), 20) == 0
    await wait_until(lambda: second.saw("leader_elected"), seconds=10, what="the standby leads")
    handed_over = loop.time() - began
    assert handed_over < 15.0, "it waited for the lease to expire"
    names = [e["event"] for e in first.events]
    assert names.index("controller_stopped") < names.index("leader_released") < names.index("operator_stopped")
    spec = (await api.get(LEASE))["spec"]
    assert spec["holderIdentity"] == second.identity and spec["leaseTransitions"] == 1
    patch = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}]
    await api.patch_cluster(NAME, patch, json_patch=True)
    await wait_until(lambda: api.ready(NAME, workers=2), seconds=30, what="the new leader reconciles")
    print(f"SIGTERM hand-over took {handed_over:.2f}s")
