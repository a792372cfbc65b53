"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a basic server-side apply, as pure functions.

Merge patch is written here (twenty lines, and ``null`` must delete exactly as the API server does)
rather than taken from a package; JSON patch uses ``jsonpatch`` with its failures mapped to the 422 the
API server answers, applied one operation at a time so that a ``replace`` of a missing object member
can act as ``add`` (the API server's library does that; clients such as the Ray autoscaler rely on
it). Strategic merge patch belongs to ``schema/smp.py``.

Server-side apply is deliberately basic: the fields a manager applied are recorded as a FieldsV1-like set
in ``metadata.managedFields`` (lists count as one leaf, which is coarser than the real structured-merge
diff); a re-apply removes the fields the manager applied last time and no longer applies, and merges
the rest (maps recursively, lists replaced whole). Conflicts between managers live in ``storage/managedfields.py``.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from ray_operator.sandbox import errors, limits


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, ``null`` deletes, anything else (lists included) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _merge_into(copy.deepcopy(target) if isinstance(target, dict) else {}, patch)


def _merge_into(result: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into ``result``, which the caller owns (copied once, not again at every level)."""
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = _merge_into(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """RFC 6902; a body that is not a list is a 400, a failing operation is a 422 with the reason."""
    if not isinstance(operations, list):
        kind = "object" if isinstance(operations, dict) else type(operations).__name__
        raise errors.bad_request(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    for index, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op:
            raise errors.bad_request(
                f"the server rejected our request due to an error in our request: operation {index}"
            )
    try:
        result: Any = copy.deepcopy(document)
        for op in operations:
            result = jsonpatch.apply_patch(result, [_replace_missing_as_add(result, op)], in_place=True)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise errors.ApiError(code=422, reason="Invalid", message=f"the server rejected our request: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise errors.ApiError(code=422, reason="Invalid", message=str(exc)) from exc
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise errors.ApiError(code=422, reason="Invalid", message=f"invalid JSON patch: {exc}") from exc
    if not isinstance(result, dict):
        raise errors.ApiError(code=422, reason="Invalid", message="a JSON patch must leave an object")
    return result


def _replace_missing_as_add(document: Any, op: dict[str, Any]) -> dict[str, Any]:
    """A ``replace`` of an object member that does not exist acts as ``add``, as the API server's JSON-patch
    library does (strict RFC 6902 refuses it): the Ray autoscaler replaces ``scaleStrategy`` that may be
    absent. A missing parent, or a missing list index, still fails."""
    if op.get("op") != "replace" or not isinstance(op.get("path"), str):
        return op
    try:
        pointer = jsonpointer.JsonPointer(op["path"])
    except jsonpointer.JsonPointerException:
        return op
    if not pointer.parts:
        return op
    try:
        parent = jsonpointer.JsonPointer.from_parts(pointer.parts[:-1]).resolve(document)
    except jsonpointer.JsonPointerException:
        return op
    if isinstance(parent, dict) and pointer.parts[-1] not in parent:
        return {**op, "op": "add"}
    return op


def decode_json(body: bytes) -> Any:
    try:
        return limits.loads_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from exc


# ------------------------------------------------------------------------------------------ field sets

IGNORED_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")


def fields_v1(obj: Any) -> dict[str, Any]:
    """A FieldsV1-style set (``{"f:spec": {"f:replicas": {}}}``) of the leaves of ``obj``; lists are leaves."""
    out: dict[str, Any] = {}
    if not isinstance(obj, dict):
        return out
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if isinstance(value, dict) and value:
            out[f"f:{key}"] = fields_v1(value)
        else:
            out[f"f:{key}"] = {}
    return out


def touched_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The field set recorded for a whole-object write, without server-managed metadata."""
    trimmed = copy.deepcopy(obj)
    metadata = trimmed.get("metadata")
    if isinstance(metadata, dict):
        for key in (*IGNORED_METADATA, "name", "namespace", "generateName"):
            metadata.pop(key, None)
        if not metadata:
            trimmed.pop("metadata")
    return fields_v1(trimmed)


def _remove_path(obj: dict[str, Any], path: list[str]) -> None:
    current: Any = obj
    for part in path[:-1]:
        if not isinstance(current, dict) or part not in current:
            return
        current = current[part]
    if isinstance(current, dict):
        current.pop(path[-1], None)


def _leaf_paths(fields: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, sub in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        if isinstance(sub, dict) and sub:
            paths.extend(_leaf_paths(sub, path))
        else:
            paths.append(path)
    return paths


def _apply_merge(target: Any, applied: Any) -> Any:
    if isinstance(target, dict) and isinstance(applied, dict):
        result = dict(target)
        for key, value in applied.items():
            result[key] = _apply_merge(target.get(key), value)
        return result
    return copy.deepcopy(applied)


def server_side_apply(
    current: dict[str, Any], applied: dict[str, Any], *, previous_fields: dict[str, Any] | None
) -> dict[str, Any]:
    """Merge an applied configuration into ``current``, dropping fields the manager stopped applying."""
    result = copy.deepcopy(current)
    if previous_fields:
        now = set(_leaf_paths(touched_fields(applied)))
        for path in _leaf_paths(previous_fields):
            if path not in now and not any(path[: len(p)] == p for p in now):
                _remove_path(result, list(path))
    merged = _apply_merge(result, applied)
    assert isinstance(merged, dict)
    return merged
