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
import marshal
from collections.abc import Mapping, Sequence
from typing import Any

JsonPatchOp = dict[str, Any]


def escape_pointer_token(token: str) -> str:
    """RFC 6901: ``~`` becomes ``~0`` and ``/`` becomes ``~1`` (in that order)."""
    return token.replace("~", "~0").replace("/", "~1")


def _same(a: Any, b: Any) -> bool:
    """JSON-equal. Python's ``==`` (fast, in C) decides inequality, but it also says ``True == 1`` and
    ``1 == 1.0``; so equal-looking containers are confirmed on their ``marshal`` bytes, which keep the
    types apart (version 2: no back-references, so equal values always give equal bytes). Key order is
    not normalised: a reordered but equal mapping only costs a recursion that then finds no operation."""
    if a is b:
        return True
    if a != b or type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return marshal.dumps(a, 2) == marshal.dumps(b, 2)
    return True


def diff(old: Any, new: Any) -> list[JsonPatchOp]:
    """Operations that, applied in order to ``old``, yield ``new``."""
    ops: list[JsonPatchOp] = []
    _diff(old, new, "", ops)
    return ops


def _diff(old: Any, new: Any, path: str, ops: list[JsonPatchOp]) -> None:
    if not _same(old, new):
        _diff_unequal(old, new, path, ops)


def _diff_unequal(old: Any, new: Any, path: str, ops: list[JsonPatchOp]) -> None:
    """``_diff`` for a pair already known to differ (the equality check is the expensive part)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{escape_pointer_token(key)}"})
        for key, value in new.items():
            if key not in old:
                ops.append({"op": "add", "path": f"{path}/{escape_pointer_token(key)}", "value": value})
            elif not _same(old[key], value):
                _diff_unequal(old[key], value, f"{path}/{escape_pointer_token(key)}", ops)
        return
    if isinstance(old, list) and isinstance(new, list):
        _diff_list(old, new, path, ops)
        return
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
