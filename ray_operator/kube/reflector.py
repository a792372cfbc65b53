"""A reflector: keep a ``Cache`` in step with one kind of object by list-then-watch, forever.

One ``Reflector`` per watched kind, generic over (group, version, plural, namespaced), scoped to all
namespaces or to a list of them (one list+watch loop per namespace, one shared cache). Each loop:

1. **lists** in pages (``limit`` + ``continue``; default 500 as client-go) without ``resourceVersion``,
   so the read is consistent and really paginated (``resourceVersion=0`` is served from the watch cache,
   which ignores ``limit``). Every kept object is stored as it arrives and, once the last page is in,
   cached objects the list did not return are deleted: that is how objects deleted while the watch was
   down get their DELETED callback. Unchanged objects (same resourceVersion) cause no callback. An
   expired continue token (410) restarts the list once;
2. **watches** from the list's resourceVersion with ``allowWatchBookmarks=true`` and a ``timeoutSeconds``
   drawn from [T, 2T) (client-go's spread, so watches of many replicas do not end together), resuming
   from the last resourceVersion seen in an event or bookmark whenever a watch ends;
3. on **410 Gone** - an HTTP 410 or an ``ERROR`` event with code 410 - lists again at once (the history
   it would resume from is compacted away); on other errors reconnects after a jittered exponential
   backoff (0.8 s doubling to 30 s), or after ``Retry-After`` when the server sent one (429), capped;
4. an **inactivity watchdog** restarts a watch that sends nothing (no event, no bookmark) for longer
   than ``inactivity_timeout_seconds`` (70 s: bookmarks come about every minute), including a server that
   accepted the connection but never sent headers. Watches that hang silently are a known failure of
   long-lived HTTP streams (kopf, kubernetes_asyncio #360); nothing else would notice.

Every request has a timeout: a list page ``request_timeout_seconds`` in total; a watch bounds its
connection by that and its silence by the watchdog. The server-side ``labelSelector``/``fieldSelector``
narrow what is sent; ``keep(obj)`` drops what the selectors cannot express (an object that stops being
kept is deleted from the cache); ``transform(obj)`` trims what is stored (default: drop
``metadata.managedFields``, often half a pod's size); an exception from either is a bug and ends
``run()`` with it, loudly, rather than leaving a cache that silently misses objects. Objects are the
dicts ``json.loads`` made, changed in place: no copies. ``synced`` is set once every namespace's first list is complete.

It counts lists, relists, watches and watch restarts by reason (``stats``, and an optional
``ReflectorObserver``: the runtime's metrics).

Decided against: kubernetes_asyncio's ``Watch`` (it retries a 410 once with the stale
resourceVersion and then raises), a periodic resync (level-based reconcilers requeue themselves with
``requeue_after``), and an injectable clock here (the watchdog is a real-time ``asyncio.timeout`` around
real network reads; tests run against the emulator with sub-second settings instead).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import structlog

from ray_operator.kube.backoff import Backoff, BackoffPolicy
from ray_operator.kube.cache import Cache, Obj
from ray_operator.kube.client import ApiError, api_path, open_stream, request_json

__all__ = [
    "Reflector",
    "ReflectorConfig",
    "ReflectorObserver",
    "ReflectorStats",
    "Resource",
    "drop_managed_fields",
]


@dataclass(frozen=True, kw_only=True)
class Resource:
    """Which collection a reflector mirrors, e.g. ``Resource(group="", version="v1", plural="pods")``."""

    group: str
    """``""`` for the core group."""
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None) -> str:
        """The list/watch path: one namespace's, or across all namespaces for ``None``."""
        base = api_path(self.group, self.version)
        if namespace is not None and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True, kw_only=True)
