"""Namespaces: their defaults, the ones a cluster starts with, and their lifecycle (Terminating, then gone).

A new namespace gets its ``kubernetes.io/metadata.name`` label, the ``kubernetes`` finalizer and phase
``Active``, and — as the service-account controller does — a ``default`` ServiceAccount. Deleting one
makes it ``Terminating``: the garbage collector's namespace-controller turn (``finish_deletion``)
deletes its contents, finalizers respected, then the namespace itself. ``default``, ``kube-system``
and ``kube-public`` cannot be deleted, as upstream. A Namespace is admitted "in" itself: webhooks see
its name as the request namespace, except on create.
Decided against: serving ``namespaces/finalize`` (nothing here needs the ``kubernetes`` finalizer
removed by hand; the namespace goes once it is empty).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.strategy import Collector, StrategyHost
from ray_operator.sandbox.resources import ResourceType

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""The namespaces every sandbox starts with (and is reset to)."""
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


def default_namespace(ns: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(ns)
    meta = out.setdefault("metadata", {})
    meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
    out.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    out.setdefault("status", {}).setdefault("phase", "Active")
    return out


class NamespaceStrategy(BuiltinStrategy):
    def defaults(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return default_namespace(obj)

    def after_commit(
        self, host: StrategyHost, rt: ResourceType, stored: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if old is None:
            _default_service_account(host, stored["metadata"]["name"])

    def admission_namespace(self, namespace: str, name: str, operation: str) -> str:
        return name if operation != "CREATE" else namespace

    def check_delete(self, host: StrategyHost, rt: ResourceType, name: str) -> None:
        if name in PROTECTED_NAMESPACES:
            raise errors.forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )

    def begin_delete(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], finalizers: list[str]) -> bool:
        obj.setdefault("status", {})["phase"] = "Terminating"
        return True  # the namespace controller removes it once its contents are gone

    def finish_deletion(
        self, host: StrategyHost, collector: Collector, rt: ResourceType, obj: dict[str, Any]
    ) -> bool | None:
        """Delete the namespace's contents; once none is left, the namespace itself."""
        name = obj["metadata"]["name"]
        store = host.store
        remaining = 0
        changed = False
        for gr, item in list(store.all_objects()):
            if (item.get("metadata") or {}).get("namespace") != name:
                continue
            item_rt = collector.storage_type(gr)
            if item_rt is None or not item_rt.namespaced:
                continue
            remaining += 1
            if not item["metadata"].get("deletionTimestamp"):
                collector.delete_dependent(item_rt, item)
                changed = True
        if remaining and changed:
            return True
        if any((o.get("metadata") or {}).get("namespace") == name for _, o in store.all_objects()):
            return changed
        host.remove(rt, obj)
        return True


def _default_service_account(host: StrategyHost, namespace: str) -> None:
    """What the service-account controller does for every new namespace."""
    sa_gr = ("", "serviceaccounts")
    if host.store.get(sa_gr, namespace, "default") is None:
        host.store.commit(
            sa_gr,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": "default",
                    "namespace": namespace,
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": host.now(),
                },
            },
        )
