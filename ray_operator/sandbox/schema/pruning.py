"""Pruning and defaulting of custom resources: the first two of apiextensions-apiserver's three steps.

``prune`` drops the fields the schema does not know and returns their paths, so that kubectl's
``fieldValidation`` turns them into ``unknown field "spec.foo"`` errors or warnings; at the resource
root and under ``x-kubernetes-embedded-resource`` only ObjectMeta fields survive in ``metadata``, and
``x-kubernetes-preserve-unknown-fields`` keeps unknown fields at its level. ``apply_defaults`` sets
``default:`` values top-down, only under a parent that exists, as the real server does after pruning.
Both return copies: the caller's object is never changed.
Decided against: pruning and defaulting in the validator's walk (the real server orders them as three
passes, and a defaulted value must itself be validated).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ray_operator.sandbox.schema import walk
from ray_operator.sandbox.schema.walk import Schema

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
"""The fields of ``metav1.ObjectMeta`` kept in ``metadata`` of a custom resource (and embedded resources)."""

_RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")


# -- pruning -------------------------------------------------------------------------------------


def prune(obj: dict[str, Any], schema: Schema) -> tuple[dict[str, Any], list[str]]:
    """A pruned copy of ``obj`` and the sorted paths of the dropped fields (``spec.workerGroupSpecs[0].bar``).

    At the resource root and under ``x-kubernetes-embedded-resource``, ``apiVersion``/``kind`` are kept
    and ``metadata`` keeps only ObjectMeta fields; ``x-kubernetes-preserve-unknown-fields`` keeps unknown
    fields at its level while known ones are still pruned below.
    """
    unknown: list[str] = []
    try:
        out = copy.deepcopy(obj)
        _prune(out, schema, path="", resource=True, unknown=unknown)
    except RecursionError as exc:
        raise walk.too_deep() from exc
    return out, sorted(unknown)


def _prune_metadata(meta: Any, path: str, unknown: list[str]) -> None:
    if not isinstance(meta, dict):
        return
    for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
        unknown.append(walk.key_path(path, key))
        del meta[key]


def _prune(value: Any, schema: Schema | None, *, path: str, resource: bool, unknown: list[str]) -> None:
    if not isinstance(schema, Mapping):
        schema = None
    if isinstance(value, list):
        items = walk.items(schema) if schema else None
        for index, item in enumerate(value):
            if items is not None or isinstance(item, dict | list):
                _prune(item, items, path=f"{path}[{index}]", resource=False, unknown=unknown)
        return
    if not isinstance(value, dict):
        return
    schema = schema or {}
    embedded = resource or schema.get("x-kubernetes-embedded-resource") is True
    keep_unknown = walk.preserves(schema)
    props = walk.props(schema)
    extra = schema.get("additionalProperties")
    for key in list(value):
        child_path = walk.key_path(path, key)
        if embedded and key in _RESOURCE_FIELDS:
            if key == "metadata":
                _prune_metadata(value[key], child_path, unknown)
            continue
        if key in props:
            _prune(value[key], props[key], path=child_path, resource=False, unknown=unknown)
        elif isinstance(extra, Mapping):
            _prune(value[key], extra, path=child_path, resource=False, unknown=unknown)
        elif extra is True or keep_unknown:
            continue
        else:
            unknown.append(child_path)
            del value[key]


# -- defaulting ----------------------------------------------------------------------------------


def apply_defaults(obj: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """A copy of ``obj`` with ``default:`` values set on absent (or non-nullable null) fields, top-down."""
    try:
        out = copy.deepcopy(obj)
        _default(out, schema)
    except RecursionError as exc:
        raise walk.too_deep() from exc
    return out


def _default(value: Any, schema: Schema) -> None:
    if not isinstance(schema, Mapping):
        return
    if isinstance(value, dict):
        props = walk.props(schema)
        for key, sub in props.items():
            if not isinstance(sub, Mapping) or "default" not in sub:
                continue
            if key not in value or (value[key] is None and not sub.get("nullable")):
                value[key] = copy.deepcopy(sub["default"])
        extra = walk.additional(schema)
        for key, child in value.items():
            sub = props.get(key)
            if isinstance(sub, Mapping):
                _default(child, sub)
            elif extra is not None:
                _default(child, extra)
    elif isinstance(value, list):
        items = walk.items(schema)
        if items is not None:
            for item in value:
                if item is None and "default" in items and not items.get("nullable"):
                    continue
                _default(item, items)
