"""The head Service, the headless worker Service, the serve Service, and drift of a live Service (§2.4, §2.5).

Why: workers, drivers and the dashboard reach the head through ``<head-svc>.<ns>.svc.<domain>``;
its ports and selector decide what is reachable. KubeRay's rules, kept:

* name ``<cluster>-head-svc`` (or ``headService.metadata.name``), the cluster's namespace;
* ports from the head container's ports (name → ``containerPort``; an unnamed port is ``<port>-port``),
  or ``client`` 10001, ``gcs-server`` 6379, ``dashboard`` 8265, ``metrics`` 8080, ``serve`` 8000 when
  it declares none; ``metrics`` 8080 always; ``appProtocol: tcp``; sorted by name;
* headless (``clusterIP: None``, ``publishNotReadyAddresses: true``) for type ClusterIP or unset, unless
  the operator's ClusterIP switch is on: there is one head pod, and a restarted head must be
  reachable before it is Ready (workers reconnect to it; ray-project/ray#33030);
* ``headServiceAnnotations`` as annotations;
* a custom ``headService``: its selector replaced, annotations merged with ``headServiceAnnotations``
  winning, operator labels winning, the Ray ports appended, name defaulted, namespace forced,
  ``type`` defaulted to ``serviceType`` (and it is not made headless, as in KubeRay);
* headless worker Service ``<cluster>-headless`` only when a group has more than one host per replica;
* serve Service ``<cluster>-serve-svc`` only with the annotation ``ray.io/enable-serve-service: "true"``,
  selecting every pod of the cluster on the head ports named ``serve`` or ``serve-*``.

Better than KubeRay, on purpose:

* the selector (and the matching labels) take the head pod's *effective* values of
  ``ray.io/identifier``, ``app.kubernetes.io/name`` and ``app.kubernetes.io/created-by``: KubeRay follows a
  template override of ``app.kubernetes.io/name`` only, so overriding the others left a Service that
  selected nothing;
* appended Ray ports skip names and port numbers the custom Service already uses (KubeRay appends
  duplicates, which the API server rejects);
* ``type`` is always written (``ClusterIP`` when nothing says otherwise), so drift is visible;
* the live Service is reconciled: ``service_merge_patch`` returns the fields that differ, ignoring what
  the server fills in (``drift``), and carries allocated ``nodePort`` values over when it resends the
  port list; ``service_needs_recreate`` says when only delete-and-create helps (``clusterIP`` is
  immutable, so headless and non-headless cannot be switched in place).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders import drift
from ray_operator.builders.config import BuildConfig
from ray_operator.builders.names import cluster_ref, head_service_name, owner_reference
from ray_operator.builders.pods import head_pod_labels
from ray_operator.builders.replicas import effective_num_of_hosts

__all__ = [
    "build_head_service",
    "build_headless_worker_service",
    "build_serve_service",
    "head_service_match_labels",
    "head_service_ports",
    "service_merge_patch",
    "service_needs_recreate",
]

_SELECTOR_KEYS = (
    c.RAY_CLUSTER_LABEL,
    c.RAY_NODE_TYPE_LABEL,
    c.RAY_IDENTIFIER_LABEL,
    c.KUBERNETES_APP_NAME_LABEL,
    c.KUBERNETES_CREATED_BY_LABEL,
)
_DEFAULT_PORTS = {
    c.CLIENT_PORT_NAME: c.DEFAULT_CLIENT_PORT,
    c.GCS_SERVER_PORT_NAME: c.DEFAULT_GCS_SERVER_PORT,
    c.DASHBOARD_PORT_NAME: c.DEFAULT_DASHBOARD_PORT,
    c.METRICS_PORT_NAME: c.DEFAULT_METRICS_PORT,
    c.SERVING_PORT_NAME: c.DEFAULT_SERVING_PORT,
}
# Fields the API server owns or that cannot change in place; never part of a patch.
_UNPATCHABLE_SPEC_FIELDS = frozenset({"clusterIP", "clusterIPs"})


def _head_selector(cluster: RayCluster) -> dict[str, str]:
    labels = head_pod_labels(cluster)
    return {key: labels[key] for key in _SELECTOR_KEYS}


def head_service_match_labels(cluster: RayCluster) -> dict[str, str]:
    """Labels that find this cluster's head Service in a list (cluster, node type, identifier)."""
    selector = _head_selector(cluster)
    return {key: selector[key] for key in (c.RAY_CLUSTER_LABEL, c.RAY_NODE_TYPE_LABEL, c.RAY_IDENTIFIER_LABEL)}


