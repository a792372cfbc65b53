"""One request as admission sees it, and the helpers every part of the chain reads configurations with.

``AdmissionAttributes`` is upstream's ``admission.Attributes``: operation, resource, sub-resource,
namespace, name, the new and old objects, dry-run, the request options and the user. An error raised
after some webhooks warned carries their warnings (``AdmissionError.warnings``) so the server can
still send ``Warning`` headers, as upstream does. ``as_version`` is the CRD ``None`` conversion a
webhook asking for another served version gets (only ``apiVersion`` changes).
Decided against: a JSON-schema model of the configurations; raw dicts are read defensively
(``as_str``, ``as_mapping``), so a malformed stored configuration becomes a call failure, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.resources import ResourceType

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


@dataclass(frozen=True, kw_only=True)
class AdmissionAttributes:
    """One request as admission sees it (``admission.Attributes``)."""

    operation: str
    """``CREATE`` | ``UPDATE`` | ``DELETE`` | ``CONNECT``."""
    rt: ResourceType
    sub_resource: str
    namespace: str
    """The request's namespace; for a Namespace object itself, its name (or ``""`` on create)."""
    name: str
    """Empty on CREATE with ``generateName``."""
    obj: dict[str, Any] | None
    old_obj: dict[str, Any] | None
    dry_run: bool
    options: dict[str, Any]
    """CreateOptions/UpdateOptions/DeleteOptions fields (``fieldManager``, ``dryRun``…)."""
    user_info: dict[str, Any]
    """``username``, ``uid``, ``groups``, ``extra``."""


def with_object(attrs: AdmissionAttributes, obj: dict[str, Any] | None) -> AdmissionAttributes:
    if obj is attrs.obj:
        return attrs
    return AdmissionAttributes(
        operation=attrs.operation,
        rt=attrs.rt,
        sub_resource=attrs.sub_resource,
        namespace=attrs.namespace,
        name=attrs.name,
        obj=obj,
        old_obj=attrs.old_obj,
        dry_run=attrs.dry_run,
        options=attrs.options,
        user_info=attrs.user_info,
    )


class AdmissionError(errors.ApiError):
    """An admission failure; ``warnings`` were collected from webhooks before it happened."""

    def __init__(self, base: errors.ApiError, *, warnings: Iterable[str] = ()) -> None:
        super().__init__(
            code=base.code, reason=base.reason, message=base.message, details=base.details, headers=base.headers
        )
        self.warnings = list(warnings)


def as_version(obj: dict[str, Any] | None, rt: ResourceType) -> dict[str, Any] | None:
    """``obj`` converted to ``rt``'s version (the CRD ``None`` conversion strategy: only apiVersion changes)."""
    if obj is None or obj.get("apiVersion") in (None, rt.api_version):
        return obj
    converted = dict(obj)
    converted["apiVersion"] = rt.api_version
    return converted


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
