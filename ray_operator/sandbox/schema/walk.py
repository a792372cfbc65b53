"""Defensive accessors for ``openAPIV3Schema`` nodes, shared by the pruning, validation and structural walkers.

A stored CRD schema is user input: a ``properties`` that is not an object, or an ``items`` list, must
not crash a walker; each accessor answers "nothing there" instead, and the structural check reports
such schemas when the CRD is written. The walkers recurse with the schema, so a pathologically deep
object or schema is a 400 (``too_deep``), never a ``RecursionError`` escaping into the server.
Decided against: a typed model of schemas (pydantic), which would refuse the very schemas the
structural check exists to report with upstream's texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.sandbox import errors

Schema = Mapping[str, Any]

ABSENT: Any = object()
"""A field that is not there (distinct from JSON null), e.g. no old value on CREATE."""


def props(schema: Schema) -> Mapping[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else {}


def additional(schema: Schema) -> Schema | None:
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def items(schema: Schema) -> Schema | None:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else None


def preserves(schema: Schema) -> bool:
    return schema.get("x-kubernetes-preserve-unknown-fields") is True


def too_deep() -> errors.ApiError:
    return errors.bad_request("the object is nested too deeply to be checked against its schema")


def key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
