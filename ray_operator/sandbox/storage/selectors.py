"""Label and field selectors of list and watch requests, answered as the real server answers them.

The operator lists pods and services by ``ray.io/*`` labels and kubectl waits with
``fieldSelector=metadata.name=<n>``, so both must behave like the real server. Label selectors are
parsed and matched by ``ray_operator.apimachinery.selectors`` (the full grammar: ``=``, ``==``, ``!=``,
``in``, ``notin``, ``key``, ``!key``, ``<``, ``>``); this module only turns their errors into a 400.
Field selectors support only the fields the real server indexes for each resource; any other field is a
400 ``field label not supported``, as it is upstream.
Decided against: indexes for field selectors; a list scans the objects of one resource, which is exact
and fast enough for sandbox-sized stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.apimachinery import selectors
from ray_operator.apimachinery.selectors import LabelSelector
from ray_operator.sandbox import errors

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "field_value",
    "parse_field_selector",
    "parse_label_selector",
]


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query value; a bad one is the API server's 400 with apimachinery's text."""
    try:
        return selectors.parse_label_selector(text)
    except selectors.SelectorError as exc:
        raise errors.bad_request(str(exc)) from None


# ---------------------------------------------------------------------------------------------- fields

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "events"): (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("", "nodes"): ("spec.unschedulable",),
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((field_value(obj, r.field) == r.value) == r.equal for r in self.requirements)

    def exact_name(self) -> str | None:
        for r in self.requirements:
            if r.field == "metadata.name" and r.equal:
                return r.value
        return None


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """A field's value rendered as the field-selector index renders it (missing → empty string)."""
    if path == "source" and "source" in obj:
        source = obj.get("source") or {}
        return str(source.get("component", "")) if isinstance(source, Mapping) else ""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(text: str | None, *, group: str, resource: str, namespaced: bool) -> FieldSelector:
    """Parse ``fieldSelector``; unsupported fields are a 400 as on the real server."""
    if not text or not text.strip():
        return FieldSelector()
    allowed = set(_COMMON_FIELDS if namespaced else ("metadata.name",)) | set(_EXTRA_FIELDS.get((group, resource), ()))
    requirements: list[FieldRequirement] = []
    for part in _split_unescaped(text):
        part = part.strip()
        if not part:
            continue
        for op, is_equal in (("!=", False), ("==", True), ("=", True)):
            idx = part.find(op)
            if idx > 0:
                field, value, equal = part[:idx].strip(), part[idx + len(op) :].strip(), is_equal
                break
        else:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        if field not in allowed:
            raise errors.bad_request(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, equal, value.replace("\\,", ",").replace("\\=", "=")))
    return FieldSelector(tuple(requirements))


def _split_unescaped(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts
