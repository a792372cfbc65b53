"""Two complete operators (webhooks, certificates, election, controller) in one loop against one emulator.

Who did what is read from the emulator's request log by User-Agent, which carries each replica's
leader-election identity: exactly one replica lists, watches and writes; the standby only reads the
Lease (and serves webhooks). Faults on the Lease path make the leader stop writing before its lease
can expire, and once the API answers again one replica leads and converges what changed meanwhile.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ray_operator.runtime import user_agent
from ray_operator.sandbox.server import Sandbox
from tests.integration.conftest import OperatorStack, StackFactory
from tests.integration.rayclusters import Api, fast_settings, sample, wait_until

pytestmark = pytest.mark.kubelet

MINI = "ray_v1_raycluster.mini.yaml"
NAME = "raycluster-mini"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
CLUSTER_OBJECTS = re.compile(r"/(pods|services|rayclusters)(/|$)")


def requests_of(sandbox: Sandbox, stack: OperatorStack, since: int = 0) -> list[dict[str, Any]]:
    agent = user_agent(stack.state.identity)
    return [r for r in sandbox.control.request_log()[since:] if r["user_agent"] == agent]


def cluster_writes(requests: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['method']} {r['path']}" for r in requests if r["method"] in WRITES and CLUSTER_OBJECTS.search(r["path"])
    ]


async def readyz(stack: OperatorStack) -> tuple[int, str]:
    url = f"http://127.0.0.1:{stack.state.probe_port}/readyz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, http.get(url) as resp:
        return resp.status, await resp.text()


def elected_settings(kubeconfig: Path, **timings: float) -> Any:
    values = {"lease_duration_seconds": 3.0, "renew_deadline_seconds": 2.0, "retry_period_seconds": 0.2, **timings}
    return fast_settings(kubeconfig, **values)


async def test_only_the_leader_caches_and_writes_and_readyz_says_who_is_who(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    leader: OperatorStack = await start_operator(settings=elected_settings(kubeconfig_path))
    standby: OperatorStack = await start_operator(settings=elected_settings(kubeconfig_path), leading=False)
    await wait_until(lambda: standby.state.elector and standby.state.elector.holder, what="the standby saw a holder")
    assert leader.state.elector is not None and leader.state.elector.leading
    assert standby.state.elector is not None and standby.state.elector.state == "standby"
    assert standby.state.controller is None, "a standby builds no controller and keeps no caches"

    api = Api(api_client)
    await api.create_cluster(sample(MINI))
    await wait_until(lambda: api.ready(NAME, workers=1), seconds=30, what="the cluster ready")
    await api.patch_cluster(
        NAME, [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}], json_patch=True
    )
    await wait_until(lambda: api.ready(NAME, workers=2), seconds=30, what="scaled to 2")

    led, stood = requests_of(sandbox, leader), requests_of(sandbox, standby)
    assert cluster_writes(led), "the leader's writes were not recognised by its User-Agent"
    assert cluster_writes(stood) == []
    assert [r["path"] for r in stood if re.search(r"/(pods|rayclusters|services)$", r["path"])] == [], (
        "the standby listed or watched cluster objects"
    )
    assert all("/leases" in r["path"] or "/secrets" in r["path"] or "webhookconfigurations" in r["path"] for r in stood)

    status, text = await readyz(leader)
    assert status == 200 and "[+]leader ok: leader" in text, text
    status, text = await readyz(standby)
    assert status == 200 and f"[+]leader ok: standby (leader: {leader.state.identity})" in text, text
    lease = await api.get("/apis/coordination.k8s.io/v1/namespaces/ray-system/leases/ray-operator-leader")
    assert lease["spec"]["holderIdentity"] == leader.state.identity


async def test_faults_on_the_lease_path_stop_the_leaders_writes_before_its_lease_expires(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    first: OperatorStack = await start_operator(settings=elected_settings(kubeconfig_path))
    second: OperatorStack = await start_operator(settings=elected_settings(kubeconfig_path), leading=False)
    api = Api(api_client)
    await api.create_cluster(sample(MINI))
    await wait_until(lambda: api.ready(NAME, workers=1), seconds=30, what="the cluster ready")
    elector = first.state.elector
    assert elector is not None and elector.leading

    sandbox.control.inject_fault(method="*", path=r"/leases", count=100_000, status=503)
    await wait_until(lambda: elector.state == "lost-lease", seconds=10, what="the leader gives up")
    # The controller task is cancelled at once; dropping it finishes when its cancellation has unwound.
    await wait_until(lambda: first.state.controller is None, seconds=5, what="the controller dropped")
    assert elector.last_renew is not None
    gave_up_after = time.monotonic() - elector.last_renew  # the elector's default clock
    assert gave_up_after < first.settings.lease_duration_seconds, "it stopped before anyone could take the lease"
    status, text = await readyz(first)
    assert status == 200 and "[+]leader ok: lost-lease" in text, text  # its webhooks still serve

    # Meanwhile nobody leads: a change now must wait, and nothing writes it.
    since = len(sandbox.control.request_log())
    await api.patch_cluster(
        NAME, [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}], json_patch=True
    )
    await wait_until(lambda: len(sandbox.control.request_log()) > since + 20, what="more lease attempts")
    for stack in (first, second):
        assert cluster_writes(requests_of(sandbox, stack, since)) == []

    sandbox.control.clear_faults()
    await wait_until(lambda: api.ready(NAME, workers=2), seconds=30, what="the change converged by a leader")
    leaders = [s for s in (first, second) if s.state.elector and s.state.elector.leading]
    assert len(leaders) == 1
    (other,) = [s for s in (first, second) if s is not leaders[0]]
    assert other.state.elector is not None
    await wait_until(lambda: other.state.elector.state == "standby", what="the other an ordinary standby again")