def head_service_ports(cluster: RayCluster) -> dict[str, int]:
    """Port name → number the head exposes: its container's ports (or the defaults), plus ``metrics``."""
    containers = (cluster.spec.head_group_spec.template.get("spec") or {}).get("containers") or []
    declared = containers[c.RAY_CONTAINER_INDEX].get("ports") if containers else None
    ports: dict[str, int] = {}
    for port in declared or ():
        number = port.get("containerPort") if isinstance(port, Mapping) else None
        if isinstance(number, int) and not isinstance(number, bool):
            ports[port.get("name") or f"{number}-port"] = number
    if not ports:
        ports = dict(_DEFAULT_PORTS)
    ports.setdefault(c.METRICS_PORT_NAME, c.DEFAULT_METRICS_PORT)
    return ports


def _service_ports(ports: Mapping[str, int], *, app_protocol: bool) -> list[dict[str, Any]]:
    result = []
    for name in sorted(ports):
        entry: dict[str, Any] = {"name": name, "port": ports[name]}
        if app_protocol:
            entry["appProtocol"] = c.DEFAULT_SERVICE_APP_PROTOCOL
        result.append(entry)
    return result


def _custom_head_service(
    cluster: RayCluster, custom: Mapping[str, Any], *, selector: dict[str, str], ray_ports: list[dict[str, Any]]
) -> dict[str, Any]:
    ref = cluster_ref(cluster)
    source = copy.deepcopy(dict(custom))
    raw_meta, raw_spec = source.get("metadata"), source.get("spec")
    user_meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    annotations = dict(user_meta.get("annotations") or {})
    annotations.update(cluster.spec.head_service_annotations or {})
    labels = dict(user_meta.get("labels") or {})
    labels.update(selector)
    user_ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
    taken_names = {p.get("name") for p in user_ports}
    taken_numbers = {p.get("port") for p in user_ports}
    spec["ports"] = user_ports + [
        p for p in ray_ports if p["name"] not in taken_names and p["port"] not in taken_numbers
    ]
    spec["selector"] = dict(selector)
    spec.setdefault("type", cluster.spec.head_group_spec.service_type or "ClusterIP")
    metadata: dict[str, Any] = {
        "name": head_service_name(cluster),
        "namespace": ref.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(ref)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def build_head_service(*, cluster: RayCluster, config: BuildConfig) -> dict[str, Any]:
    """The desired head Service."""
    ref = cluster_ref(cluster)
    head = cluster.spec.head_group_spec
    selector = _head_selector(cluster)
    ports = _service_ports(head_service_ports(cluster), app_protocol=True)
    if isinstance(head.head_service, Mapping):
        return _custom_head_service(cluster, head.head_service, selector=selector, ray_ports=ports)
    service_type = head.service_type or "ClusterIP"
    spec: dict[str, Any] = {"type": service_type, "selector": selector, "ports": ports}
    if service_type == "ClusterIP" and not config.enable_head_cluster_ip_service:
        spec["clusterIP"] = "None"
        spec["publishNotReadyAddresses"] = True
    metadata: dict[str, Any] = {
        "name": head_service_name(cluster),
        "namespace": ref.namespace,
        "labels": dict(selector),
        "ownerReferences": [owner_reference(ref)],
    }
    if cluster.spec.head_service_annotations:
        metadata["annotations"] = dict(cluster.spec.head_service_annotations)
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def build_headless_worker_service(cluster: RayCluster) -> dict[str, Any] | None:
    """``<cluster>-headless`` for peer discovery between multi-host workers, or None when no group needs it."""
    if not any(effective_num_of_hosts(group) > 1 for group in cluster.spec.worker_group_specs or ()):
        return None
    ref = cluster_ref(cluster)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{ref.name}{c.HEADLESS_WORKER_SERVICE_SUFFIX}",
            "namespace": ref.namespace,
            "labels": {c.RAY_HEADLESS_WORKER_SVC_LABEL: ref.name},
            "ownerReferences": [owner_reference(ref)],
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "selector": {c.RAY_CLUSTER_LABEL: ref.name, c.RAY_NODE_TYPE_LABEL: str(c.NodeType.WORKER)},
            # Peers must find each other while they start, before any readiness.
            "publishNotReadyAddresses": True,
        },
    }


