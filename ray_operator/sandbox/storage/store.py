"""The object store: one global resourceVersion counter, an event-history ring and the live watchers.

Objects are kept per (group, resource) and (namespace, name) in their storage version, as etcd keeps
them; every committed write takes the next revision and is appended to a bounded history so that a
watch can resume from any revision still retained, and gets ``410 Expired`` once it is compacted away.
The store is synchronous on purpose: within one asyncio loop a commit and the fan-out to watchers
happen without an ``await`` in between, so watchers see writes in commit order and a list plus the
registration of a watcher is atomic. Watchers have bounded queues and are closed when they overflow,
so a slow reader never blocks a writer. It decided against snapshots per revision: lists are served from the latest
state (paginated lists keep references to their first page's objects, see ``storage/listing.py``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ray_operator.apimachinery.selectors import LabelSelector
from ray_operator.sandbox.storage.selectors import FieldSelector

T = TypeVar("T")
GroupResource = tuple[str, str]
ObjectKey = tuple[str, str]
"""(namespace, name); namespace is ``""`` for cluster-scoped objects."""


@dataclass(frozen=True)
class Event:
    type: str
    """ADDED, MODIFIED or DELETED."""
    gr: GroupResource
    obj: dict[str, Any]
    old: dict[str, Any] | None
    rv: int


def clone(value: T) -> T:
    """A deep copy of JSON data (dicts, lists, scalars); several times faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [clone(v) for v in value]  # type: ignore[return-value]
    return value


def strip_meta(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``obj`` without the named ``metadata`` keys (to compare two versions of an object)."""
    out = clone(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in keys:
            meta.pop(key, None)
    return out


def object_key(obj: dict[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


@dataclass(eq=False)
class Watcher:
    """One watch stream's filter and bounded queue of (type, object) pairs."""

    gr: GroupResource
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    max_queue: int
    queue: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    """Set on unwatch, reset, or overflow of the bounded queue: the stream ends and the client re-watches."""

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace is not None and (meta.get("namespace") or "") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)

    def offer(self, event: Event, *, bounded: bool = True) -> None:
        """Translate a store event for this watcher (selector enter/leave) and queue it."""
        if self.closed:
            return
        new_match = self.matches(event.obj)
        if event.type == "MODIFIED":
            old_match = self.matches(event.old)
            if old_match and new_match:
                kind = "MODIFIED"
            elif new_match:
                kind = "ADDED"
            elif old_match:
                kind = "DELETED"
            else:
                return
        elif new_match:
            kind = event.type
        else:
            return
        self.push(kind, event.obj, bounded=bounded)

    def push(self, kind: str, obj: dict[str, Any], *, bounded: bool = True) -> None:
        if bounded and len(self.queue) >= self.max_queue:
            self.closed = True
        else:
            self.queue.append((kind, obj))
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()


