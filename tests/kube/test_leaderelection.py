"""Leader election against the real in-process emulator: one leader, release, loss before expiry, skew.

Timings are sub-second where a test waits for the election itself; where a test must prove that a
hand-over did *not* wait for expiry, the lease stays long (15 s) and the hand-over is seen well before.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ray_operator.kube.client import request_json
from ray_operator.kube.clock import ManualClock
from ray_operator.kube.leaderelection import LeaderElector, LeaseConfig, new_identity
from ray_operator.sandbox.server import Sandbox
from tests.kube.helpers import eventually

NS = "ray-system"
LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/leader"


@pytest.fixture
async def namespace(api_client: Any) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    await request_json(api_client, "POST", "/api/v1/namespaces", timeout=5, body=body)


def config(identity: str, **timings: float) -> LeaseConfig:
    values = {"lease_duration_seconds": 1.5, "renew_deadline_seconds": 1.0, "retry_period_seconds": 0.1, **timings}
    return LeaseConfig(namespace=NS, name="leader", identity=identity, **values)


async def lease(api_client: Any) -> dict[str, Any]:
    spec: dict[str, Any] = (await request_json(api_client, "GET", LEASE, timeout=5)).body["spec"]
    return spec


class Replica:
    """One elector running ``run(lead)``; ``lead`` records when it ran and whether it was cancelled."""

    def __init__(self, api_client: Any, cfg: LeaseConfig, **kw: Any) -> None:
        self.elector = LeaderElector(api_client=api_client, config=cfg, **kw)
        self.stop = asyncio.Event()
        self.leads = 0
        self.cancelled = 0
        self.cancelled_at: float | None = None
        self.finish_on_stop = True
        self.task: asyncio.Task[None] | None = None

    async def lead(self) -> None:
        self.leads += 1
        try:
            await self.stop.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            self.cancelled_at = asyncio.get_running_loop().time()
            raise

    def start(self) -> Replica:
        self.task = asyncio.create_task(self.elector.run(self.lead, stop=self.stop))
        return self

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def replicas(api_client: Any, namespace: None) -> AsyncIterator[list[Replica]]:
    made: list[Replica] = []
    yield made
    for replica in made:
        replica.stop.set()
        if replica.task is not None:
            replica.task.cancel()
            with contextlib.suppress(BaseException):
                await replica.task


def test_identity_is_hostname_underscore_uuid() -> None:
    first, second = new_identity(), new_identity()
    assert re.fullmatch(rf"{re.escape(socket.gethostname())}_[0-9a-f-]{{36}}", first)
    assert first != second, "two processes on one host must not share an identity"


def test_timings_that_could_make_two_leaders_are_refused() -> None:
    with pytest.raises(ValueError, match="lease_duration_seconds must be greater than renew_deadline_seconds"):
        config("a", lease_duration_seconds=1.0, renew_deadline_seconds=1.0)
    with pytest.raises(ValueError, match=r"1\.2 times retry_period_seconds"):
        config("a", renew_deadline_seconds=0.1, retry_period_seconds=0.1)


async def test_of_two_replicas_started_together_exactly_one_leads(
    api_client: Any, replicas: list[Replica], sandbox: Sandbox
) -> None:
    replicas += [Replica(api_client, config(f"r{i}")).start() for i in range(2)]
    await eventually(lambda: any(r.leads for r in replicas), what="a leader")
    await asyncio.sleep(0.6)  # several renew and campaign rounds
    leaders = [r for r in replicas if r.elector.leading]
    assert len(leaders) == 1 and sum(r.leads for r in replicas) == 1
    spec = await lease(api_client)
    assert spec["holderIdentity"] == leaders[0].elector.config.identity
    assert spec["leaseDurationSeconds"] == 2  # whole seconds, rounded up: others never wait less than we assume
    assert spec["leaseTransitions"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", spec["renewTime"]), "a MicroTime"
    standby = next(r for r in replicas if r is not leaders[0])
    assert standby.elector.state == "standby" and standby.elector.holder == leaders[0].elector.config.identity
    writes = [r for r in sandbox.control.request_log(path="/leases") if r["method"] in ("PUT", "POST")]
    assert all(r["status"] in (200, 201, 409) for r in writes)


async def test_a_graceful_stop_releases_the_lease_and_the_standby_leads_before_it_could_expire(
    api_client: Any, replicas: list[Replica]
) -> None:
    long = {"lease_duration_seconds": 15.0, "renew_deadline_seconds": 10.0, "retry_period_seconds": 0.2}
    first = Replica(api_client, config("first", **long)).start()
    replicas.append(first)
    await eventually(lambda: first.elector.leading, what="the first leads")
    second = Replica(api_client, config("second", **long)).start()
    replicas.append(second)
    await asyncio.sleep(0.5)
    assert not second.elector.leading
    loop = asyncio.get_running_loop()
    stopped = loop.time()
    await first.shutdown()
    assert first.cancelled == 0, "a graceful stop lets the work finish; it is not cancelled"
    released = await lease(api_client)
    assert released["holderIdentity"] == "" and released["leaseDurationSeconds"] == 1
    await eventually(lambda: second.elector.leading, timeout=5.0, what="the standby leads")
    # Far sooner than the 15 s lease: the hand-over came from the release, not from expiry.
    assert loop.time() - stopped < 5.0
    spec = await lease(api_client)
    assert spec["holderIdentity"] == "second" and spec["leaseTransitions"] == 1


async def test_a_leader_that_cannot_renew_stops_before_its_lease_expires_and_leads_again_later(
    api_client: Any, replicas: list[Replica], sandbox: Sandbox
) -> None:
    leader = Replica(api_client, config("leader-a", lease_duration_seconds=3.0, renew_deadline_seconds=2.0))
    replicas.append(leader.start())
    await eventually(lambda: leader.elector.leading, what="leading")
    sandbox.control.inject_fault(method="*", path="/leases", count=10_000, status=500)
    await eventually(lambda: leader.cancelled == 1, timeout=6.0, what="the work cancelled")
    assert leader.elector.state == "lost-lease"
    assert leader.elector.last_renew is not None and leader.cancelled_at is not None
    # The clock of the elector is the loop's monotonic clock: compare on one time line.
    stopped_after = leader.cancelled_at - leader.elector.last_renew
    assert stopped_after < leader.elector.config.lease_duration_seconds, "stopped before anyone could take over"
    sandbox.control.clear_faults()
    await eventually(lambda: leader.leads == 2, timeout=6.0, what="leading again once the API answers")
    spec = await lease(api_client)
    assert spec["holderIdentity"] == "leader-a" and spec["leaseTransitions"] == 0, "its own lease, won back"


async def test_work_that_crashes_ends_the_election_with_its_error_and_releases(
    api_client: Any, namespace: None
) -> None:
    elector = LeaderElector(api_client=api_client, config=config("crashy"))

    async def lead() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(elector.run(lead, stop=asyncio.Event()), 5)
    assert (await lease(api_client))["holderIdentity"] == ""


async def test_expiry_is_judged_by_the_local_clock_not_by_the_holders_renew_time(
    api_client: Any, namespace: None
) -> None:
    """A holder whose clock is far behind writes an ancient renewTime; it is still not expired until the
    record has stayed unchanged for a whole lease duration as this replica measures it."""
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader", "namespace": NS},
        "spec": {
            "holderIdentity": "skewed",
            "leaseDurationSeconds": 15,
            "acquireTime": "2001-01-01T00:00:00.000000Z",
            "renewTime": "2001-01-01T00:00:00.000000Z",
            "leaseTransitions": 4,
        },
    }
    await request_json(api_client, "POST", LEASE.rsplit("/", 1)[0], timeout=5, body=body)
    clock = ManualClock()
    cfg = config("patient", lease_duration_seconds=15.0, renew_deadline_seconds=10.0, retry_period_seconds=2.0)
    elector = LeaderElector(api_client=api_client, config=cfg, clock=clock)
    acquiring = asyncio.create_task(elector.acquire())
    try:
        await eventually(lambda: clock.sleepers == 1, what="the first attempt")
        assert not elector.leading and elector.holder == "skewed"
        for _ in range(5):  # 5 retries of at most 2.4 s: under 15 s since the record was first seen
            clock.advance(2.4)
            await eventually(lambda: clock.sleepers == 1, what="another attempt")
            assert not elector.leading
        clock.advance(4.0)  # now 16 s without a change
        await asyncio.wait_for(acquiring, 5)
        spec = await lease(api_client)
        assert spec["holderIdentity"] == "patient" and spec["leaseTransitions"] == 5
    finally:
        acquiring.cancel()
        with contextlib.suppress(BaseException):
            await acquiring
