"""Leader election on a ``coordination.k8s.io/v1`` Lease: one replica leads, the others stand by.

client-go's algorithm, with controller-runtime's timings (lease 15 s, renew deadline 10 s, retry 2 s):

* **campaign**: every retry period (plus up to 20 % jitter, so replicas do not retry in step) read the
  Lease; create it if missing; take it over when it has no holder, or when its record has not changed
  for ``leaseDurationSeconds`` *as observed by this replica's monotonic clock* (never by comparing the
  ``renewTime`` written by another machine: clocks drift, durations measured here do not);
* **hold**: while leading, renew every retry period. Every write is a PUT carrying the resourceVersion
  that was read, so two replicas that race get one 409 and one lease, never two leaders;
* **lose before the lease can be taken**: the leader gives up when no renewal has succeeded for
  ``renew_deadline_seconds`` since the *start* of the last request that did (the other replicas count
  from the moment they saw that write, which is later). Giving up at 10 s while a standby may take over
  at 15 s at the earliest leaves the time to stop writing: ``run`` cancels the leader's work at once;
* **per-call timeouts**: each request is bounded by ``max(renew_deadline / 2, 1 s)`` (controller-runtime's
  election client) and, while leading, by the time left to the deadline, so one hung request cannot keep
  a replica believing it leads;
* **release**: on a graceful stop, after the work has finished, the holder is cleared (client-go's
  ``ReleaseOnCancel``: holder ``""``, duration 1 s), so a standby leads at its next retry instead of
  waiting out the lease.

``run(lead, stop=...)`` is the whole cycle: campaign; on winning call ``lead()``; if the lease is lost,
cancel ``lead()`` and campaign again (the replica resumes once it wins again); when ``lead()`` returns
(a graceful stop), release and return. The identity is ``<hostname>_<uuid>`` like controller-runtime's.
This module knows nothing of RayClusters: the runtime passes the controller in as ``lead``.

Decided against: kubernetes_asyncio's ``leaderelection`` package (a thread-style loop with no renew
deadline per call and no release), ConfigMap/Endpoints locks (deprecated upstream), and comparing
wall-clock ``renewTime`` for expiry (clock skew between nodes would make two leaders).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp
import structlog

from ray_operator.kube.client import ApiError, request_json
from ray_operator.kube.clock import Clock, MonotonicClock

__all__ = [
    "LEASES",
    "LeaderElector",
    "LeaderObserver",
    "LeaseConfig",
    "LeaseState",
    "format_micro_time",
    "new_identity",
]

LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

LeaseState = Literal["standby", "leader", "lost-lease"]
"""``standby``: campaigning; ``leader``: holds the lease; ``lost-lease``: led, failed to renew, campaigning
again (until it wins, or sees another replica lead: then ``standby``)."""

JITTER = 0.2
"""Campaign retries wait ``retry * (1 + JITTER * random())``; the settings refuse a renew deadline under 1.2 retries."""


def new_identity(hostname: str | None = None) -> str:
    """``<hostname>_<uuid>``: unique per process even for two replicas on one node (or one laptop)."""
    return f"{hostname or socket.gethostname()}_{uuid.uuid4()}"


def format_micro_time(clock: Clock) -> str:
    """Now as a ``metav1.MicroTime``: UTC with exactly six fraction digits (a real server refuses fewer)."""
    return clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, kw_only=True)
class LeaseConfig:
    namespace: str
    name: str
    identity: str
    lease_duration_seconds: float = 15.0
    """How long a record may stay unchanged before a standby takes the lease. Default 15 s."""
    renew_deadline_seconds: float = 10.0
    """How long the leader may go without a successful renewal before it stops leading. Default 10 s."""
    retry_period_seconds: float = 2.0
    """Between attempts to acquire or renew. Default 2 s."""
    request_timeout_seconds: float | None = None
    """Per request; ``None``: ``max(renew_deadline / 2, 1)`` as controller-runtime's election client."""

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("a leader-election identity must not be empty")
        if self.lease_duration_seconds <= self.renew_deadline_seconds:
            raise ValueError("lease_duration_seconds must be greater than renew_deadline_seconds")
        if self.renew_deadline_seconds <= (1 + JITTER) * self.retry_period_seconds:
            raise ValueError("renew_deadline_seconds must be greater than 1.2 times retry_period_seconds")

    @property
    def call_timeout_seconds(self) -> float:
        if self.request_timeout_seconds is not None:
            return self.request_timeout_seconds
        return max(self.renew_deadline_seconds / 2, 1.0)

    @property
    def path(self) -> str:
        return f"{LEASES.format(namespace=self.namespace)}/{self.name}"