class Store:
    def __init__(self, *, history_size: int = 10000, watcher_queue_size: int = 1000) -> None:
        self.history_size = history_size
        self.watcher_queue_size = watcher_queue_size
        self.rv = 0
        self.compacted_rv = 0
        """The newest revision no longer replayable; a watch from an older revision gets 410."""
        self._data: dict[GroupResource, dict[ObjectKey, dict[str, Any]]] = {}
        self._by_uid: dict[str, tuple[GroupResource, ObjectKey]] = {}
        self._dependents: dict[str, set[tuple[GroupResource, ObjectKey]]] = {}
        self.history: deque[Event] = deque()
        self._watchers: dict[GroupResource, set[Watcher]] = {}
        self.listeners: list[Callable[[Event], None]] = []

    # ---------------------------------------------------------------------------------------- reads

    def get(self, gr: GroupResource, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object itself (callers must not mutate it; copy first)."""
        return self._data.get(gr, {}).get((namespace, name))

    def by_uid(self, uid: str) -> tuple[GroupResource, dict[str, Any]] | None:
        found = self._by_uid.get(uid)
        if found is None:
            return None
        obj = self.get(found[0], *found[1])
        return (found[0], obj) if obj is not None else None

    def dependents(self, uid: str) -> list[tuple[GroupResource, dict[str, Any]]]:
        out = []
        for gr, key in sorted(self._dependents.get(uid, ())):
            obj = self.get(gr, *key)
            if obj is not None:
                out.append((gr, obj))
        return out

    def items(self, gr: GroupResource, namespace: str | None = None) -> list[dict[str, Any]]:
        bucket = self._data.get(gr, {})
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def group_resources(self) -> list[GroupResource]:
        return sorted(gr for gr, bucket in self._data.items() if bucket)

    def all_objects(self) -> Iterator[tuple[GroupResource, dict[str, Any]]]:
        for gr in list(self._data):
            for obj in list(self._data[gr].values()):
                yield gr, obj

    # --------------------------------------------------------------------------------------- writes

    def commit(self, gr: GroupResource, obj: dict[str, Any], *, deleted: bool = False) -> dict[str, Any]:
        """Store (or remove) ``obj`` at the next revision, record the event and notify watchers."""
        self.rv += 1
        stored = clone(obj)
        stored.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        key = object_key(stored)
        bucket = self._data.setdefault(gr, {})
        old = bucket.get(key)
        if old is not None:
            self._unindex(gr, key, old)
        if deleted:
            bucket.pop(key, None)
            kind = "DELETED"
        else:
            bucket[key] = stored
            self._index(gr, key, stored)
            kind = "MODIFIED" if old is not None else "ADDED"
        event = Event(kind, gr, stored, old, self.rv)
        self._record(event)
        return stored

    def _index(self, gr: GroupResource, key: ObjectKey, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if uid:
            self._by_uid[uid] = (gr, key)
        for ref in meta.get("ownerReferences") or ():
            if isinstance(ref, dict) and ref.get("uid"):
                self._dependents.setdefault(str(ref["uid"]), set()).add((gr, key))

    def _unindex(self, gr: GroupResource, key: ObjectKey, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if uid and self._by_uid.get(uid) == (gr, key):
            del self._by_uid[uid]
        for ref in meta.get("ownerReferences") or ():
            if isinstance(ref, dict) and ref.get("uid"):
                deps = self._dependents.get(str(ref["uid"]))
                if deps is not None:
                    deps.discard((gr, key))
                    if not deps:
                        del self._dependents[str(ref["uid"])]

    def _record(self, event: Event) -> None:
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        for watcher in list(self._watchers.get(event.gr, ())):
            watcher.offer(event)
        for listener in list(self.listeners):
            listener(event)

    def compact(self, upto: int | None = None) -> int:
        """Forget history up to ``upto`` (default: everything); returns the new compaction point."""
        target = self.rv if upto is None else min(upto, self.rv)
        while self.history and self.history[0].rv <= target:
            self.history.popleft()
        self.compacted_rv = max(self.compacted_rv, target)
        return self.compacted_rv

    def clear(self) -> None:
        """Drop every object and watcher (the control API's reset); the revision keeps counting."""
        for watchers in self._watchers.values():
            for w in watchers:
                w.close()
        self._watchers.clear()
        self._data.clear()
        self._by_uid.clear()
        self._dependents.clear()
        self.compact()

    # -------------------------------------------------------------------------------------- watches

    def too_old(self, rv: int) -> bool:
        return rv < self.compacted_rv

    def watch(
        self,
        *,
        gr: GroupResource,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        since: int | None,
    ) -> Watcher:
        """Register a watcher, pre-filled with either synthetic ADDEDs (``since`` None) or the replay."""
        watcher = Watcher(gr, namespace, labels, fields, self.watcher_queue_size)
        if since is None:
            for obj in self.items(gr, namespace):
                if watcher.matches(obj):
                    watcher.queue.append(("ADDED", obj))
        else:
            for event in self.history:
                if event.rv > since and event.gr == gr:
                    watcher.offer(event, bounded=False)
        self._watchers.setdefault(gr, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        watcher.close()
        self._watchers.get(watcher.gr, set()).discard(watcher)

    def watcher_count(self) -> int:
        return sum(len(ws) for ws in self._watchers.values())
