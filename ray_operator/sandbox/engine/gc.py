"""Garbage collector: the cluster-side behaviour that follows deletions, as kube-controller-manager's.

Like kube-controller-manager, it runs apart from the request that caused the work: a background task
woken after every commit that touches ownerReferences, finalizers or deletion, which sweeps until nothing
changes. It implements Background (dependents of a vanished owner uid are deleted, or only lose the
dead reference when other owners live), Foreground (``foregroundDeletion``: dependents are deleted and the
owner goes once no ``blockOwnerDeletion`` dependent is left) and Orphan (``orphan``: references are removed
from dependents); an object being deleted whose kind finishes its own deletion gets that turn first
(``Strategy.finish_deletion``: namespace termination deletes the contents, then the namespace; CRD
cleanup deletes its objects, then the CRD). It writes directly through the engine's internal calls,
without admission.

A sweep looks only at what a change can have affected, learnt from the store's events: an object
written with ownerReferences or a deletionTimestamp, the dependents of an object that went away, the
owners (being deleted) of an object that changed, and every object still being deleted (few at any
time; a terminating namespace waits on its contents). A full scan per change made the emulator
quadratic in its size: with 5,000 pods two thirds of its time went to sweeping.
Decided against: an indexed dependency graph like the real graph builder (the store's uid and
dependents indexes are enough for exact answers).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import structlog

from ray_operator.sandbox.engine.pipeline import Engine
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.store import Event, GroupResource, ObjectKey

log = structlog.get_logger(__name__)

MAX_ROUNDS = 100

_Key = tuple[GroupResource, ObjectKey]


class GarbageCollector:
    def __init__(self, *, engine: Engine) -> None:
        self.engine = engine
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self._dirty: set[_Key] = set()
        """Objects a change may have made collectable, to look at in the next round."""
        self._terminating: set[_Key] = set()
        """Objects with a deletionTimestamp: looked at in every sweep until they are gone."""
        engine.store.listeners.append(self._observe)

    def _observe(self, event: Event) -> None:
        """Note what ``event`` can have made work for the collector (see the module docstring)."""
        store = self.engine.store
        meta = event.obj.get("metadata") or {}
        key: _Key = (event.gr, (meta.get("namespace") or "", meta.get("name") or ""))
        if event.type == "DELETED":
            self._terminating.discard(key)
            uid = meta.get("uid")
            if uid:
                self._dirty.update(
                    (gr, (d["metadata"].get("namespace") or "", d["metadata"]["name"]))
                    for gr, d in store.dependents(str(uid))
                )
        else:
            if meta.get("ownerReferences") or meta.get("deletionTimestamp"):
                self._dirty.add(key)
            if meta.get("deletionTimestamp"):
                self._terminating.add(key)
        old_meta = (event.old or {}).get("metadata") or {}
        for ref in [*(meta.get("ownerReferences") or ()), *(old_meta.get("ownerReferences") or ())]:
            owner = store.by_uid(str(ref.get("uid") or "")) if isinstance(ref, dict) else None
            if owner is not None and (owner[1].get("metadata") or {}).get("deletionTimestamp"):
                owner_meta = owner[1]["metadata"]
                self._dirty.add((owner[0], (owner_meta.get("namespace") or "", owner_meta["name"])))

    def kick(self) -> None:
        self.idle.clear()
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)
            try:
                self.sweep()
            except Exception:  # a GC bug must not stop the emulator; it is logged and retried on the next kick
                log.exception("gc_sweep_failed")
            if not self._wake.is_set():
                self.idle.set()

    async def settle(self, limit: float = 5.0) -> None:
        """Wait until the collector has no pending work (tests and the control API)."""
        async with asyncio.timeout(limit):
            while not self.idle.is_set() or self._wake.is_set():
                await self.idle.wait()
                await asyncio.sleep(0)

    def storage_type(self, gr: GroupResource) -> ResourceType | None:
        return self.engine.registry.storage_type(*gr)

    def sweep(self) -> None:
        for _ in range(MAX_ROUNDS):
            if not self.sweep_once():
                return
        log.warning("gc_convergence_failed", rounds=MAX_ROUNDS)

    def sweep_once(self) -> bool:
        changed = False
        store = self.engine.store
        keys = sorted(self._dirty | self._terminating)
        self._dirty.clear()
        for gr, (namespace, name) in keys:
            current = store.get(gr, namespace, name)
            if current is None:
                self._terminating.discard((gr, (namespace, name)))
                continue
            rt = self.storage_type(gr)
            if rt is None:
                continue
            meta = current.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                finished = self.engine.strategy(rt).finish_deletion(self.engine, self, rt, current)
                if finished is not None:
                    changed |= finished
                    continue
                finalizers = meta.get("finalizers") or []
                if "orphan" in finalizers:
                    changed |= self._orphan(rt, current)
                    continue
                if "foregroundDeletion" in finalizers:
                    changed |= self._foreground(rt, current)
                    continue
            if meta.get("ownerReferences"):
                changed |= self._check_owners(rt, current)
        return changed

    def delete_dependent(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Background deletion of a dependent: mark it when it has finalizers, remove it otherwise."""
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return
        if meta.get("finalizers"):
            new = copy.deepcopy(obj)
            new["metadata"]["deletionTimestamp"] = self.engine.now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            self.engine.update_internal(rt, new)
        else:
            self.engine.remove(rt, obj)

    def drop_finalizer(self, rt: ResourceType, obj: dict[str, Any], finalizer: str) -> None:
        new = copy.deepcopy(obj)
        new["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or () if f != finalizer]
        if not new["metadata"]["finalizers"]:
            new["metadata"].pop("finalizers")
        self.engine.update_internal(rt, new)

    def _owner_alive(self, ref: dict[str, Any], namespace: str) -> bool:
        found = self.engine.store.by_uid(str(ref.get("uid") or ""))
        if found is None:
            return False
        owner_ns = (found[1].get("metadata") or {}).get("namespace") or ""
        return owner_ns in ("", namespace)

    def _check_owners(self, rt: ResourceType, obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        refs = [r for r in meta.get("ownerReferences") or () if isinstance(r, dict)]
        namespace = meta.get("namespace") or ""
        alive = [r for r in refs if self._owner_alive(r, namespace)]
        if len(alive) == len(refs):
            return False
        if not alive:
            if meta.get("deletionTimestamp"):
                return False
            self.delete_dependent(rt, obj)
            return True
        new = copy.deepcopy(obj)
        new["metadata"]["ownerReferences"] = alive
        self.engine.update_internal(rt, new)
        return True

    def _orphan(self, rt: ResourceType, owner: dict[str, Any]) -> bool:
        uid = owner["metadata"].get("uid")
        for gr, dep in self.engine.store.dependents(str(uid)):
            dep_rt = self.storage_type(gr)
            if dep_rt is None:
                continue
            new = copy.deepcopy(dep)
            refs = [r for r in dep["metadata"].get("ownerReferences") or () if r.get("uid") != uid]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences", None)
            self.engine.update_internal(dep_rt, new)
        self.drop_finalizer(rt, owner, "orphan")
        return True

    def _foreground(self, rt: ResourceType, owner: dict[str, Any]) -> bool:
        uid = owner["metadata"].get("uid")
        changed = False
        blocking = 0
        for gr, dep in self.engine.store.dependents(str(uid)):
            dep_rt = self.storage_type(gr)
            if dep_rt is None:
                continue
            if not dep["metadata"].get("deletionTimestamp"):
                self.delete_dependent(dep_rt, dep)
                changed = True
            still = self.engine.store.get(gr, dep["metadata"].get("namespace") or "", dep["metadata"]["name"])
            if still is not None and any(
                r.get("uid") == uid and r.get("blockOwnerDeletion")
                for r in still["metadata"].get("ownerReferences") or ()
            ):
                blocking += 1
        if blocking == 0:
            current = self.engine.store.get(
                self.engine.gr(rt), owner["metadata"].get("namespace") or "", owner["metadata"]["name"]
            )
            if current is not None:
                self.drop_finalizer(rt, current, "foregroundDeletion")
            return True
        return changed
