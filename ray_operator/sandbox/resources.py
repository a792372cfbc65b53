"""What the emulator knows about each served resource type, and which types are served right now.

One frozen record per (group, version, resource) instead of ad-hoc dicts, so that discovery,
OpenAPI, Table rendering and admission matching all read the same facts; the ``Registry`` holds them
(built-in types fixed at start, CRD types added and removed while the server runs) with a
``generation`` counter that lets the OpenAPI documents be cached until the next change. Built-in types carry no
schema here (their OpenAPI definitions are looked up by GVK); custom resources carry the CRD
version's ``openAPIV3Schema`` and printer columns. Versions sort by Kubernetes priority (``sort_versions``),
as discovery lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, kw_only=True)
class ResourceType:
    group: str
    """API group; ``""`` for the core group."""
    version: str
    resource: str
    """Plural lower-case name used in URLs, e.g. ``rayclusters``."""
    kind: str
    singular: str
    namespaced: bool
    list_kind: str
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    """Served subresources, e.g. ``("status",)``."""
    is_custom: bool = False
    """True for resources served from a CustomResourceDefinition."""
    schema: dict[str, Any] | None = None
    """The CRD version's ``openAPIV3Schema`` (custom resources only)."""
    printer_columns: tuple[dict[str, Any], ...] = ()
    """The CRD version's ``additionalPrinterColumns`` (custom resources only)."""
    storage: bool = True
    deprecated: bool = False
    deprecation_warning: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``rayclusters.ray.io``, or ``pods`` in the core group (as error messages print it)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def deprecation_warnings(self) -> list[str]:
        """The ``Warning`` texts every request through this version answers with (none unless deprecated)."""
        return [self.deprecation_warning] if self.deprecated and self.deprecation_warning else []

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


def _version_priority(name: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first; other names last."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", name)
    if not m:
        return (0, 0, 0)
    level = {"alpha": 1, "beta": 2, None: 3}[m.group(2)]
    return (level, int(m.group(1)), int(m.group(3) or 0))


def sort_versions(names: list[str]) -> list[str]:
    """Version names in Kubernetes priority order (``v1``, ``v1beta2``, ``v1beta1``, ``v1alpha1``, then others)."""
    return sorted(names, key=lambda n: (_version_priority(n), n), reverse=True)


class Registry:
    def __init__(self, builtin: list[ResourceType]) -> None:
        self._builtin = list(builtin)
        self._crds: dict[str, list[ResourceType]] = {}
        self.generation = 0
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        """(group, version, resource) → type, rebuilt on every change: every request looks its type up here."""
        self._storage: dict[tuple[str, str], ResourceType] = {}
        """(group, resource) → its storage version's type (the first served one when none is marked storage)."""
        self._reindex()

    def _reindex(self) -> None:
        self._by_path = {}
        self._storage = {}
        for rt in self.all():
            self._by_path.setdefault((rt.group, rt.version, rt.resource), rt)
            chosen = self._storage.get((rt.group, rt.resource))
            if chosen is None or (rt.storage and not chosen.storage):
                self._storage[(rt.group, rt.resource)] = rt

    def _changed(self) -> None:
        self.generation += 1
        self._reindex()

    def set_crd(self, name: str, types: list[ResourceType]) -> None:
        if self._crds.get(name) != types:
            self._crds[name] = types
            self._changed()

    def remove_crd(self, name: str) -> None:
        if self._crds.pop(name, None) is not None:
            self._changed()

    def crd_types(self, name: str) -> list[ResourceType]:
        return list(self._crds.get(name, ()))

    def reset_crds(self) -> None:
        if self._crds:
            self._crds.clear()
            self._changed()

    def all(self) -> list[ResourceType]:
        out = list(self._builtin)
        for name in sorted(self._crds):
            out.extend(self._crds[name])
        return out

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_path.get((group, version, resource))

    def storage_type(self, group: str, resource: str) -> ResourceType | None:
        """The type objects stored under ``(group, resource)`` are kept as (what the GC writes them with)."""
        return self._storage.get((group, resource))

    def group_versions(self) -> dict[str, list[str]]:
        """Group → served versions, preferred first; the core group is ``""``."""
        found: dict[str, list[str]] = {}
        for rt in self.all():
            versions = found.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return {g: sort_versions(v) for g, v in found.items()}

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self.all() if rt.group == group and rt.version == version]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self.all():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None
