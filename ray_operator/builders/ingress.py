"""The dashboard Ingress of ``headGroupSpec.enableIngress`` and its drift (reference §2.5).

Why: users expose the dashboard (port 8265) through their ingress controller. KubeRay's shape,
kept: name ``check_name(<cluster>-head-ingress)``; labels ``ray.io/cluster``, ``ray.io/identifier``
(head) and the two ``app.kubernetes.io`` labels; ``ingressClassName`` from the RayCluster annotation
``kubernetes.io/ingress.class``; one rule with ``ingressOptions.host`` (any host when unset), path
(default ``/``), pathType (default ``Prefix``) and the head Service's ``dashboard`` port (default
8265) as backend; TLS from ``ingressOptions.tls``.

Annotations — better than KubeRay (§7.9): KubeRay copies *every* RayCluster annotation onto the
Ingress (``kubectl.kubernetes.io/last-applied-configuration``, ``ray.io/*`` switches, anything), so
the Ingress carries the whole applied manifest and unrelated tools' annotations. Here only
annotations meant for an ingress controller are copied: keys that mention ``ingress`` (controller
prefixes such as ``nginx.ingress.kubernetes.io/``, ``alb.ingress.kubernetes.io/``,
``traefik.ingress.kubernetes.io/``, ``haproxy-ingress.github.io/`` and GKE's
``kubernetes.io/ingress.global-static-ip-name``), ``kubernetes.io/tls-acme``, and the prefixes of
controllers and companions whose names lack the word (``cert-manager.io/``, ``acme.cert-manager.io/``,
``external-dns.alpha.kubernetes.io/``, ``networking.gke.io/``, ``konghq.com/``, ``projectcontour.io/``,
``haproxy.org/``). ``kubernetes.io/ingress.class`` becomes ``ingressClassName`` instead (setting both
is refused by the API server).

Drift: labels are compared entry by entry; annotations too, and an ingress-controller annotation
that was removed from the RayCluster is removed from the Ingress (the filter defines the key space
the operator owns); rules and TLS must match (TLS is dropped when no longer wanted); when the
desired Ingress names no class, the live one's is kept (the DefaultIngressClass admission plugin may
have set it). The caller must leave an Ingress that this cluster does not own alone (``names.owned_by``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders import drift
from ray_operator.builders.names import check_name, cluster_ref, head_identifier, head_service_name, owner_reference
from ray_operator.builders.services import head_service_ports

__all__ = ["build_head_ingress", "ingress_annotations", "ingress_merge_patch", "is_ingress_annotation"]


def is_ingress_annotation(key: str) -> bool:
    """Whether a RayCluster annotation is meant for the dashboard Ingress (rule in the module docstring)."""
    if key == c.INGRESS_CLASS_ANNOTATION:
        return False
    if "ingress" in key.lower() or key == c.TLS_ACME_ANNOTATION:
        return True
    prefix, slash, _ = key.partition("/")
    return bool(slash) and prefix in c.INGRESS_COMPANION_ANNOTATION_PREFIXES


def ingress_annotations(cluster: RayCluster) -> dict[str, str]:
    annotations = cluster.metadata.get("annotations")
    if not isinstance(annotations, Mapping):
        return {}
    return {k: v for k, v in annotations.items() if isinstance(v, str) and is_ingress_annotation(k)}


def build_head_ingress(cluster: RayCluster) -> dict[str, Any] | None:
    """The dashboard Ingress, or None unless ``headGroupSpec.enableIngress`` is true."""
    head = cluster.spec.head_group_spec
    if head.enable_ingress is not True:
        return None
    ref = cluster_ref(cluster)
    options = head.ingress_options
    rule: dict[str, Any] = {
        "http": {
            "paths": [
                {
                    "path": (options.path if options is not None and options.path is not None else "/"),
                    "pathType": (options.path_type if options is not None and options.path_type else "Prefix"),
                    "backend": {
                        "service": {
                            "name": head_service_name(cluster),
                            "port": {
                                "number": head_service_ports(cluster).get(
                                    c.DASHBOARD_PORT_NAME, c.DEFAULT_DASHBOARD_PORT
                                )
                            },
                        }
                    },
                }
            ]
        }
    }
    if options is not None and options.host is not None:
        rule["host"] = options.host
    spec: dict[str, Any] = {"rules": [rule]}
    if options is not None and options.tls:
        spec["tls"] = copy.deepcopy(options.tls)
    cluster_annotations = cluster.metadata.get("annotations")
    if isinstance(cluster_annotations, Mapping):
        ingress_class = cluster_annotations.get(c.INGRESS_CLASS_ANNOTATION)
        if isinstance(ingress_class, str):
            spec["ingressClassName"] = ingress_class
    metadata: dict[str, Any] = {
        "name": check_name(f"{ref.name}{c.HEAD_INGRESS_SUFFIX}"),
        "namespace": ref.namespace,
        "labels": {
            c.RAY_CLUSTER_LABEL: ref.name,
            c.RAY_IDENTIFIER_LABEL: head_identifier(ref.name),
            c.KUBERNETES_APP_NAME_LABEL: c.APPLICATION_NAME,
            c.KUBERNETES_CREATED_BY_LABEL: c.COMPONENT_NAME,
        },
        "ownerReferences": [owner_reference(ref)],
    }
    annotations = ingress_annotations(cluster)
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def ingress_merge_patch(*, live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON merge patch that brings a live Ingress this cluster owns to ``desired``; None when in sync."""
    live_meta = live.get("metadata") or {}
    want_meta = desired.get("metadata") or {}
    patch: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    labels = drift.map_patch(live_meta.get("labels"), want_meta.get("labels"))
    if labels:
        metadata["labels"] = labels
    annotations = drift.owned_map_patch(
        live_meta.get("annotations"), want_meta.get("annotations") or {}, owned=is_ingress_annotation
    )
    if annotations:
        metadata["annotations"] = annotations
    if metadata:
        patch["metadata"] = metadata

    live_spec = live.get("spec") or {}
    want_spec = desired.get("spec") or {}
    spec: dict[str, Any] = {}
    if "ingressClassName" in want_spec and live_spec.get("ingressClassName") != want_spec["ingressClassName"]:
        spec["ingressClassName"] = want_spec["ingressClassName"]
    if not drift.contains(live_spec.get("rules"), want_spec.get("rules")):
        spec["rules"] = copy.deepcopy(want_spec.get("rules"))
    if "tls" in want_spec:
        if not drift.contains(live_spec.get("tls"), want_spec["tls"]):
            spec["tls"] = copy.deepcopy(want_spec["tls"])
    elif live_spec.get("tls"):
        spec["tls"] = None
    if spec:
        patch["spec"] = spec
    return patch or None
