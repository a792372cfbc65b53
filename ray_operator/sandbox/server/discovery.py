"""The discovery documents kubectl and client libraries read first, built from the served types.

Built-in types are fixed at start; CRDs add and remove types while the server runs, so discovery
(legacy ``APIGroupList``/``APIResourceList`` and aggregated ``APIGroupDiscoveryList``) is rebuilt from
the registry (``resources.Registry``) on every request, never cached. Group order: the core group,
then built-in groups, then CRD groups; within a group the versions follow Kubernetes version priority.
Subresources are listed as upstream lists them (``pods/status``, ``pods/binding``).
Decided against: caching discovery documents, whose staleness would hide CRD changes from kubectl.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ray_operator.sandbox.resources import Registry, ResourceType

STATUS_VERBS = ["get", "patch", "update"]


def storage_version_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.extra.get('storage_version', rt.version)}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _api_resource(rt: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rt.resource,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
        "storageVersionHash": storage_version_hash(rt),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    out = [entry]
    for sub in rt.subresources:
        if sub == "status":
            out.append(
                {
                    "name": f"{rt.resource}/status",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": STATUS_VERBS,
                }
            )
        elif sub == "binding":
            out.append(
                {
                    "name": f"{rt.resource}/binding",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Binding",
                    "verbs": ["create"],
                }
            )
        elif sub == "token":  # TokenRequest (sandbox/auth)
            out.append(
                {
                    "name": f"{rt.resource}/token",
                    "singularName": "",
                    "namespaced": True,
                    "group": "authentication.k8s.io",
                    "version": "v1",
                    "kind": "TokenRequest",
                    "verbs": ["create"],
                }
            )
    return out


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for rt in types for entry in _api_resource(rt)],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = registry.group_versions().get(group)
    if not versions or not group:
        return None
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = []
    for group in registry.group_versions():
        doc = api_group(registry, group)
        if doc is not None:
            doc.pop("kind")
            doc.pop("apiVersion")
            groups.append(doc)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _discovery_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.resource,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in rt.subresources:
        if sub == "status":
            subs.append(
                {
                    "subresource": "status",
                    "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                    "verbs": STATUS_VERBS,
                }
            )
        elif sub == "binding":
            subs.append(
                {
                    "subresource": "binding",
                    "responseKind": {"group": "", "version": "v1", "kind": "Binding"},
                    "verbs": ["create"],
                }
            )
        elif sub == "token":  # TokenRequest (sandbox/auth)
            subs.append(
                {
                    "subresource": "token",
                    "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"},
                    "verbs": ["create"],
                }
            )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated_discovery(registry: Registry, *, core: bool, version: str = "v2") -> dict[str, Any]:
    """``APIGroupDiscoveryList`` for ``/api`` (core) or ``/apis`` (every named group)."""
    items = []
    for group, versions in registry.group_versions().items():
        if (group == "") != core:
            continue
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [_discovery_resource(rt) for rt in registry.in_group_version(group, v)],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
