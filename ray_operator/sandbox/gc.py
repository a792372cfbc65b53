"""Garbage collector and namespace controller: the cluster-side behaviour that follows deletions.

Like kube-controller-manager, it runs apart from the request that caused the work: a background task
woken after every commit that touches ownerReferences, finalizers or deletion, which sweeps until nothing
changes. It implements Background (dependents of a vanished owner uid are deleted, or only lose the
dead reference when other owners live), Foreground (``foregroundDeletion``: dependents are deleted and the
owner goes once no ``blockOwnerDeletion`` dependent is left), Orphan (``orphan``: references are removed
from dependents), namespace termination (contents deleted, then the namespace) and CRD cleanup (its
objects deleted, then the CRD). It writes directly
through the engine's internal calls, without admission, and a sweep is a full scan: simple and exact for
test-sized stores rather than indexed like the real graph builder.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from ray_operator.sandbox.engine import CRD_CLEANUP_FINALIZER, CRD_GR, NAMESPACE_GR, Engine
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.store import GroupResource

log = logging.getLogger(__name__)

MAX_ROUNDS = 100


class GarbageCollector:
    def __init__(self, *, engine: Engine) -> None:
        self.engine = engine
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()

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
                log.exception("garbage collection sweep failed")
            if not self._wake.is_set():
                self.idle.set()

    async def settle(self, limit: float = 5.0) -> None:
        """Wait until the collector has no pending work (tests and the control API)."""
        async with asyncio.timeout(limit):
            while not self.idle.is_set() or self._wake.is_set():
                await self.idle.wait()
                await asyncio.sleep(0)

    def _rt(self, gr: GroupResource) -> ResourceType | None:
        return self.engine.registry.storage_type(*gr)

    def sweep(self) -> None:
        for _ in range(MAX_ROUNDS):
            if not self.sweep_once():
                return
        log.warning("garbage collection did not converge after %d rounds", MAX_ROUNDS)

    def sweep_once(self) -> bool:
        changed = False
        store = self.engine.store
        for gr, obj in list(store.all_objects()):
            current = store.get(gr, (obj["metadata"].get("namespace") or ""), obj["metadata"]["name"])
            if current is None or current is not obj:
                continue
            rt = self._rt(gr)
            if rt is None:
                continue
            meta = current.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                if gr == NAMESPACE_GR:
                    changed |= self._terminate_namespace(rt, current)
                    continue
                finalizers = meta.get("finalizers") or []
                if gr == CRD_GR and CRD_CLEANUP_FINALIZER in finalizers:
                    changed |= self._clean_up_crd(rt, current)
                    continue
                if "orphan" in finalizers:
                    changed |= self._orphan(rt, current)
                    continue
                if "foregroundDeletion" in finalizers:
                    changed |= self._foreground(rt, current)
                    continue
            if meta.get("ownerReferences"):
                changed |= self._check_owners(rt, current)
        return changed

    def _delete(self, rt: ResourceType, obj: dict[str, Any]) -> None:
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

    def _drop_finalizer(self, rt: ResourceType, obj: dict[str, Any], finalizer: str) -> None:
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
            self._delete(rt, obj)
            return True
        new = copy.deepcopy(obj)
        new["metadata"]["ownerReferences"] = alive
        self.engine.update_internal(rt, new)
        return True

    def _orphan(self, rt: ResourceType, owner: dict[str, Any]) -> bool:
        uid = owner["metadata"].get("uid")
        for gr, dep in self.engine.store.dependents(str(uid)):
            dep_rt = self._rt(gr)
            if dep_rt is None:
                continue
            new = copy.deepcopy(dep)
            refs = [r for r in dep["metadata"].get("ownerReferences") or () if r.get("uid") != uid]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences", None)
            self.engine.update_internal(dep_rt, new)
        self._drop_finalizer(rt, owner, "orphan")
        return True

    def _foreground(self, rt: ResourceType, owner: dict[str, Any]) -> bool:
        uid = owner["metadata"].get("uid")
        changed = False
        blocking = 0
        for gr, dep in self.engine.store.dependents(str(uid)):
            dep_rt = self._rt(gr)
            if dep_rt is None:
                continue
            if not dep["metadata"].get("deletionTimestamp"):
                self._delete(dep_rt, dep)
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
                self._drop_finalizer(rt, current, "foregroundDeletion")
            return True
        return changed

    def _clean_up_crd(self, rt: ResourceType, crd: dict[str, Any]) -> bool:
        """Delete a terminating CRD's objects; drop the cleanup finalizer once none is left."""
        spec = crd.get("spec") or {}
        gr = (str(spec.get("group")), str((spec.get("names") or {}).get("plural")))
        object_rt = self._rt(gr)
        remaining = self.engine.store.items(gr)
        changed = False
        if object_rt is not None:
            for obj in remaining:
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(object_rt, obj)
                    changed = True
        if self.engine.store.items(gr):
            return changed
        self._drop_finalizer(rt, crd, CRD_CLEANUP_FINALIZER)
        return True

    def _terminate_namespace(self, rt: ResourceType, ns: dict[str, Any]) -> bool:
        name = ns["metadata"]["name"]
        store = self.engine.store
        remaining = 0
        changed = False
        for gr, obj in list(store.all_objects()):
            if (obj.get("metadata") or {}).get("namespace") != name:
                continue
            obj_rt = self._rt(gr)
            if obj_rt is None or not obj_rt.namespaced:
                continue
            remaining += 1
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete(obj_rt, obj)
                changed = True
        if remaining and changed:
            return True
        if any((o.get("metadata") or {}).get("namespace") == name for _, o in store.all_objects()):
            return changed
        self.engine.remove(rt, ns)
        return True