class ReflectorConfig:
    page_size: int = 500
    """Objects per list page (``limit``). Default 500, client-go's."""
    request_timeout_seconds: float = 30.0
    """Total time for one list page; connect time for a watch. Default 30 s."""
    watch_timeout_seconds: float = 300.0
    """A watch asks the server to end it after ``timeoutSeconds`` drawn from [T, 2T), whole seconds of at
    least 1. Default 300 s, so 5-10 min as client-go."""
    inactivity_timeout_seconds: float = 70.0
    """A watch that sends nothing (bookmarks count) for this long is restarted. Default 70 s (kopf's),
    above the API server's ~60 s bookmark interval."""
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    """Delays between failed attempts. Default 0.8 s doubling to 30 s, half of each delay random."""
    max_retry_after_seconds: float = 60.0
    """A server's ``Retry-After`` is honoured up to this. Default 60 s."""

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if min(self.request_timeout_seconds, self.watch_timeout_seconds, self.inactivity_timeout_seconds) <= 0:
            raise ValueError("timeouts must be positive")


@dataclass
class ReflectorStats:
    """Plain counters; a ``ReflectorObserver`` gets the same facts as they happen."""

    lists: int = 0
    """Complete lists (every namespace's first one included)."""
    relists: int = 0
    """Complete lists after a namespace's first one (after 410s, or errors while listing)."""
    watches: int = 0
    """Watch requests the server accepted."""
    watch_restarts: Counter[str] = field(default_factory=Counter)
    """Watches that ended and were followed by another attempt, by reason: ``closed`` (the server
    ended it), ``expired`` (410), ``inactivity`` (the watchdog), ``error``."""
    errors: int = 0
    """Failed requests and broken streams."""


class ReflectorObserver(Protocol):
    def on_list(self, *, resource: str, namespace: str | None, relist: bool, objects: int, seconds: float) -> None:
        """A list completed (``relist`` when it was not the namespace's first)."""

    def on_watch_restart(self, *, resource: str, namespace: str | None, reason: str) -> None:
        """A watch ended and another attempt follows; reasons as in ``ReflectorStats.watch_restarts``."""


def drop_managed_fields(obj: Obj) -> Obj:
    """The default transform: remove ``metadata.managedFields`` (server-side apply bookkeeping)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


class _Expired(Exception):
    """The watch's resourceVersion is compacted away (410): list again."""


class _WatchError(Exception):
    """An ERROR event other than 410, or a line that is not a watch event."""


@dataclass
class _Scope:
    namespace: str | None
    rv: str | None = None
    """Where the next watch resumes; ``None`` means list first."""
    listed: bool = False


@dataclass(frozen=True)
class _WatchEnd:
    reason: str
    lines: int


