"""Field ownership in ``metadata.managedFields``: who set which field, and server-side apply conflicts.

A simplified structured-merge-diff: each entry's ``fieldsV1`` is a set of leaf paths where lists count as
one leaf (the real server tracks list items by key). A write moves the fields it changed to its manager
(ownership transfer); an apply whose value differs on a field another manager owns is a conflict (409
``Apply failed with N conflict(s)``, with the upstream wording) unless ``force`` is set, in which case the
applier takes the field over. Fields with equal values become shared, as upstream. The set-based model
was chosen over a full port of structured-merge-diff: it gives the behaviour kubectl users see for the
common cases (scalars and maps) in a hundred lines.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.schema import patching
from ray_operator.sandbox.storage.store import strip_meta

Path = tuple[str, ...]


def leaf_paths(fields: Any, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    if not isinstance(fields, dict):
        return paths
    for key, sub in fields.items():
        if not isinstance(key, str) or not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        if isinstance(sub, dict) and any(isinstance(k, str) and k.startswith("f:") for k in sub):
            paths |= leaf_paths(sub, path)
        else:
            paths.add(path)
    return paths


def from_paths(paths: Iterable[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(paths):
        node = out
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return out


def value_at(obj: Any, path: Path) -> tuple[bool, Any]:
    current = obj
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def render(path: Path) -> str:
    return "".join(f".{p}" for p in path)


def _overlap(a: Path, b: Path) -> Path | None:
    """The longer of two paths when one contains the other."""
    if a[: len(b)] == b:
        return a
    if b[: len(a)] == a:
        return b
    return None


def conflicts(
    entries: list[dict[str, Any]],
    *,
    manager: str,
    applied: dict[str, Any],
    applied_paths: set[Path],
    current: dict[str, Any],
) -> list[tuple[str, str, Path]]:
    """(manager, apiVersion, path) for every field another manager owns and the apply would change."""
    found: list[tuple[str, str, Path]] = []
    for entry in entries:
        if entry.get("manager") == manager:
            continue
        for owned in sorted(leaf_paths(entry.get("fieldsV1"))):
            for path in applied_paths:
                both = _overlap(owned, path)
                if both is None:
                    continue
                if value_at(current, both) != value_at(applied, both):
                    found.append((str(entry.get("manager")), str(entry.get("apiVersion", "")), both))
                    break
    return found


def conflict_error(found: list[tuple[str, str, Path]]) -> errors.ApiError:
    def who(manager: str, api_version: str) -> str:
        return f'"{manager}" using {api_version}' if api_version else f'"{manager}"'

    if len(found) == 1:
        manager, api_version, path = found[0]
        text = f"conflict with {who(manager, api_version)}: {render(path)}"
    else:
        lines: list[str] = []
        for key in sorted({(m, v) for m, v, _ in found}):
            lines.append(f"conflicts with {who(*key)}:")
            lines.extend(f"- {render(p)}" for m, v, p in found if (m, v) == key)
        text = "\n".join(lines)
    count = f"{len(found)} conflict" + ("" if len(found) == 1 else "s")
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {who(m, v)}", "field": render(p)}
        for m, v, p in found
    ]
    return errors.ApiError(
        code=409, reason="Conflict", message=f"Apply failed with {count}: {text}", details={"causes": causes}
    )


def transfer(entries: list[dict[str, Any]], *, keep: dict[str, Any] | None, paths: set[Path]) -> list[dict[str, Any]]:
    """Remove ``paths`` from every entry but ``keep``; entries left owning nothing are dropped."""
    out = []
    for entry in entries:
        if entry is keep or not paths:
            out.append(entry)
            continue
        owned = leaf_paths(entry.get("fieldsV1"))
        remaining = {p for p in owned if not any(_overlap(p, q) for q in paths)}
        if remaining == owned:
            out.append(entry)
        elif remaining:
            out.append({**entry, "fieldsV1": from_paths(remaining)})
    return out


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def allowed_from_last_applied(live: dict[str, Any], touched: Any) -> set[Path]:
    """Fields ``kubectl`` may take over from client-side apply without a conflict.

    Upstream (the last-applied manager) lets the ``kubectl`` manager migrate from client-side apply:
    conflicts on fields of the last-applied configuration whose live value still equals it are forced.
    ``touched`` is ``patching.touched_fields``, passed in to keep this module free of patch logic.
    """
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED)
    if not isinstance(text, str) or not text:
        return set()
    try:
        last = json.loads(text)
    except ValueError:
        return set()
    if not isinstance(last, dict):
        return set()
    return {p for p in leaf_paths(touched(last)) if value_at(last, p) == value_at(live, p)}


def covered(path: Path, allowed: set[Path]) -> bool:
    return any(_overlap(path, a) for a in allowed)


def changed_fields(before: Any, after: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(after, dict):
        return out
    for key, value in after.items():
        if key in ("apiVersion", "kind"):
            continue
        prior = before.get(key) if isinstance(before, dict) else None
        if prior == value:
            continue
        if isinstance(value, dict) and value and isinstance(prior, dict):
            sub = changed_fields(prior, value)
            if sub:
                out[f"f:{key}"] = sub
        elif isinstance(value, dict) and value:
            out[f"f:{key}"] = patching.fields_v1(value)
        else:
            out[f"f:{key}"] = {}
    return out


def union(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for key, value in b.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = union(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def record_manager(
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    *,
    api_version: str,
    now: str,
    manager: str,
    operation: str,
    sub: str,
    fields: dict[str, Any] | None = None,
) -> None:
    """Record a write in ``obj``'s managedFields: ``manager`` takes the fields it changed from ``old``.

    ``fields`` is what the manager claims (an apply's fields); by default the fields it changed. An
    ``Update`` entry accumulates over writes; an emptied entry is dropped.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    entries = [e for e in (meta.get("managedFields") or ()) if isinstance(e, dict)]
    before = strip_meta(old, patching.IGNORED_METADATA) if old else {}
    after = strip_meta(obj, patching.IGNORED_METADATA)
    changed = changed_fields(before, after)
    if fields is None:
        fields = changed
    previous = next(
        (
            e
            for e in entries
            if e.get("manager") == manager and e.get("operation") == operation and e.get("subresource", "") == sub
        ),
        None,
    )
    entries = transfer(entries, keep=previous, paths=leaf_paths(changed))
    if operation == "Update" and previous is not None:
        fields = union(previous.get("fieldsV1") or {}, fields)
    entries = [e for e in entries if e is not previous]
    if fields:
        entry: dict[str, Any] = {
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version,
            "time": now,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }
        if sub:
            entry["subresource"] = sub
        entries.append(entry)
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
