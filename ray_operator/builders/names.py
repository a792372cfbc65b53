"""Names, identity labels and owner references of the objects a RayCluster owns.

Why one module: every builder names children after the cluster, points them back to it with a
controller ownerReference and stamps the same identity labels; the head Service name also feeds
the FQDN that workers, probes and init containers use. Spelling these once keeps the head pod,
the head Service selector and the reconciler's label queries in agreement.

The shortening rules are KubeRay's (reference §2.2, §2.5, §2.6), because existing objects were
named by them: a ``generateName`` prefix keeps the *first* 50 characters and is lowercased;
``check_name`` (ServiceAccount, Role, RoleBinding, auth Secret, Ingress) keeps the *last* 50 and
replaces a leading digit or punctuation mark with ``r``; ``check_label`` keeps the last 63.
Decided against "improving" them: a different name for the same cluster would orphan the objects
an operator upgrade finds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster

__all__ = [
    "ClusterRef",
    "check_label",
    "check_name",
    "cluster_ref",
    "head_fqdn",
    "head_identifier",
    "head_pod_name_prefix",
    "head_service_name",
    "owned_by",
    "owner_reference",
    "ray_ip_from_fqdn",
    "worker_identifier",
    "worker_pod_name_prefix",
]


@dataclass(frozen=True, kw_only=True)
class ClusterRef:
    """The identity of a RayCluster that every child object needs."""

    name: str
    namespace: str
    uid: str


def cluster_ref(cluster: RayCluster) -> ClusterRef:
    """Name, namespace and UID of a stored RayCluster; ValueError naming the missing field otherwise.

    Builders only ever see objects read from the API server, which always carry all three; a missing
    one is a programming error that must not turn into a child without an owner.
    """
    meta = cluster.metadata
    values: dict[str, str] = {}
    for key in ("name", "namespace", "uid"):
        value = meta.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"RayCluster metadata.{key} is required to build its children")
        values[key] = value
    return ClusterRef(**values)


def owner_reference(ref: ClusterRef) -> dict[str, Any]:
    """A controller ownerReference to the RayCluster: garbage collection removes the child with it."""
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.KIND,
        "name": ref.name,
        "uid": ref.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: Mapping[str, Any], ref: ClusterRef) -> bool:
    """Whether a live object's controller is this RayCluster (same UID): only such objects may be changed."""
    metadata = obj.get("metadata")
    owners = metadata.get("ownerReferences") if isinstance(metadata, Mapping) else None
    return any(
        isinstance(owner, Mapping) and owner.get("controller") is True and owner.get("uid") == ref.uid
        for owner in owners or ()
    )


def _starts_badly(text: str, *, digits: bool) -> bool:
    first = text[0]
    if digits and first.isdigit():
        return True
    # Go's unicode.IsPunct: the Unicode categories P* ('-', '.', '_' among them).
    return unicodedata.category(first).startswith("P")


def check_name(text: str) -> str:
    """KubeRay's CheckName: at most 50 characters (the last ones kept), not starting with a digit or punctuation."""
    if len(text) > c.MAX_POD_NAME_PREFIX_LENGTH:
        text = text[len(text) - c.MAX_POD_NAME_PREFIX_LENGTH :]
    if text and _starts_badly(text, digits=True):
        text = "r" + text[1:]
    return text


def check_label(text: str) -> str:
    """KubeRay's CheckLabel: at most 63 characters (the last ones kept), not starting with punctuation."""
    if len(text) > c.MAX_LABEL_VALUE_LENGTH:
        text = text[len(text) - c.MAX_LABEL_VALUE_LENGTH :]
    if text and _starts_badly(text, digits=False):
        text = "r" + text[1:]
    return text


def _pod_name(prefix: str, suffix: str) -> str:
    return (prefix[: c.MAX_POD_NAME_PREFIX_LENGTH] + suffix).lower()


def head_pod_name_prefix(cluster_name: str, *, deterministic: bool) -> str:
    """``<cluster>-head-`` for generateName, or ``<cluster>-head`` as the exact name when deterministic."""
    name = _pod_name(cluster_name, c.HEAD_POD_NAME_SUFFIX)
    return name if deterministic else name + "-"


def worker_pod_name_prefix(cluster_name: str, group_name: str) -> str:
    """``<cluster>-<group>-worker-``, the generateName of a group's pods."""
    return _pod_name(f"{cluster_name}-{group_name}", c.WORKER_POD_NAME_INFIX + "-")


def head_identifier(cluster_name: str) -> str:
    """Value of ``ray.io/identifier`` on the head pod and head Service."""
    return check_label(f"{cluster_name}-{c.NodeType.HEAD}")


def worker_identifier(cluster_name: str) -> str:
    """Value of ``ray.io/identifier`` on worker pods."""
    return check_label(f"{cluster_name}-{c.NodeType.WORKER}")


def head_service_name(cluster: RayCluster) -> str:
    """``headService.metadata.name`` when the user gave one, else ``<cluster>-head-svc``."""
    custom = cluster.spec.head_group_spec.head_service
    if isinstance(custom, dict):
        metadata = custom.get("metadata")
        if isinstance(metadata, dict):
            name = metadata.get("name")
            if isinstance(name, str) and name:
                return name
    return f"{cluster.metadata.get('name', '')}{c.HEAD_SERVICE_SUFFIX}"


def head_fqdn(cluster: RayCluster, *, namespace: str, cluster_domain: str) -> str:
    """``<head-svc>.<namespace>.svc.<domain>``: the address workers, probes and init containers use."""
    return f"{head_service_name(cluster)}.{namespace}.svc.{cluster_domain}"


def ray_ip_from_fqdn(fqdn: str) -> str:
    """The deprecated ``RAY_IP``: the first label of the FQDN (the head Service's short name)."""
    return fqdn.split(".", 1)[0]
