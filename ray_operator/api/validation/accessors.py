"""Type-checking accessors over the raw RayCluster dict, shared by every rule module.

Why: the rules run on the raw object, not the parsed model, so that they still report every problem
when some other field failed to parse. Each accessor returns ``None`` (or empty) for a value of the
wrong type instead of raising; the parse errors already name that field.

Decided against: running the rules on the pydantic model (one type error anywhere would hide every
semantic error) and ``isinstance`` checks spelled out in each rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def as_dict(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, dict):  # parsed JSON: skip the slow abstract-base-class check
        return value
    if value is None:  # an absent field, the next most common case: no ABC check either
        return None
    return value if isinstance(value, Mapping) else None


def as_list(value: Any) -> list[Any] | None:
    return value if isinstance(value, list) else None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def get_in(obj: Any, *keys: str | int) -> Any:
    """Walk dicts and lists; None as soon as a step does not exist or has the wrong type.

    The hottest function of validation (dozens of calls per admission), so the type checks are
    inlined rather than made through ``as_list``/``as_dict``.
    """
    for key in keys:
        if obj is None:  # an absent step: most misses end here, before any abstract-base-class check
            return None
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
            obj = obj[key]
        elif isinstance(obj, (dict, Mapping)):
            obj = obj.get(key)
        else:
            return None
    return obj


def str_map(value: Any) -> dict[str, str]:
    """The string-valued entries of a map (others are reported by parsing)."""
    mapping = as_dict(value)
    if not mapping:
        return {}
    return {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)}


def containers_of(template: Any) -> list[Mapping[str, Any]]:
    items = get_in(template, "spec", "containers")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, (dict, Mapping))]


def env_entries(container: Any) -> Iterator[tuple[int, str, Any]]:
    """(index, name, value) of each well-formed env entry of a container."""
    entries = get_in(container, "env")
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if isinstance(entry, (dict, Mapping)):
            name = entry.get("name")
            if isinstance(name, str):
                yield index, name, entry.get("value")
