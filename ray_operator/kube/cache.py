"""The cache a reflector fills: objects by namespace/name, an owner index, and change callbacks.

Reconcilers read children from here, never from the API server, so a steady cluster costs no reads.
It holds plain dicts, exactly as the reflector stored them (already filtered and trimmed), and hands
out those same dicts: **callers must not mutate what they get** (copy first), which is what keeps the
memory at one copy per object (controller-runtime's ``UnsafeDisableDeepCopy``, made the rule).

* ``get(namespace, name)``, ``list(namespace, labels=...)`` (a ``LabelSelector``, a selector string or
  an equality mapping);
* ``controlled_by(uid)``: the objects whose ``ownerReferences`` entry with ``controller: true`` has
  that UID - how a RayCluster finds its pods and services without a label scan;
* listeners: ``add_listener(fn)`` gets a ``CacheEvent`` (type, old, new) for every change, synchronously,
  so the controller can enqueue keys. A listener's exception is logged and does not stop the others.

One writer (one reflector) per cache: a relist computes deletes from what this cache holds.

Decided against: generic named indexers (the operator needs only the owner index; ``list`` by
namespace is a dict lookup), and copy-on-read (the cost grows with every reconcile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from ray_operator.apimachinery.selectors import LabelSelector, parse_label_selector

__all__ = ["Cache", "CacheEvent", "EventType", "Listener", "Obj", "Objs", "controller_owner_uid", "object_key"]

Obj = dict[str, Any]
Objs = list[Obj]
"""(An alias, because inside ``Cache`` the name ``list`` is the method.)"""
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class CacheEvent:
    """One change: ``ADDED`` (old ``None``), ``MODIFIED`` (both), ``DELETED`` (new ``None``, old = last known)."""

    type: EventType
    old: Obj | None
    new: Obj | None

    @property
    def obj(self) -> Obj:
        """The newest known state: ``new``, or ``old`` for a delete."""
        found = self.new if self.new is not None else self.old
        assert found is not None
        return found

    @property
    def key(self) -> str:
        return object_key(self.obj)


Listener = Callable[[CacheEvent], None]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object (client-go's ``MetaNamespaceKeyFunc``)."""
    meta = _meta(obj)
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    return f"{namespace}/{name}" if namespace else str(name)


def controller_owner_uid(obj: Mapping[str, Any]) -> str | None:
    """The UID of the ``ownerReferences`` entry with ``controller: true`` (there is at most one)."""
    for ref in _meta(obj).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("uid"):
            return str(ref["uid"])
    return None


def _labels_match(labels: LabelSelector | Mapping[str, str] | str, obj: Obj) -> bool:
    present = _meta(obj).get("labels") or {}
    if isinstance(labels, LabelSelector):
        return labels.matches(present)
    assert not isinstance(labels, str)
    return all(present.get(k) == v for k, v in labels.items())


class Cache:
    """Objects of one kind; filled by one ``Reflector``, read by reconcilers."""

    def __init__(self, *, logger: Any = None) -> None:
        self._log = logger if logger is not None else structlog.get_logger("ray_operator.kube.cache")
        self._objects: dict[str, dict[str, Obj]] = {}
        """namespace ("" for cluster-scoped) → name → object."""
        self._owned: dict[str, set[tuple[str, str]]] = {}
        """controller owner UID → (namespace, name) of what it controls."""
        self._listeners: list[Listener] = []

    # ---------------------------------------------------------------------------------------- reads

    def get(self, namespace: str, name: str) -> Obj | None:
        """The cached object, or ``None``; ``namespace`` is ``""`` for cluster-scoped kinds. Do not mutate it."""
        return self._objects.get(namespace, {}).get(name)

    def list(
        self, namespace: str | None = None, *, labels: LabelSelector | Mapping[str, str] | str | None = None
    ) -> Objs:
        """Cached objects of one namespace (``None``: all), optionally label-matched, ordered by namespace/name."""
        selector: LabelSelector | Mapping[str, str] | None = (
            parse_label_selector(labels) if isinstance(labels, str) else labels
        )
        namespaces = [namespace] if namespace is not None else sorted(self._objects)
        out: Objs = []
        for ns in namespaces:
            bucket = self._objects.get(ns, {})
            for name in sorted(bucket):
                obj = bucket[name]
                if selector is None or _labels_match(selector, obj):
                    out.append(obj)
        return out

    def controlled_by(self, owner_uid: str) -> Objs:
        """Objects whose controller ``ownerReference`` has this UID, ordered by namespace/name."""
        out: Objs = []
        for namespace, name in sorted(self._owned.get(owner_uid, ())):
            obj = self.get(namespace, name)
            if obj is not None:
                out.append(obj)
        return out

    def keys(self, namespace: str | None = None) -> set[tuple[str, str]]:
        """(namespace, name) of every cached object, or of one namespace's."""
        if namespace is not None:
            return {(namespace, name) for name in self._objects.get(namespace, {})}
        return {(ns, name) for ns, bucket in self._objects.items() for name in bucket}

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._objects.values())

    def __iter__(self) -> Iterator[Obj]:
        for bucket in list(self._objects.values()):
            yield from list(bucket.values())

    # ------------------------------------------------------------------------------------ listeners

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change from now on; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _notify(self, event: CacheEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken handler must not stop the reflector or the other handlers
                self._log.exception("cache_listener_failed", event_type=event.type, key=event.key)

    # --------------------------------------------------------------------------------------- writes

    def upsert(self, obj: Obj, *, only_if_changed: bool = False) -> None:
        """Store ``obj`` (ADDED or MODIFIED); with ``only_if_changed`` an unchanged resourceVersion is a no-op.

        A relist uses ``only_if_changed``: objects that did not change while the watch was down need no
        reconcile, so a relist of a thousand pods does not enqueue a thousand keys.
        """
        meta = _meta(obj)
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        bucket = self._objects.setdefault(namespace, {})
        old = bucket.get(name)
        if (
            only_if_changed
            and old is not None
            and _meta(old).get("resourceVersion") == meta.get("resourceVersion")
            and meta.get("resourceVersion") is not None
        ):
            return
        bucket[name] = obj
        old_owner = controller_owner_uid(old) if old is not None else None
        new_owner = controller_owner_uid(obj)
        if old_owner != new_owner:
            if old_owner is not None:
                self._unown(old_owner, namespace, name)
            if new_owner is not None:
                self._owned.setdefault(new_owner, set()).add((namespace, name))
        self._notify(CacheEvent("MODIFIED" if old is not None else "ADDED", old, obj))

    def delete(self, namespace: str, name: str) -> None:
        """Forget an object (DELETED with its last known state); a no-op if it is not cached."""
        bucket = self._objects.get(namespace)
        if bucket is None or name not in bucket:
            return
        old = bucket.pop(name)
        if not bucket:
            del self._objects[namespace]
        owner = controller_owner_uid(old)
        if owner is not None:
            self._unown(owner, namespace, name)
        self._notify(CacheEvent("DELETED", old, None))

    def _unown(self, owner: str, namespace: str, name: str) -> None:
        owned = self._owned.get(owner)
        if owned is not None:
            owned.discard((namespace, name))
            if not owned:
                del self._owned[owner]
