"""The smallest RFC 6902 JSON patch that turns one JSON document into another.

The mutating webhook answers with a patch, not the defaulted object, and the API server applies it
to exactly the object it sent. Generating the operations directly from the two trees is an order of
magnitude cheaper than ``jsonpatch.make_patch`` on a deep copy, and the result holds only what
defaulting added or changed (``add`` for new keys, ``replace`` for changed values, ``remove`` for keys
that disappeared), so a reader of the audit log sees the defaults and nothing else.

Decided against: whole-document ``replace`` of ``/spec`` (it would race with concurrent mutators and
hide what changed) and list-element moves (defaulting never reorders lists; a length change is
expressed as removals from the end or appends).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

JsonPatchOp = dict[str, Any]


def escape_pointer_token(token: str) -> str:
    """RFC 6901: ``~`` becomes ``~0`` and ``/`` becomes ``~1`` (in that order)."""
    return token.replace("~", "~0").replace("/", "~1")


def _same(a: Any, b: Any) -> bool:
    # JSON-equal, but Python's True == 1 and 1 == 1.0 must not hide a type change.
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def diff(old: Any, new: Any) -> list[JsonPatchOp]:
    """Operations that, applied in order to ``old``, yield ``new``."""
    ops: list[JsonPatchOp] = []
    _diff(old, new, "", ops)
    return ops


def _diff(old: Any, new: Any, path: str, ops: list[JsonPatchOp]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{escape_pointer_token(key)}"})
        for key, value in new.items():
            child = f"{path}/{escape_pointer_token(key)}"
            if key not in old:
                ops.append({"op": "add", "path": child, "value": value})
            else:
                _diff(old[key], value, child, ops)
        return
    if isinstance(old, list) and isinstance(new, list):
        _diff_list(old, new, path, ops)
        return
    if not _same(old, new):
        ops.append({"op": "replace", "path": path, "value": new})


def _diff_list(old: Sequence[Any], new: Sequence[Any], path: str, ops: list[JsonPatchOp]) -> None:
    common = min(len(old), len(new))
    for index in range(common):
        _diff(old[index], new[index], f"{path}/{index}", ops)
    # Remove from the end first so earlier indexes stay valid.
    for index in range(len(old) - 1, common - 1, -1):
        ops.append({"op": "remove", "path": f"{path}/{index}"})
    for index in range(common, len(new)):
        ops.append({"op": "add", "path": f"{path}/{index}", "value": new[index]})


def encode_patch(ops: Sequence[JsonPatchOp]) -> str:
    """base64 of the compact JSON array, as ``AdmissionResponse.patch`` carries it."""
    return base64.b64encode(json.dumps(list(ops), separators=(",", ":")).encode()).decode("ascii")
