"""The collections the RayCluster controller watches and writes, and which of their objects it keeps.

One table so that the reflectors (what is cached), the writer (where a create or patch goes) and the
event routing (which RayCluster an object's change wakes) agree on every kind.

What is cached, and why (reference §2.1, §7.8):

* **RayClusters**: all of them in the watched namespaces.
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


_POD_SPEC_KEPT = ("restartPolicy", "nodeName", "hostname", "subdomain")
_CONTAINER_KEPT = ("name", "image")
_POD_METADATA_DROPPED = ("managedFields",)


def _interned(value: Any) -> Any:
    """Intern the strings of a small mapping tree: label keys and values repeat across every pod."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, Mapping):
        return {sys.intern(k) if isinstance(k, str) else k: _interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interned(item) for item in value]
    return value


def slim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """The part of a pod the reconciler reads: identity, labels, annotations, owners, status.

    Of the spec only container names and images, the restart policy and placement are kept
    (``builders.health`` reads the first two); the status is kept whole (conditions, IPs, container
    states are the pod health and cluster status inputs).
    """
    meta = pod.get("metadata")
    spec = pod.get("spec")
    slim: dict[str, Any] = {k: v for k, v in pod.items() if k not in ("metadata", "spec", "status")}
    if isinstance(meta, Mapping):
        slim["metadata"] = _interned({k: v for k, v in meta.items() if k not in _POD_METADATA_DROPPED})
    if isinstance(spec, Mapping):
        kept: dict[str, Any] = {k: spec[k] for k in _POD_SPEC_KEPT if k in spec}
        for field in ("initContainers", "containers"):
            containers = spec.get(field)
            if isinstance(containers, list):
                kept[field] = [
                    {k: item[k] for k in _CONTAINER_KEPT if k in item}
                    for item in containers
                    if isinstance(item, Mapping)
                ]
        slim["spec"] = _interned(kept)
    if "status" in pod:
        slim["status"] = _interned(pod["status"])
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
    transform: Callable[[dict[str, Any]], dict[str, Any]] = drop_managed_fields
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