class Reflector:
    """List-then-watch one collection into a ``Cache``; ``await run()`` until cancelled. See the module docstring."""

    def __init__(
        self,
        *,
        api_client: Any,
        resource: Resource,
        cache: Cache | None = None,
        namespaces: Sequence[str] | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        keep: Callable[[Obj], bool] | None = None,
        transform: Callable[[Obj], Obj] | None = drop_managed_fields,
        config: ReflectorConfig | None = None,
        observer: ReflectorObserver | None = None,
        logger: Any = None,
        rng: random.Random | None = None,
    ) -> None:
        """``namespaces`` ``None`` watches all namespaces (and is required for cluster-scoped kinds).

        ``keep`` sees the object as the server sent it, before ``transform``.
        """
        if namespaces is not None:
            if not resource.namespaced:
                raise ValueError(f"{resource} is cluster-scoped: it cannot be watched per namespace")
            if not namespaces:
                raise ValueError("namespaces must name at least one namespace (or be None for all)")
        self._api = api_client
        self.resource = resource
        self.cache = cache if cache is not None else Cache()
        self._scopes = [_Scope(ns) for ns in dict.fromkeys(namespaces)] if namespaces is not None else [_Scope(None)]
        self._selectors: list[tuple[str, str]] = []
        if label_selector:
            self._selectors.append(("labelSelector", label_selector))
        if field_selector:
            self._selectors.append(("fieldSelector", field_selector))
        self._keep = keep
        self._transform = transform
        self._config = config or ReflectorConfig()
        self._observer = observer
        self._log = (logger if logger is not None else structlog.get_logger("ray_operator.kube.reflector")).bind(
            resource=str(resource)
        )
        self._rng = rng or random.Random()
        self.synced = asyncio.Event()
        """Set once the first list of every namespace is complete; the cache is then a full picture."""
        self.stats = ReflectorStats()

    @property
    def namespaces(self) -> list[str] | None:
        """The watched namespaces, ``None`` for all."""
        return None if self._scopes[0].namespace is None else [s.namespace for s in self._scopes if s.namespace]

    @property
    def resource_versions(self) -> dict[str | None, str | None]:
        """Per namespace (``None``: all), the resourceVersion the next watch resumes from; ``None``: lists first."""
        return {s.namespace: s.rv for s in self._scopes}

    async def run(self) -> None:
        """List and watch every scope until cancelled; expected failures are retried, never raised."""
        async with asyncio.TaskGroup() as group:
            for scope in self._scopes:
                group.create_task(self._run_scope(scope), name=f"reflector-{self.resource}-{scope.namespace or '*'}")

    # ------------------------------------------------------------------------------------- the loop

    async def _run_scope(self, scope: _Scope) -> None:
        log = self._log.bind(namespace=scope.namespace) if scope.namespace is not None else self._log
        backoff = Backoff(self._config.backoff, rng=self._rng)
        while True:
            delay = 0.0
            watched = False
            reason = "error"
            try:
                if scope.rv is None:
                    await self._list(scope, log)
                    backoff.reset()
                watched = True
                end = await self._watch(scope)
                reason = end.reason
                if end.lines:
                    backoff.reset()
                elif end.reason == "closed":
                    # Ended without sending even a bookmark: do not hammer a server that does that.
                    delay = backoff.next_delay()
                if end.reason == "inactivity":
                    log.warning(
                        "watch_inactive_restarting",
                        silent_seconds=self._config.inactivity_timeout_seconds,
                        resource_version=scope.rv,
                    )
                else:
                    log.debug("watch_closed", resource_version=scope.rv, lines=end.lines)
            except _Expired as exc:
                reason = "expired"
                log.info("watch_expired_relisting", resource_version=scope.rv, message=str(exc))
                scope.rv = None
            except ApiError as exc:
                self.stats.errors += 1
                if exc.code == 410 and watched:
                    reason = "expired"
                    log.info("watch_expired_relisting", resource_version=scope.rv, message=exc.message)
                    scope.rv = None
                else:
                    if exc.retry_after is not None:
                        delay = min(exc.retry_after, self._config.max_retry_after_seconds)
                    else:
                        delay = backoff.next_delay()
                    log.warning(
                        "list_watch_failed",
                        code=exc.code,
                        reason=exc.reason,
                        error=exc.message,
                        phase="watch" if watched else "list",
                        retry_in_seconds=round(delay, 3),
                        hint=_hint(exc.code),
                    )
            except (aiohttp.ClientError, TimeoutError, _WatchError, ValueError) as exc:
                # ValueError: a body that is not JSON (json.JSONDecodeError is one), e.g. a cut-off line.
                self.stats.errors += 1
                delay = backoff.next_delay()
                log.warning(
                    "list_watch_failed",
                    error=f"{type(exc).__name__}: {exc}",
                    phase="watch" if watched else "list",
                    retry_in_seconds=round(delay, 3),
                )
            if watched:
                self.stats.watch_restarts[reason] += 1
                if self._observer is not None:
                    self._observer.on_watch_restart(
                        resource=str(self.resource), namespace=scope.namespace, reason=reason
                    )
            if delay > 0:
                await asyncio.sleep(delay)

    # ------------------------------------------------------------------------------------------ list

    async def _list(self, scope: _Scope, log: Any) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        path = self.resource.collection_path(scope.namespace)
        seen: set[tuple[str, str]] = set()
        token: str | None = None
        restarted = False
        pages = 0
        rv = ""
        while True:
            query = [("limit", str(self._config.page_size)), *self._selectors]
            if token:
                query.append(("continue", token))
            try:
                response = await request_json(
                    self._api, "GET", path, query=query, timeout=self._config.request_timeout_seconds
                )
            except ApiError as exc:
                if exc.code == 410 and token and not restarted:
                    # The continue token outlived the server's compaction: start again from a new snapshot.
                    log.info("list_continue_expired_restarting", pages=pages)
                    restarted, token, pages = True, None, 0
                    seen.clear()
                    continue
                raise
            pages += 1
            body = response.body if isinstance(response.body, dict) else {}
            list_kind = str(body.get("kind") or "")
            kind = list_kind[:-4] if list_kind.endswith("List") else list_kind
            api_version = str(body.get("apiVersion") or self.resource.api_version)
            for item in body.get("items") or ():
                if not isinstance(item, dict):
                    continue
                # Items of built-in lists carry no apiVersion/kind; watch events do. Cache both alike.
                item.setdefault("apiVersion", api_version)
                if kind:
                    item.setdefault("kind", kind)
                key = self._store(item, only_if_changed=True)
                if key is not None:
                    seen.add(key)
            meta = _dict(body.get("metadata"))
            rv = str(meta.get("resourceVersion") or rv)
            token = meta.get("continue") or None
            if not token:
                break
        for namespace, name in self.cache.keys(scope.namespace) - seen:
            self.cache.delete(namespace, name)  # gone while we were not watching
        relist = scope.listed
        scope.rv = rv
        scope.listed = True
        self.stats.lists += 1
        if relist:
            self.stats.relists += 1
        seconds = loop.time() - started
        objects = len(seen)
        log.info("listed", objects=objects, pages=pages, resource_version=rv, relist=relist, seconds=round(seconds, 3))
        if self._observer is not None:
            self._observer.on_list(
                resource=str(self.resource), namespace=scope.namespace, relist=relist, objects=objects, seconds=seconds
            )
        if not self.synced.is_set() and all(s.listed for s in self._scopes):
            self.synced.set()

    # ----------------------------------------------------------------------------------------- watch

    async def _watch(self, scope: _Scope) -> _WatchEnd:
        cfg = self._config
        loop = asyncio.get_running_loop()
        server_timeout = max(1, int(cfg.watch_timeout_seconds * (1 + self._rng.random())))
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", scope.rv or ""),
            ("timeoutSeconds", str(server_timeout)),
            *self._selectors,
        ]
        lines = 0
        response: aiohttp.ClientResponse | None = None
        watchdog = asyncio.timeout(cfg.inactivity_timeout_seconds)
        try:
            async with watchdog:
                response = await open_stream(
                    self._api,
                    self.resource.collection_path(scope.namespace),
                    query=query,
                    connect_timeout=cfg.request_timeout_seconds,
                )
                self.stats.watches += 1
                watchdog.reschedule(loop.time() + cfg.inactivity_timeout_seconds)
                while True:
                    line = await response.content.readline()
                    if not line:
                        return _WatchEnd("closed", lines)
                    watchdog.reschedule(loop.time() + cfg.inactivity_timeout_seconds)
                    lines += 1
                    if line.strip():
                        self._handle(scope, json.loads(line))
        except TimeoutError:
            if watchdog.expired():
                return _WatchEnd("inactivity", lines)
            raise
        finally:
            if response is not None:
                response.release()  # closes the connection unless the body was read to its end

    def _handle(self, scope: _Scope, event: Any) -> None:
        if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
            raise _WatchError(f"not a watch event: {str(event)[:200]}")
        kind, obj = event.get("type"), event["object"]
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Expired(str(obj.get("message") or "resource version too old"))
            raise _WatchError(f"watch error {obj.get('code')} {obj.get('reason')}: {obj.get('message')}")
        meta = _dict(obj.get("metadata"))
        rv = meta.get("resourceVersion")
        if kind in ("ADDED", "MODIFIED"):
            self._store(obj)
        elif kind == "DELETED":
            self.cache.delete(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        elif kind != "BOOKMARK":
            raise _WatchError(f"unknown watch event type {kind!r}")
        if rv:
            scope.rv = str(rv)

    def _store(self, obj: Obj, *, only_if_changed: bool = False) -> tuple[str, str] | None:
        """Put a listed or watched object in the cache if it is kept; drop it from the cache if not."""
        meta = _dict(obj.get("metadata"))
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if self._keep is not None and not self._keep(obj):
            self.cache.delete(namespace, name)  # e.g. a label change took it out of what we keep
            return None
        stored = self._transform(obj) if self._transform is not None else obj
        self.cache.upsert(stored, only_if_changed=only_if_changed)
        return namespace, name


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _hint(code: int) -> str | None:
    if code in (401, 403):
        return "the operator's credentials or RBAC do not allow list/watch of this resource"
    if code == 404:
        return "the resource is not served (is the CRD installed?) or the namespace does not exist"
    return None
