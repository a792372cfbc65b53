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
    """Walk dicts and lists; None as soon as a step does not exist or has the wrong type."""
    for key in keys:
        if isinstance(key, int):
            items = as_list(obj)
            if items is None or not -len(items) <= key < len(items):
                return None
            obj = items[key]
        else:
            mapping = as_dict(obj)
            if mapping is None:
                return None
            obj = mapping.get(key)
    return obj


def str_map(value: Any) -> dict[str, str]:
    """The string-valued entries of a map (others are reported by parsing)."""
    mapping = as_dict(value) or {}
    return {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)}


def containers_of(template: Any) -> list[Mapping[str, Any]]:
    return [item for item in (as_list(get_in(template, "spec", "containers")) or []) if isinstance(item, Mapping)]


def env_entries(container: Any) -> Iterator[tuple[int, str, Any]]:
    """(index, name, value) of each well-formed env entry of a container."""
    for index, entry in enumerate(as_list(get_in(container, "env")) or []):
        name = as_str(get_in(entry, "name"))
        if name is not None:
            yield index, name, get_in(entry, "value")
