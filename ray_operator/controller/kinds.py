"""The collections the RayCluster controller watches and writes, and which of their objects it keeps.

One table so that the reflectors (what is cached), the writer (where a create or patch goes) and the
event routing (which RayCluster an object's change wakes) agree on every kind.

What is cached, and why (reference §2.1, §7.8):

* **RayClusters**: all of them in the watched namespaces, stored ``compact``: interned, like every kind.
* **Pods**: those a RayCluster controls, or that carry ``ray.io/node-type`` — no server-side label
  selector, so a pod whose labels were edited by hand stays visible (and is repaired) instead of
  vanishing from the cache and being replaced by a second pod. Only what the reconciler reads is
  stored (``slim_pod``): a pod's spec is most of its size and is never read back beyond container
  names and the restart policy, so thousands of cached pods cost kilobytes each, not tens of them.
* **Services, ServiceAccounts, Roles, RoleBindings, Ingresses, Jobs**: those a RayCluster controls. The
  headless and serve Services carry no ``ray.io/cluster`` label, so ownership, not a label, is the filter.
* **Secrets**: only those labelled ``ray.io/cluster`` (the auth token Secret), selected by the server —
  the operator must not receive every Secret of the cluster just to ignore it.

Decided against: one reflector per kind per RayCluster (thousands of watches), and caching the
ServiceAccount a user names for the autoscaler (it is read once per reconcile of such clusters only).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.api import constants as c
from ray_operator.kube.reflector import Resource, drop_managed_fields

__all__ = [
    "CHILD_KINDS",
    "INGRESSES",
    "JOBS",
    "PODS",
    "RAYCLUSTERS",
    "ROLES",
    "ROLE_BINDINGS",
    "SECRETS",
    "SERVICES",
    "SERVICE_ACCOUNTS",
    "ChildKind",
    "compact",
    "object_path",
    "owner_cluster_key",
    "slim_pod",
]

RAYCLUSTERS = Resource(group=c.GROUP, version=c.VERSION, plural=c.PLURAL)
PODS = Resource(group="", version="v1", plural="pods")
SERVICES = Resource(group="", version="v1", plural="services")
SECRETS = Resource(group="", version="v1", plural="secrets")
SERVICE_ACCOUNTS = Resource(group="", version="v1", plural="serviceaccounts")
ROLES = Resource(group="rbac.authorization.k8s.io", version="v1", plural="roles")
ROLE_BINDINGS = Resource(group="rbac.authorization.k8s.io", version="v1", plural="rolebindings")
INGRESSES = Resource(group="networking.k8s.io", version="v1", plural="ingresses")
JOBS = Resource(group="batch", version="v1", plural="jobs")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in _meta(obj).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def owner_cluster_key(obj: Mapping[str, Any]) -> str | None:
    """``namespace/name`` of the RayCluster controlling ``obj``, or None when no RayCluster does."""
    ref = _controller_ref(obj)
    if ref is None or ref.get("kind") != c.KIND or not str(ref.get("apiVersion", "")).startswith(f"{c.GROUP}/"):
        return None
    namespace = _meta(obj).get("namespace")
    return f"{namespace}/{ref.get('name')}" if namespace and ref.get("name") else None


def _controlled_by_a_raycluster(obj: Mapping[str, Any]) -> bool:
    return owner_cluster_key(obj) is not None


def _ray_pod(obj: Mapping[str, Any]) -> bool:
    labels = _meta(obj).get("labels")
    return _controlled_by_a_raycluster(obj) or (isinstance(labels, Mapping) and c.RAY_NODE_TYPE_LABEL in labels)


_POD_SPEC_KEPT = ("restartPolicy",)
_CONTAINER_KEPT = ("name", "image")
_POD_METADATA_DROPPED = ("managedFields",)
_POD_STATUS_KEPT = ("phase", "reason", "message", "podIP", "hostIP", "startTime")
_CONDITION_KEPT = ("type", "status", "reason", "message", "lastTransitionTime")
_CONTAINER_STATES_KEPT = ("waiting", "terminated")
"""A container's state only when it says why it is not running: ``running`` carries a start time nobody reads."""
_CONTAINER_STATE_KEPT = ("reason", "message", "exitCode", "signal")


_UNIQUE_VALUES = frozenset(
    ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "podIP", "startTime",
     "lastTransitionTime", "startedAt", "finishedAt")
)  # fmt: skip
"""Fields whose values differ per pod: interning them would only add an entry to the interned table."""