class LeaderObserver(Protocol):
    def on_leading(self, leading: bool) -> None:
        """This replica started (True) or stopped (False) leading: ``leader_election_master_status``."""


class _NullObserver:
    def on_leading(self, leading: bool) -> None:
        pass


_FAILURES = (ApiError, aiohttp.ClientError, TimeoutError, ValueError)
"""What one attempt may fail with and be retried: API answers, broken connections, timeouts, bad JSON."""


class LeaderElector:
    """Campaign for, hold and release one Lease; see the module docstring."""

    def __init__(
        self,
        *,
        api_client: Any,
        config: LeaseConfig,
        clock: Clock | None = None,
        observer: LeaderObserver | None = None,
        logger: Any = None,
        rng: random.Random | None = None,
    ) -> None:
        self._api = api_client
        self.config = config
        self._clock: Clock = clock or MonotonicClock()
        self._observer: LeaderObserver = observer or _NullObserver()
        self._log = (logger if logger is not None else structlog.get_logger("ray_operator.kube.leaderelection")).bind(
            lease=f"{config.namespace}/{config.name}", identity=config.identity
        )
        self._rng = rng or random.Random()
        self.state: LeaseState = "standby"
        self.holder: str | None = None
        """The holder in the last record read (``None`` before the first read, ``""`` when released)."""
        self.last_renew: float | None = None
        """Clock time at which the last successful acquire/renew request was *sent* (the safe end to count from)."""
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._acquired_at: str | None = None
        self._transitions = 0

    # ------------------------------------------------------------------------------------ the cycle

    @property
    def leading(self) -> bool:
        return self.state == "leader"

    async def run(self, lead: Callable[[], Awaitable[None]], *, stop: asyncio.Event) -> None:
        """Campaign, call ``lead()`` while leading, campaign again after a loss; return after ``stop``.

        ``lead()`` must return when ``stop`` is set (after finishing its work gracefully); the lease is
        then released. It is cancelled the moment the lease is lost. An exception from it ends ``run``
        with that exception, after the lease is released (nothing writes any more).
        """
        while not stop.is_set():
            if not await self._until(self.acquire(), stop):
                return
            if stop.is_set():
                await self.release()
                return
            leading = asyncio.create_task(self._lead(lead), name="leader-work")
            holding = asyncio.create_task(self.hold(), name="leader-renew")
            try:
                await asyncio.wait({leading, holding}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                # The process is going down hard (another root task crashed): stop writing, then let go.
                holding.cancel()
                await _cancel(leading)
                with contextlib.suppress(asyncio.CancelledError):
                    await holding
                self._step_down("standby")
                await asyncio.shield(self.release())
                raise
            if holding.done() and not leading.done():
                await _cancel(leading)  # lost: not one more write
                holding.result()
                continue
            holding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holding
            if self.leading:
                self._step_down("standby")
                await self.release()
            error = None if leading.cancelled() else leading.exception()
            if error is not None:
                raise error
            if not stop.is_set():
                # lead() returned on its own: it must run as long as this replica leads.
                raise RuntimeError("the leader's work returned while the replica still led")

    async def _lead(self, lead: Callable[[], Awaitable[None]]) -> None:
        await lead()

    async def _until(self, work: Awaitable[None], stop: asyncio.Event) -> bool:
        """Run ``work`` unless ``stop`` comes first; True when ``work`` finished."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                await _cancel(task)
        if task.done() and not task.cancelled():
            task.result()
            return True
        return False

    async def acquire(self) -> None:
        """Return once this replica holds the lease."""
        while True:
            if await self._attempt(timeout=self.config.call_timeout_seconds):
                self.state = "leader"
                self._observer.on_leading(True)
                self._log.info("leader_elected", transitions=self._transitions, acquire_time=self._acquired_at)
                return
            delay = self.config.retry_period_seconds * (1 + JITTER * self._rng.random())
            await self._clock.sleep(delay)

    async def hold(self) -> None:
        """Renew until a renewal cannot succeed within the renew deadline; then return (state ``lost-lease``)."""
        cfg = self.config
        while True:
            await self._clock.sleep(cfg.retry_period_seconds)
            while True:
                assert self.last_renew is not None
                remaining = self.last_renew + cfg.renew_deadline_seconds - self._clock.now()
                if remaining <= 0:
                    self._step_down("lost-lease")
                    self._log.error(
                        "leader_lost",
                        reason=f"no renewal succeeded within the renew deadline ({cfg.renew_deadline_seconds:g}s)",
                        action="stopped reconciling; campaigning to win the lease back",
                    )
                    return
                if await self._attempt(timeout=min(cfg.call_timeout_seconds, remaining)):
                    break
                if self.state != "leader":
                    return  # someone else holds the record now (logged by _attempt)
                pause = min(cfg.retry_period_seconds, self.last_renew + cfg.renew_deadline_seconds - self._clock.now())
                if pause > 0:
                    await self._clock.sleep(pause)

    async def release(self) -> bool:
        """Clear the holder if it is still this replica (graceful stop); False when nothing was released."""
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.call_timeout_seconds):
                current = (await request_json(self._api, "GET", cfg.path, timeout=cfg.call_timeout_seconds)).body
                spec = dict(current.get("spec") or {})
                if spec.get("holderIdentity") != cfg.identity:
                    return False
                now = format_micro_time(self._clock)
                spec.update(holderIdentity="", leaseDurationSeconds=1, acquireTime=now, renewTime=now)
                body = {**current, "spec": spec}
                await request_json(self._api, "PUT", cfg.path, timeout=cfg.call_timeout_seconds, body=body)
        except _FAILURES as exc:
            self._log.warning("leader_release_failed", error=_describe(exc), hint="the lease expires on its own")
            return False
        self._log.info("leader_released")
        return True

    # ---------------------------------------------------------------------------------- one attempt

    def _step_down(self, state: LeaseState) -> None:
        was_leading = self.leading
        self.state = state
        if was_leading:
            self._observer.on_leading(False)

    async def _attempt(self, *, timeout: float) -> bool:  # noqa: ASYNC109 - a per-call bound, not a caller's timeout
        """One tryAcquireOrRenew; True when this replica holds a freshly written record."""
        started = self._clock.now()
        try:
            async with asyncio.timeout(timeout):
                won = await self._try_acquire_or_renew(timeout)
        except _FAILURES as exc:
            self._log.warning(
                "leader_election_request_failed", error=_describe(exc), leading=self.leading, state=self.state
            )
            return False
        if won:
            self.last_renew = started
        return won

    async def _try_acquire_or_renew(self, timeout: float) -> bool:  # noqa: ASYNC109
        cfg = self.config
        now_wall = format_micro_time(self._clock)
        try:
            current = (await request_json(self._api, "GET", cfg.path, timeout=timeout)).body
        except ApiError as exc:
            if exc.code != 404:
                raise
            current = None
        if current is None:
            body: dict[str, Any] = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": self._spec(acquire_time=now_wall, renew_time=now_wall, transitions=0),
            }
            try:
                await request_json(
                    self._api, "POST", LEASES.format(namespace=cfg.namespace), timeout=timeout, body=body
                )
            except ApiError as exc:
                if exc.code == 409:  # another replica created it first
                    return False
                raise
            self._observe(body["spec"])
            self._acquired_at, self._transitions = now_wall, 0
            return True
        spec = dict(current.get("spec") or {})
        self._observe(spec)
        holder = str(spec.get("holderIdentity") or "")
        mine = holder == cfg.identity
        if holder and not mine:
            if self.leading:
                self._step_down("lost-lease")
                self._log.error("leader_lost", reason=f"the lease is held by {holder}", action="stopped reconciling")
            elif self.state == "lost-lease":
                self.state = "standby"  # someone else leads now: this replica is an ordinary standby again
            duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration_seconds)
            if self._observed_at + duration > self._clock.now():
                return False  # held and not expired
        transitions = int(spec.get("leaseTransitions") or 0)
        if mine:
            acquire_time = str(spec.get("acquireTime") or now_wall)
        else:
            acquire_time, transitions = now_wall, transitions + 1
        new_spec = self._spec(acquire_time=acquire_time, renew_time=now_wall, transitions=transitions)
        written = {**spec, **new_spec}
        body = {**current, "spec": written}
        try:
            await request_json(self._api, "PUT", cfg.path, timeout=timeout, body=body)
        except ApiError as exc:
            if exc.code == 409:  # the record moved since it was read: someone else won this round
                return False
            raise
        self._observe(written)
        self._acquired_at, self._transitions = acquire_time, transitions
        return True

    def _spec(self, *, acquire_time: str, renew_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": math.ceil(self.config.lease_duration_seconds),
            "acquireTime": acquire_time,
            "renewTime": renew_time,
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: dict[str, Any]) -> None:
        """Remember when the record last changed, by this replica's clock (the basis of expiry)."""
        if spec != self._observed_spec:
            holder = str(spec.get("holderIdentity") or "")
            if holder != (self.holder or "") and holder != self.config.identity:
                self._log.info("leader_observed", holder=holder or None)
            self._observed_spec = dict(spec)
            self._observed_at = self._clock.now()
            self.holder = holder


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ApiError) else f"{type(exc).__name__}: {exc}"
