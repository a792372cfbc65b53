"""What every Table printer shares: column definitions, kubectl's age texts, and safe reads of stored objects.

A printer must never fail a ``kubectl get`` because one stored object is odd, so the accessors here
answer a neutral value (``""``, ``0``, ``[]``) for anything missing or of the wrong type; ages are
kubectl's ``HumanDuration`` of the server clock (``<unknown>`` without a timestamp, ``<invalid>`` in
the future), and column descriptions are taken from the vendored ObjectMeta definitions, as
kube-apiserver takes them from its OpenAPI.
Decided against: per-printer validation of the objects (printing is best effort, as upstream's is).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ray_operator.sandbox.schema.definitions import load_definitions

Obj = Mapping[str, Any]


Cells = list[Any]


PrinterFn = Callable[[Obj, datetime], Cells]


def meta_description(field: str) -> str:
    props = load_definitions().get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", {}).get("properties", {})
    return str(props.get(field, {}).get("description", ""))


def define_column(
    name: str, type_: str = "string", description: str = "", *, priority: int = 0, format_: str = ""
) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": format_, "description": description, "priority": priority}


def name_column() -> dict[str, Any]:
    return define_column("Name", "string", meta_description("name"), format_="name")


def age_column(type_: str = "string") -> dict[str, Any]:
    return define_column("Age", type_, meta_description("creationTimestamp"))


def named(*columns: dict[str, Any]) -> list[dict[str, Any]]:
    return [name_column(), *columns]


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """kubectl's ``HumanDuration``: ``45s``, ``5m12s``, ``3h20m``, ``3d4h``, ``2y30d``…"""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any, now: datetime) -> str:
    """The age column text: ``<unknown>`` when the timestamp is missing, ``<invalid>`` in the future."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def rfc3339(timestamp: Any) -> str:
    when = parse_time(timestamp)
    if when is None:
        return "0001-01-01T00:00:00Z"
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata_of(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def path_get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def as_int(value: Any) -> int:
    """A count from a stored object; anything that is not a finite number counts as 0 (never crash a get)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return int(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def simple(*extra: Callable[[Obj], Any]) -> PrinterFn:
    def cells(obj: Obj, now: datetime) -> Cells:
        return [
            metadata_of(obj).get("name", ""),
            *(fn(obj) for fn in extra),
            age(metadata_of(obj).get("creationTimestamp"), now),
        ]

    return cells


CREATED_AT = define_column("Created At", "date", meta_description("creationTimestamp"))


def created_at(obj: Obj, now: datetime) -> Cells:
    return [metadata_of(obj).get("name", ""), rfc3339(metadata_of(obj).get("creationTimestamp"))]