def build_serve_service(cluster: RayCluster) -> dict[str, Any] | None:
    """``<cluster>-serve-svc`` when the cluster asks for it; ValueError when the head has no serve port."""
    annotations = cluster.metadata.get("annotations")
    enabled = isinstance(annotations, Mapping) and annotations.get(c.RAY_ENABLE_SERVE_SERVICE_ANNOTATION) == "true"
    if not enabled:
        return None
    ref = cluster_ref(cluster)
    serving = {
        name: number
        for name, number in head_service_ports(cluster).items()
        if name == c.SERVING_PORT_NAME or name.startswith(c.SERVING_PORT_NAME + "-")
    }
    if not serving:
        raise ValueError(
            f"{c.RAY_ENABLE_SERVE_SERVICE_ANNOTATION} is true but the head container has no port named "
            f"'{c.SERVING_PORT_NAME}' (or '{c.SERVING_PORT_NAME}-<protocol>'): add one to "
            "spec.headGroupSpec.template.spec.containers[0].ports"
        )
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{ref.name}{c.SERVE_SERVICE_SUFFIX}",
            "namespace": ref.namespace,
            "labels": {
                c.RAY_ORIGINATED_FROM_CR_NAME_LABEL: ref.name,
                c.RAY_ORIGINATED_FROM_CRD_LABEL: c.ORIGINATED_FROM_RAYCLUSTER,
                c.RAY_SERVE_LABEL: f"{ref.name}-serve",
            },
            "ownerReferences": [owner_reference(ref)],
        },
        "spec": {
            "type": cluster.spec.head_group_spec.service_type or "ClusterIP",
            "selector": {c.RAY_CLUSTER_LABEL: ref.name},
            "ports": _service_ports(serving, app_protocol=False),
        },
    }


def _is_headless(spec: Mapping[str, Any]) -> bool:
    return spec.get("clusterIP") == "None"


def service_needs_recreate(*, live: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when live and desired disagree on being headless: ``clusterIP`` cannot change in place."""
    return _is_headless(live.get("spec") or {}) != _is_headless(desired.get("spec") or {})


def _ports_with_allocations(desired: list[dict[str, Any]], live: list[Any], service_type: Any) -> list[dict[str, Any]]:
    """The desired ports, keeping the nodePort the server allocated to a port of the same name and number."""
    if service_type not in ("NodePort", "LoadBalancer"):
        return copy.deepcopy(desired)
    allocated = {
        (p.get("name"), p.get("port")): p["nodePort"] for p in live if isinstance(p, Mapping) and p.get("nodePort")
    }
    result = []
    for port in desired:
        entry = copy.deepcopy(port)
        key = (entry.get("name"), entry.get("port"))
        if "nodePort" not in entry and key in allocated:
            entry["nodePort"] = allocated[key]
        result.append(entry)
    return result


def service_merge_patch(*, live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON merge patch that brings ``live`` to ``desired``, or None when it is in sync.

    Compared: labels and annotations (desired entries only), the selector (exactly), and every spec
    field the desired Service sets (ports, type, publishNotReadyAddresses, and whatever a custom
    headService sets), with server-filled values ignored. ``clusterIP`` is never patched: see
    ``service_needs_recreate``.
    """
    live_meta = live.get("metadata") or {}
    want_meta = desired.get("metadata") or {}
    patch: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for key in ("labels", "annotations"):
        entries = drift.map_patch(live_meta.get(key), want_meta.get(key))
        if entries:
            metadata[key] = entries
    if metadata:
        patch["metadata"] = metadata

    live_spec = live.get("spec") or {}
    want_spec = desired.get("spec") or {}
    spec: dict[str, Any] = {}
    for key, want in want_spec.items():
        if key in _UNPATCHABLE_SPEC_FIELDS:
            continue
        have = live_spec.get(key)
        if key == "selector":
            selector = drift.replace_map_patch(have, want)
            if selector:
                spec[key] = selector
        elif key == "ports":
            if not drift.contains(have, want):
                spec[key] = _ports_with_allocations(want, have or [], want_spec.get("type", live_spec.get("type")))
        elif key == "type":
            if (have or "ClusterIP") != want:
                spec[key] = want
        elif not drift.contains(have, want):
            spec[key] = copy.deepcopy(want)
    if spec:
        patch["spec"] = spec
    return patch or None
