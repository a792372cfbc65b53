"""Kubernetes Events (``events.k8s.io/v1``) for what a user should see, without ever hurting the caller.

``EventRecorder.record(regarding, type=..., reason=..., action=..., note=...)`` is synchronous and
never raises: it only updates in-memory state, and a background task (``run()``) writes. That keeps
a reconcile loop free of event I/O and of event failures, which client-go's EventBroadcaster also
guarantees. Like the broadcaster in ``k8s.io/client-go/tools/events``:

* the first occurrence of (regarding, type, reason, action, note) **creates** an Event named
  ``<regarding name>.<hex nanoseconds>`` with ``reportingController`` (default
  ``raycluster-controller``, KubeRay's), ``reportingInstance`` (this replica's identity) and an
  ``eventTime`` in microseconds;
* later occurrences within ``series_window_seconds`` (default 6 min, client-go's) of the previous one
  join its **series**: ``series.count`` and ``series.lastObservedTime`` are **patched** onto the same
  Event, at most once per ``series_flush_seconds`` (default 10 s), so a hot loop repeating one event
  costs one patch per interval, not one write per repeat; after the window a repeat starts a new Event;
* up to ``max_in_flight`` writes (default 16) are sent at once, never two for one Event;
* all writes share a token bucket (default 100/s, burst 100: the operator records one Event per pod it
  creates or deletes, so a 100-pod scale-up or 1,000 clusters converging must not leave a backlog that
  drains for minutes after the cluster is steady); new Events waiting to be written are
  bounded (``max_pending``, default 1000) and beyond that **dropped and counted** (``stats.dropped``);
* a failed write is logged and retried a few times, then given up (``stats.failed``); a series whose
  Event was deleted meanwhile (404 on the patch) is created again with its count.

Decided against: core/v1 Events (KubeRay and kubectl describe use events.k8s.io), an
``asyncio.Queue`` of raw occurrences (a hot loop would fill it with repeats that fold into one
count anyway; here repeats never queue), and client-go's 30-minute series heartbeat (the count is
written when it changes, bounded by the flush interval).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import aiohttp
import structlog

from ray_operator.kube.client import MERGE_PATCH, ApiError, request_json
from ray_operator.kube.clock import Clock, MonotonicClock

__all__ = ["EventRecorder", "EventRecorderConfig", "EventRecorderStats", "EventType", "ObjectReference"]

EventType = Literal["Normal", "Warning"]
EVENTS_PATH = "/apis/events.k8s.io/v1/namespaces/{namespace}/events"
MAX_NOTE_BYTES = 1024
"""The API server rejects a longer ``note``; longer ones are cut (at a character boundary)."""


@dataclass(frozen=True, kw_only=True)
class EventRecorderConfig:
    reporting_controller: str = "raycluster-controller"
    """``reportingController`` of every Event. Default ``raycluster-controller`` (KubeRay's)."""
    series_window_seconds: float = 360.0
    """A repeat this soon after the previous occurrence joins its series; later ones start a new Event.
    Default 6 min (client-go's)."""
    series_flush_seconds: float = 10.0
    """A series' count is written at most this often. Default 10 s."""
    writes_per_second: float = 100.0
    """Sustained API writes (creates and patches together). Default 100/s."""
    burst: int = 100
    """Writes allowed at once before the rate applies. Default 100."""
    max_pending: int = 1000
    """New Events waiting to be created; more are dropped and counted. Default 1000."""
    max_series: int = 2048
    """Series remembered for aggregation; the least recently seen written one is forgotten first. Default 2048:
    room for ``max_pending`` new Events and as many repeats being counted, at about 0.5 KiB each."""
    max_attempts: int = 3
    """Tries per write before it is given up (logged, counted). Default 3."""
    max_in_flight: int = 16
    """Writes sent at once. Default 16: one at a time, a loaded API server's latency capped the writer
    below the rate, and a 1,000-cluster convergence dropped three Events in four past ``max_pending``."""
    request_timeout_seconds: float = 10.0
    """Timeout of each write. Default 10 s."""

    def __post_init__(self) -> None:
        if self.writes_per_second <= 0 or self.burst < 1 or self.max_pending < 1 or self.max_series < 1:
            raise ValueError("writes_per_second, burst, max_pending and max_series must be positive")
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be positive")
        if self.max_attempts < 1 or self.series_window_seconds <= 0 or self.series_flush_seconds < 0:
            raise ValueError("max_attempts and series_window_seconds must be positive")


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectReference:
    """What an Event is about (``regarding``) or also involves (``related``)."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> ObjectReference:
        """The reference to an object as the API returned it (a dict with apiVersion, kind, metadata)."""
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        return cls(
            api_version=str(obj.get("apiVersion") or ""),
            kind=str(obj.get("kind") or ""),
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            uid=str(meta.get("uid") or ""),
            resource_version=str(meta.get("resourceVersion") or ""),
        )

    def to_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        optional = (("namespace", self.namespace), ("uid", self.uid), ("resourceVersion", self.resource_version))
        out.update((key, value) for key, value in optional if value)
        return out


@dataclass
class EventRecorderStats:
    created: int = 0
    """Events created."""
    updated: int = 0
    """Series patches written."""
    coalesced: int = 0
    """Occurrences folded into an existing series."""
    dropped: int = 0
    """Occurrences dropped because ``max_pending`` new Events were already waiting."""
    failed: int = 0
    """Writes given up after ``max_attempts``."""


_Key = tuple[str, str, str, str, str, str, str, str, str]
"""(apiVersion, kind, namespace, name, uid) of regarding, then type, reason, action, note."""


@dataclass(eq=False, slots=True)  # slots: up to max_series of them live for the process's lifetime
class _Series:
    key: _Key
    regarding: ObjectReference
    related: ObjectReference | None
    type: str
    reason: str
    action: str
    note: str
    event_time: datetime
    last_observed: datetime
    last_seen: float
    """Clock ``now()`` of the latest occurrence."""
    count: int = 1
    written: int = 0
    """The count the server has; ``count > written`` means a write is due."""
    name: str | None = None
    last_write: float = field(default=float("-inf"))
    retry_at: float = field(default=float("-inf"))
    attempts: int = 0

    @property
    def dirty(self) -> bool:
        return self.count > self.written

    @property
    def namespace(self) -> str:
        # Events of cluster-scoped objects go to "default", as client-go does.
        return self.regarding.namespace or "default"


def micro_time(value: datetime) -> str:
    """A ``metav1.MicroTime``: RFC 3339 in UTC with exactly six fractional digits."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _truncate(note: str) -> str:
    data = note.encode()
    if len(data) <= MAX_NOTE_BYTES:
        return note
    return data[:MAX_NOTE_BYTES].decode(errors="ignore")


class _TokenBucket:
    def __init__(self, *, rate: float, burst: int, clock: Clock) -> None:
        self._rate, self._burst, self._clock = rate, float(burst), clock
        self._tokens = float(burst)
        self._stamp = clock.now()

    async def take(self) -> None:
        while True:
            now = self._clock.now()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await self._clock.sleep((1 - self._tokens) / self._rate)


class EventRecorder:
    """Records Events without blocking or raising; ``run()`` writes them. See the module docstring."""

    def __init__(
        self,
        *,
        api_client: Any,
        reporting_instance: str,
        config: EventRecorderConfig | None = None,
        clock: Clock | None = None,
        logger: Any = None,
    ) -> None:
        if not reporting_instance:
            raise ValueError("reporting_instance is required (the replica's identity, e.g. the pod name)")
        self._api = api_client
        self._instance = reporting_instance
        self._config = config or EventRecorderConfig()
        self._clock: Clock = clock or MonotonicClock()
        self._log = logger if logger is not None else structlog.get_logger("ray_operator.kube.events")
        self._series: dict[_Key, _Series] = {}
        self._dirty: set[_Series] = set()
        self._in_flight: set[_Series] = set()
        self._slots = asyncio.Semaphore(self._config.max_in_flight)
        self._writers: set[asyncio.Task[None]] = set()
        self._pending_creates = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._flushing = 0
        self._last_nanos = 0
        self._last_sweep = self._clock.now()
        self._bucket = _TokenBucket(rate=self._config.writes_per_second, burst=self._config.burst, clock=self._clock)
        self.stats = EventRecorderStats()

    # -------------------------------------------------------------------------------------- callers

    def normal(self, regarding: Mapping[str, Any] | ObjectReference, *, reason: str, action: str, note: str) -> None:
        self.record(regarding, type="Normal", reason=reason, action=action, note=note)

    def warning(self, regarding: Mapping[str, Any] | ObjectReference, *, reason: str, action: str, note: str) -> None:
        self.record(regarding, type="Warning", reason=reason, action=action, note=note)

    def record(
        self,
        regarding: Mapping[str, Any] | ObjectReference,
        *,
        type: EventType,
        reason: str,
        action: str,
        note: str,
        related: Mapping[str, Any] | ObjectReference | None = None,
    ) -> None:
        """Note one occurrence; returns at once and never raises (problems are logged)."""
        try:
            self._record(regarding, type, reason, action, note, related)
        except Exception:  # an events bug must never break a reconcile
            self._log.exception("event_record_failed", reason=reason, action=action)

    def _record(
        self,
        regarding: Mapping[str, Any] | ObjectReference,
        type_: str,
        reason: str,
        action: str,
        note: str,
        related: Mapping[str, Any] | ObjectReference | None,
    ) -> None:
        ref = regarding if isinstance(regarding, ObjectReference) else ObjectReference.from_object(regarding)
        rel = (
            None
            if related is None
            else related
            if isinstance(related, ObjectReference)
            else ObjectReference.from_object(related)
        )
        if not ref.name or not ref.kind:
            self._log.warning("event_without_object", reason=reason, note=note)
            return
        note = _truncate(note)
        key: _Key = (ref.api_version, ref.kind, ref.namespace, ref.name, ref.uid, type_, reason, action, note)
        now, wall = self._clock.now(), self._clock.wall()
        series = self._series.get(key)
        if series is not None and now - series.last_seen <= self._config.series_window_seconds:
            series.count += 1
            series.last_seen, series.last_observed = now, wall
            self._series[key] = self._series.pop(key)  # most recently seen last: _make_room's order
            self.stats.coalesced += 1
            self._mark_dirty(series)
            return
        if series is not None:
            del self._series[key]  # the window passed: a new Event; a still-unwritten count is written first
        if self._pending_creates >= self._config.max_pending or not self._make_room():
            self.stats.dropped += 1
            return
        series = _Series(
            key=key,
            regarding=ref,
            related=rel,
            type=type_,
            reason=reason,
            action=action,
            note=note,
            event_time=wall,
            last_observed=wall,
            last_seen=now,
        )
        self._series[key] = series
        self._pending_creates += 1
        self._mark_dirty(series)

    def _make_room(self) -> bool:
        """Forget the least recently seen written series when full (``_series`` is kept in that order)."""
        if len(self._series) < self._config.max_series:
            return True
        for key, series in self._series.items():
            if not series.dirty and series not in self._in_flight:
                del self._series[key]
                return True
        return False

    def _mark_dirty(self, series: _Series) -> None:
        if series not in self._dirty:
            self._dirty.add(series)
            self._idle.clear()
            self._wakeup.set()

    # ------------------------------------------------------------------------------------- writing

    async def run(self) -> None:
        """Write Events until cancelled; run it as a task beside the controllers.

        Up to ``max_in_flight`` writes run at once, never two for one series.
        """
        try:
            while True:
                series, due = self._next_due()
                if series is None:
                    if not self._in_flight:
                        self._idle.set()
                        self._sweep()
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                wait = due - self._clock.now()
                if wait > 0:
                    self._wakeup.clear()
                    await self._sleep_or_wake(wait)
                    continue
                await self._slots.acquire()
                try:
                    await self._bucket.take()
                except BaseException:
                    self._slots.release()
                    raise
                self._in_flight.add(series)
                writer = asyncio.create_task(self._write_in_flight(series), name="event-write")
                self._writers.add(writer)
                writer.add_done_callback(self._writers.discard)
        finally:
            for writer in list(self._writers):
                writer.cancel()

    async def _write_in_flight(self, series: _Series) -> None:
        try:
            await self._write(series)
        finally:
            self._in_flight.discard(series)
            self._slots.release()
            self._wakeup.set()  # a retry, a newer count of this series, or the idle check

    async def flush(self, *, timeout: float = 5.0) -> bool:  # noqa: ASYNC109 - a wait bound, not a call timeout
        """Write every pending create and series update now (ignoring the flush interval).

        Needs ``run()`` to be running; returns whether everything was written (or given up) in time.
        """
        self._flushing += 1
        self._wakeup.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._flushing -= 1

    def _next_due(self) -> tuple[_Series | None, float]:
        best: _Series | None = None
        best_due = float("inf")
        for series in self._dirty:
            if series in self._in_flight:
                continue
            if self._flushing:
                due = float("-inf")
            elif series.name is None:
                due = series.retry_at
            else:
                due = max(series.last_write + self._config.series_flush_seconds, series.retry_at)
            if due < best_due:
                best, best_due = series, due
        return best, best_due

    async def _sleep_or_wake(self, seconds: float) -> None:
        woken = asyncio.ensure_future(self._wakeup.wait())
        slept = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({woken, slept}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            slept.cancel()

    def _sweep(self) -> None:
        """Forget written series not seen for a window (bounded memory when idle)."""
        now = self._clock.now()
        if now - self._last_sweep < min(60.0, self._config.series_window_seconds):
            return
        self._last_sweep = now
        window = self._config.series_window_seconds
        for key, series in list(self._series.items()):
            if not series.dirty and now - series.last_seen > window:
                del self._series[key]

    async def _write(self, series: _Series) -> None:
        count = series.count
        creating = series.name is None
        try:
            if creating:
                await self._create(series, count)
            else:
                await self._patch(series, count)
        except ApiError as exc:
            if exc.code == 404 and not creating:
                series.name = None  # deleted meanwhile (TTL, kubectl): create it again, with its count
                self._pending_creates += 1
                return
            self._failed(series, f"{exc.code} {exc.reason}: {exc.message}")
            return
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._failed(series, f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:  # never let one Event stop the writer
            self._log.exception("event_write_failed", reason=series.reason, regarding=series.regarding.name)
            self._failed(series, f"{type(exc).__name__}: {exc}")
            return
        series.written = max(series.written, count)
        series.last_write = self._clock.now()
        series.attempts = 0
        if creating:
            self._pending_creates -= 1
            self.stats.created += 1
        else:
            self.stats.updated += 1
        if not series.dirty:
            self._dirty.discard(series)

    def _failed(self, series: _Series, error: str) -> None:
        series.attempts += 1
        give_up = series.attempts >= self._config.max_attempts
        self._log.warning(
            "event_write_failed",
            reason=series.reason,
            regarding=f"{series.regarding.kind}/{series.regarding.namespace}/{series.regarding.name}",
            error=error,
            attempt=series.attempts,
            giving_up=give_up,
        )
        if not give_up:
            series.retry_at = self._clock.now() + min(0.5 * 2**series.attempts, 30.0)
            return
        self.stats.failed += 1
        series.attempts = 0
        series.written = series.count  # nothing more to write for what we have seen
        self._dirty.discard(series)
        if series.name is None:
            self._pending_creates -= 1
            self._series.pop(series.key, None)  # the next occurrence tries a fresh Event

    def _event_name(self, series: _Series) -> str:
        nanos = int(series.event_time.timestamp() * 1e9)
        nanos = max(nanos, self._last_nanos + 1)  # two Events in one clock tick must not collide
        self._last_nanos = nanos
        return f"{series.regarding.name}.{nanos:x}"

    def _series_body(self, series: _Series, count: int) -> dict[str, Any]:
        return {"count": count, "lastObservedTime": micro_time(series.last_observed)}

    async def _create(self, series: _Series, count: int) -> None:
        for _ in range(2):
            name = self._event_name(series)
            body: dict[str, Any] = {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": series.namespace},
                "eventTime": micro_time(series.event_time),
                "reportingController": self._config.reporting_controller,
                "reportingInstance": self._instance,
                "action": series.action,
                "reason": series.reason,
                "note": series.note,
                "type": series.type,
                "regarding": series.regarding.to_dict(),
            }
            if series.related is not None:
                body["related"] = series.related.to_dict()
            if count > 1:
                body["series"] = self._series_body(series, count)
            try:
                await request_json(
                    self._api,
                    "POST",
                    EVENTS_PATH.format(namespace=series.namespace),
                    body=body,
                    timeout=self._config.request_timeout_seconds,
                )
            except ApiError as exc:
                if exc.code == 409:
                    continue  # the name is taken (another replica, same nanosecond): take the next one
                raise
            series.name = name
            return
        raise ApiError(code=409, reason="AlreadyExists", message="no free Event name")

    async def _patch(self, series: _Series, count: int) -> None:
        path = EVENTS_PATH.format(namespace=series.namespace) + f"/{series.name}"
        await request_json(
            self._api,
            "PATCH",
            path,
            body={"series": self._series_body(series, count)},
            content_type=MERGE_PATCH,
            timeout=self._config.request_timeout_seconds,
        )

    # ---------------------------------------------------------------------------------------- state

    @property
    def pending(self) -> int:
        """Series with occurrences not yet written."""
        return len(self._dirty)