def _interned(value: Any, key: str = "") -> Any:
    """A copy of a small JSON tree whose keys and repeated strings are interned.

    Keys, label and annotation values, phases, reasons, container names and images repeat across
    every pod of a cluster; the values of ``_UNIQUE_VALUES`` (and the pod's own name) do not.
    """
    if isinstance(value, str):
        return value if key in _UNIQUE_VALUES else sys.intern(value)
    if isinstance(value, Mapping):
        return {sys.intern(k) if isinstance(k, str) else k: _interned(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_interned(item, key) for item in value]
    return value


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """What the cache keeps of a RayCluster or a child other than a pod: the whole object but
    ``managedFields``, with keys and repeated strings interned (``_interned``). Every RayCluster of a
    fleet repeats the same keys, images and settings, so interning halves what each one costs."""
    stored: dict[str, Any] = _interned(drop_managed_fields(obj))
    return stored


def slim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """The part of a pod the reconciler reads: identity, labels, annotations, owners, status.

    Of the spec only container names and images and the restart policy are kept (``builders.health``
    reads them); of the status the phase, IPs, conditions and, per container, its name and why it is
    waiting or terminated (pod health and the cluster status read them). Left out, because no code
    reads them: init containers and their statuses, placement, image and container IDs, start times,
    restart counts, the previous state, the IP lists that repeat ``podIP`` and ``hostIP``, empty
    values, and the conditions that are True other than ``Ready`` (a False one explains a stuck pod,
    so it stays).
    """
    meta = pod.get("metadata")
    spec = pod.get("spec")
    slim: dict[str, Any] = {k: v for k, v in pod.items() if k not in ("metadata", "spec", "status")}
    if isinstance(meta, Mapping):
        kept_meta = _interned({k: v for k, v in meta.items() if k not in _POD_METADATA_DROPPED and k != "name"})
        if "name" in meta:
            kept_meta["name"] = meta["name"]
        slim["metadata"] = kept_meta
    if isinstance(spec, Mapping):
        kept: dict[str, Any] = {k: spec[k] for k in _POD_SPEC_KEPT if k in spec}
        containers = spec.get("containers")
        if isinstance(containers, list):
            kept["containers"] = [
                {k: item[k] for k in _CONTAINER_KEPT if k in item} for item in containers if isinstance(item, Mapping)
            ]
        slim["spec"] = _interned(kept)
    status = pod.get("status")
    if isinstance(status, Mapping):
        slim["status"] = _interned(_slim_pod_status(status))
    return slim


def _without_empty(values: Mapping[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    return {k: values[k] for k in keep if values.get(k) not in (None, "", {}, [])}


def _slim_pod_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """Phase, IPs, conditions and container states: what pod health, rollouts and cluster status read."""
    slim = _without_empty(status, _POD_STATUS_KEPT)
    conditions = status.get("conditions")
    if isinstance(conditions, list):
        # Ready is the one the reconciler reads; a condition that is not True says why a pod is stuck.
        slim["conditions"] = [
            _without_empty(c, _CONDITION_KEPT)
            for c in conditions
            if isinstance(c, Mapping) and (c.get("type") == "Ready" or c.get("status") != "True")
        ]
    containers = status.get("containerStatuses")
    if isinstance(containers, list):
        slim["containerStatuses"] = [_slim_container_status(c) for c in containers if isinstance(c, Mapping)]
    return slim


def _slim_container_status(status: Mapping[str, Any]) -> dict[str, Any]:
    slim: dict[str, Any] = {"name": status.get("name")}
    state = status.get("state")
    if isinstance(state, Mapping):
        kept = {
            key: _without_empty(detail, _CONTAINER_STATE_KEPT)
            for key in _CONTAINER_STATES_KEPT
            if isinstance(detail := state.get(key), Mapping)
        }
        if kept:
            slim["state"] = kept
    return slim


@dataclass(frozen=True, kw_only=True)
class ChildKind:
    """A collection of objects RayClusters own: where it lives and how its reflector narrows it."""

    name: str
    """Short name used in logs and metrics (``pods``, ``services``...)."""
    resource: Resource
    kind: str
    label_selector: str | None = None
    keep_pods: bool = False
    """Keep pods a RayCluster controls *or* that carry ``ray.io/node-type`` (see the module docstring)."""
    transform: Callable[[dict[str, Any]], dict[str, Any]] = compact
    """What of each kept object the cache stores."""

    def keep(self, obj: Mapping[str, Any]) -> bool:
        if self.keep_pods:
            return _ray_pod(obj)
        if self.label_selector is not None:
            return True  # the server already selected by label
        return _controlled_by_a_raycluster(obj)


CHILD_KINDS: tuple[ChildKind, ...] = (
    ChildKind(name="pods", resource=PODS, kind="Pod", keep_pods=True, transform=slim_pod),
    ChildKind(name="services", resource=SERVICES, kind="Service"),
    ChildKind(name="secrets", resource=SECRETS, kind="Secret", label_selector=c.RAY_CLUSTER_LABEL),
    ChildKind(name="serviceaccounts", resource=SERVICE_ACCOUNTS, kind="ServiceAccount"),
    ChildKind(name="roles", resource=ROLES, kind="Role"),
    ChildKind(name="rolebindings", resource=ROLE_BINDINGS, kind="RoleBinding"),
    ChildKind(name="ingresses", resource=INGRESSES, kind="Ingress"),
    ChildKind(name="jobs", resource=JOBS, kind="Job"),
)


def object_path(resource: Resource, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    """The API path of a collection in one namespace, or of one object (and its subresource)."""
    path = resource.collection_path(namespace)
    if name is not None:
        path = f"{path}/{name}"
        if subresource:
            path = f"{path}/{subresource}"
    return path
