"""What the emulator knows about one served resource type, shared by routing, schemas, tables and admission.

One frozen record per (group, version, resource) instead of ad-hoc dicts, so that discovery,
OpenAPI, Table rendering and admission matching all read the same facts. Built-in types carry no
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
