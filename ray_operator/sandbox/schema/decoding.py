"""Decode-time type errors for built-in kinds, worded like the API server's JSON decoder.

kube-apiserver decodes a built-in object into Go structs, so a value of the wrong JSON type (``spec: true``
for a Pod) is a 400 ``Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal bool into
Go struct field Pod.spec of type v1.PodSpec`` before any defaulting or validation. The emulator walks the
vendored v1.32 definitions (``schema/definitions.py``) to find the first such value; Quantity and IntOrString
accept numbers and strings, and opaque types (RawExtension, FieldsV1) accept anything. Only JSON types are
checked here: semantic validation of built-ins is not emulated.
Decided against: a JSON-schema validator for this (its messages are not Go's decoder's, which kubectl prints).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.schema.definitions import definition_name, load_definitions, resolve

_REF = "#/components/schemas/"
_NUMBER_OR_STRING = ("io.k8s.apimachinery.pkg.api.resource.Quantity", "io.k8s.apimachinery.pkg.util.intstr.IntOrString")


def json_type(value: Any) -> str:
    """The JSON type name Go's decoder uses in ``cannot unmarshal <type> into ...``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if ref is None:
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            ref = all_of[0].get("$ref")
    return str(ref).removeprefix(_REF) if ref else None


def _go_type(schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> str:
    name = _ref_name(schema)
    if name:
        parts = name.split(".")
        return f"{parts[-2]}.{parts[-1]}" if len(parts) >= 2 else name
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return "[]" + (_go_type(items, definitions) if isinstance(items, Mapping) else "interface {}")
    if kind == "object":
        extra = schema.get("additionalProperties")
        return "map[string]" + (_go_type(extra, definitions) if isinstance(extra, Mapping) else "interface {}")
    if kind == "integer":
        return "int32" if schema.get("format") == "int32" else "int64"
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "bool"
    return "string"


def _matches(value: Any, schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> bool:
    name = _ref_name(schema)
    if name in _NUMBER_OR_STRING:
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    resolved = resolve(schema, definitions)
    kind = resolved.get("type")
    if kind == "object" or isinstance(resolved.get("properties"), Mapping):
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return True


def _walk(
    value: Any, schema: Mapping[str, Any], definitions: Mapping[str, Any], *, struct: str, path: str, depth: int
) -> tuple[str, str, Any, Mapping[str, Any]] | None:
    """The first (struct, path, value, schema) whose value has the wrong JSON type."""
    if value is None or depth > 64:
        return None
    if not _matches(value, schema, definitions):
        return (struct, path, value, schema)
    name = _ref_name(schema)
    resolved = resolve(schema, definitions)
    here = name.rsplit(".", 1)[-1] if name else struct
    if isinstance(value, dict):
        props = resolved.get("properties")
        extra = resolved.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key) if isinstance(props, Mapping) else None
            child_path = f"{path}.{key}" if path else key
            if sub is None and isinstance(extra, Mapping):
                sub, child_path = extra, path  # Go names the map field, not the key
            if isinstance(sub, Mapping):
                found = _walk(child, sub, definitions, struct=here, path=child_path, depth=depth + 1)
                if found:
                    return found
    elif isinstance(value, list) and isinstance(resolved.get("items"), Mapping):
        for item in value:
            found = _walk(item, resolved["items"], definitions, struct=struct, path=path, depth=depth + 1)
            if found:
                return found
    return None


def check_types(obj: dict[str, Any], *, group: str, version: str, kind: str) -> None:
    """Raise the decoder's 400 for the first wrongly typed field of a built-in object; no-op for other kinds."""
    name = definition_name(group, version, kind)
    if name is None:
        return
    definitions = load_definitions()
    root = {"$ref": _REF + name}
    found = _walk(obj, root, definitions, struct=kind, path="", depth=0)
    if found is None:
        return
    struct, path, value, schema = found
    target = f"Go struct field {struct}.{path}" if path else "Go value"
    raise errors.bad_request(
        f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot unmarshal '
        f"{json_type(value)} into {target} of type {_go_type(schema, definitions)}"
    )
