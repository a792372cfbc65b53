"""Strategic merge patch for built-in kinds, with the patch metadata of the vendored v1.32 definitions.

kubectl's default ``kubectl patch``, client-side ``kubectl apply`` on built-ins and kubernetes_asyncio's
``CoreV1Api.patch_*`` with a dict body all send ``application/strategic-merge-patch+json``, and no
Python package implements it, so this module does. Semantics follow the Kubernetes SMP specification:
maps merge recursively and ``null`` deletes a key; lists whose field carries
``x-kubernetes-patch-strategy: merge`` are merged item by item on ``x-kubernetes-patch-merge-key``
(primitive lists become an ordered union); every other list is replaced. Directives: ``$patch``
(``replace`` / ``delete`` on maps and list items, ``merge`` accepted as the default),
``$retainKeys``, ``$deleteFromPrimitiveList/<f>`` and ``$setElementOrder/<f>`` (ordering as the real
server computes it: patch items in the given order, server-only items keep their place relative to them).

A malformed patch raises ``errors.bad_request`` naming what was wrong. Decided against: a generic
schema-less merge (wrong for ``containers``, ``ports``, ``env``) and pre-extracted merge-key tables
(the vendored definitions already carry the metadata, so there is one source of truth).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from . import errors
from .builtin_schemas import definition_name, load_definitions, resolve, split_api_version

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"

Schema = Mapping[str, Any]
_EMPTY: Schema = {}


def strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], *, api_version: str, kind: str
) -> dict[str, Any]:
    """Apply ``patch`` to a copy of ``original`` for the built-in ``api_version``/``kind``.

    Unknown kinds or fields fall back to schema-less behaviour (maps merge, lists replace), as the
    real server does for fields without patch metadata.
    """
    if not isinstance(patch, dict):
        raise errors.bad_request(f"the strategic merge patch must be a JSON object, got {_type_name(patch)}")
    group, version = split_api_version(api_version)
    definitions = load_definitions()
    name = definition_name(group, version, kind)
    schema: Schema = definitions.get(name, _EMPTY) if name else _EMPTY
    patcher = _Patcher(definitions)
    result = patcher.merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema, path="")
    return result


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return "number"


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Patcher:
    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self._definitions = definitions

    def _field(self, schema: Schema, key: str) -> Schema:
        resolved = resolve(schema, self._definitions)
        props = resolved.get("properties")
        if isinstance(props, Mapping) and key in props:
            return resolve(props[key], self._definitions)
        additional = resolved.get("additionalProperties")
        if isinstance(additional, Mapping):
            return resolve(additional, self._definitions)
        return _EMPTY

    def _items(self, schema: Schema) -> Schema:
        items = schema.get("items")
        return resolve(items, self._definitions) if isinstance(items, Mapping) else _EMPTY

    # -- maps -----------------------------------------------------------------------------------

    def merge_map(
        self, original: dict[str, Any], patch: dict[str, Any], schema: Schema, *, path: str
    ) -> dict[str, Any]:
        if DIRECTIVE in patch:
            directive = patch[DIRECTIVE]
            if directive == "replace":
                del patch[DIRECTIVE]
                return self.merge_map({}, patch, schema, path=path)
            if directive == "delete":
                return {}
            if directive != "merge":
                raise errors.bad_request(f"unknown patch type: {_dump(directive)} in map at {path or '<root>'}")
            del patch[DIRECTIVE]

        if RETAIN_KEYS in patch:
            retain = patch.pop(RETAIN_KEYS)
            if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
                raise errors.bad_request(
                    f"invalid patch format of retainKeys at {path or '<root>'}: must be a list of field names"
                )
            for key in [k for k, v in patch.items() if not k.startswith("$") and v is not None]:
                if key not in retain:
                    raise errors.bad_request(
                        f'the patch has field "{_join(path, key)}" which is not listed in $retainKeys'
                    )
            for key in list(original):
                if key not in retain:
                    del original[key]

        for key in [k for k in patch if k.startswith(DELETE_FROM_PRIMITIVE)]:
            values = patch.pop(key)
            field = key.removeprefix(DELETE_FROM_PRIMITIVE)
            if not isinstance(values, list):
                raise errors.bad_request(f"invalid patch format of {key}: must be a list of values")
            current = original.get(field)
            if isinstance(current, list):
                original[field] = [v for v in current if v not in values]

        orders = {
            k.removeprefix(SET_ELEMENT_ORDER): patch.pop(k)
            for k in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]
        }

        server_lists = {f: list(v) for f in orders if isinstance(v := original.get(f), list)}
        for key, value in patch.items():
            if key.startswith("$"):
                raise errors.bad_request(f'unknown patch directive "{key}" at {path or "<root>"}')
            field_path = _join(path, key)
            field_schema = self._field(schema, key)
            if value is None:
                original.pop(key, None)
                continue
            current = original.get(key)
            if isinstance(value, dict):
                original[key] = self.merge_map(
                    current if isinstance(current, dict) else {}, value, field_schema, path=field_path
                )
            elif isinstance(value, list):
                base = current if isinstance(current, list) else []
                original[key] = self.merge_list(base, value, field_schema, path=field_path)
            else:
                original[key] = value

        for field, order in orders.items():
            if not isinstance(order, list):
                raise errors.bad_request(f"invalid patch format of setElementOrder list for {_join(path, field)}")
            current = original.get(field)
            if isinstance(current, list):
                merge_key = self._merge_key(self._field(schema, field))
                before = server_lists.get(field, [])
                original[field] = _reorder(current, order, before, merge_key, path=_join(path, field))
        return original

    # -- lists ----------------------------------------------------------------------------------

    @staticmethod
    def _strategies(schema: Schema) -> set[str]:
        return set(str(schema.get("x-kubernetes-patch-strategy", "")).split(",")) - {""}

    @staticmethod
    def _merge_key(schema: Schema) -> str | None:
        key = schema.get("x-kubernetes-patch-merge-key")
        return str(key) if key else None

    def merge_list(self, original: list[Any], patch: list[Any], schema: Schema, *, path: str) -> list[Any]:
        if "merge" not in self._strategies(schema):
            return [self._strip(item, self._items(schema), path=path) for item in patch]
        if any(isinstance(item, dict) and item.get(DIRECTIVE) == "replace" for item in patch):
            rest = [item for item in patch if not (isinstance(item, dict) and DIRECTIVE in item)]
            return [self._strip(item, self._items(schema), path=path) for item in rest]
        merge_key = self._merge_key(schema)
        if not any(isinstance(item, dict) for item in patch) and not any(isinstance(item, dict) for item in original):
            merged = list(original)
            for item in patch:
                if isinstance(item, list):
                    raise errors.bad_request(f"lists of lists are not supported in a strategic merge patch ({path})")
                if item not in merged:
                    merged.append(item)
            return merged
        if merge_key is None:
            return [self._strip(item, self._items(schema), path=path) for item in patch]
        item_schema = self._items(schema)
        result = list(original)
        for index, item in enumerate(patch):
            item_path = f"{path}[{index}]"
            if not isinstance(item, dict):
                raise errors.bad_request(
                    f"{item_path}: expected a map in a list merged by {merge_key!r}, got {_type_name(item)}"
                )
            directive = item.get(DIRECTIVE)
            if merge_key not in item:
                raise errors.bad_request(f"map: {_dump(item)} does not contain declared merge key: {merge_key}")
            key_value = item[merge_key]
            if directive == "delete":
                result = [o for o in result if not (isinstance(o, dict) and o.get(merge_key) == key_value)]
                continue
            if directive not in (None, "merge"):
                raise errors.bad_request(f"unknown patch type: {_dump(directive)} in map: {_dump(item)}")
            item.pop(DIRECTIVE, None)
            for position, existing in enumerate(result):
                if isinstance(existing, dict) and existing.get(merge_key) == key_value:
                    result[position] = self.merge_map(existing, item, item_schema, path=item_path)
                    break
            else:
                result.append(self.merge_map({}, item, item_schema, path=item_path))
        return result

    def _strip(self, value: Any, schema: Schema, *, path: str) -> Any:
        """A patch value used as-is (replaced list items): nulls and directives removed, as merged into nothing."""
        if isinstance(value, dict):
            return self.merge_map({}, value, schema, path=path)
        return value


def _identity(item: Any, merge_key: str | None) -> Any:
    if isinstance(item, dict):
        return _dump(item.get(merge_key)) if merge_key else _dump(item)
    return _dump(item)


def _reorder(merged: list[Any], order: list[Any], server: list[Any], merge_key: str | None, *, path: str) -> list[Any]:
    """Apply ``$setElementOrder``: items it names in its order, the others merged in at their server positions.

    Two sorted runs are interleaved by their position in the server's list before the patch; when
    either item is new to the server, the server-only item goes first (the real server's rule).
    """
    wanted: list[Any] = []
    for entry in order:
        if isinstance(entry, dict):
            if merge_key is None or merge_key not in entry:
                raise errors.bad_request(f"invalid patch format of setElementOrder list for {path}: {_dump(entry)}")
            wanted.append(_dump(entry[merge_key]))
        else:
            wanted.append(_dump(entry))
    rank = {ident: position for position, ident in enumerate(wanted)}
    server_rank = {_identity(item, merge_key): position for position, item in enumerate(server)}
    listed = sorted((i for i in merged if _identity(i, merge_key) in rank), key=lambda i: rank[_identity(i, merge_key)])
    others = [i for i in merged if _identity(i, merge_key) not in rank]
    out: list[Any] = []
    li = oi = 0
    while li < len(listed) or oi < len(others):
        if li >= len(listed):
            out.append(others[oi])
            oi += 1
        elif oi >= len(others):
            out.append(listed[li])
            li += 1
        else:
            left = server_rank.get(_identity(listed[li], merge_key))
            right = server_rank.get(_identity(others[oi], merge_key))
            if left is not None and right is not None and left < right:
                out.append(listed[li])
                li += 1
            else:
                out.append(others[oi])
                oi += 1
    return out
