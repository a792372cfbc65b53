"""The structural-schema rules of apiextensions.k8s.io/v1, as a self-check of the generated CRD schema.

Why: a CRD whose ``openAPIV3Schema`` is not structural is refused by the API server at install time;
``build_crd`` runs this check so that a model change which cannot be expressed structurally fails in
the generator (and its tests) with the offending path, not in a cluster. Kept apart from the
generator in ``crd.py``: the converter says how a pydantic schema *becomes* structural, this module
what structural *is*, and each reads on its own.

Decided against: reusing the sandbox's ``is_structural`` (``api`` imports nothing but the primitives,
and the sandbox checks any user's CRD with the API server's messages, while this names our models'
paths) and a JSON-schema meta-schema (it cannot express the cross-keyword rules).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Schema = dict[str, Any]

# Every key a CRD's JSONSchemaProps accepts (apiextensions.k8s.io/v1); anything else is rejected.
JSON_SCHEMA_PROPS_KEYS = frozenset(
    {
        "$ref",
        "$schema",
        "additionalItems",
        "additionalProperties",
        "allOf",
        "anyOf",
        "default",
        "definitions",
        "dependencies",
        "description",
        "enum",
        "example",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "externalDocs",
        "format",
        "id",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "nullable",
        "oneOf",
        "pattern",
        "patternProperties",
        "properties",
        "required",
        "title",
        "type",
        "uniqueItems",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-validations",
    }
)

SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
INT_OR_STRING: Schema = {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if not isinstance(node, Mapping):
        yield path, node
        return
    yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from _walk(child, f"{path}.{name}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        yield from _walk(node["additionalProperties"], f"{path}{{}}")
    for keyword in ("anyOf", "allOf", "oneOf"):
        for index, branch in enumerate(node.get(keyword) or ()):
            yield from _walk(branch, f"{path}.{keyword}[{index}]")


def _node_problems(path: str, node: Any, *, in_junctor: bool) -> list[str]:
    if not isinstance(node, Mapping):
        return [f"{path}: schema must be an object, got {type(node).__name__}"]
    problems = [f"{path}: unknown keyword {key!r}" for key in node if key not in JSON_SCHEMA_PROPS_KEYS]
    for forbidden in ("$ref", "definitions", "dependencies", "patternProperties", "additionalItems", "not", "oneOf"):
        if forbidden in node:
            problems.append(f"{path}: {forbidden} is not allowed in a structural schema")
    if node.get("uniqueItems") is True:
        problems.append(f"{path}: uniqueItems is forbidden; use x-kubernetes-list-type: set")
    if in_junctor:
        if set(node) - {"type"} or node.get("type") not in ("integer", "string"):
            problems.append(f"{path}: only the int-or-string anyOf form is allowed")
        return problems
    kind = node.get("type")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if kind is None and not (int_or_string or preserve):
        problems.append(f"{path}: no type (and neither int-or-string nor preserve-unknown-fields)")
    if kind is not None and kind not in {*SCALAR_TYPES, "object", "array"}:
        problems.append(f"{path}: invalid type {kind!r}")
    if int_or_string and kind is not None:
        problems.append(f"{path}: x-kubernetes-int-or-string must not have a type")
    if "anyOf" in node and not (int_or_string and node["anyOf"] == INT_OR_STRING["anyOf"]):
        problems.append(f"{path}: anyOf is only allowed as the int-or-string form")
    if "allOf" in node:
        problems.append(f"{path}: allOf is not allowed")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties and additionalProperties are mutually exclusive")
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], Mapping):
        problems.append(f"{path}: additionalProperties must be a schema")
    if ("properties" in node or "additionalProperties" in node) and kind != "object":
        problems.append(f"{path}: properties need type object")
    if kind == "array" and not isinstance(node.get("items"), Mapping):
        problems.append(f"{path}: an array needs exactly one items schema")
    if "items" in node and kind != "array":
        problems.append(f"{path}: items needs type array")
    problems.extend(_list_problems(path, node))
    if kind in SCALAR_TYPES:
        for value in [*node.get("enum", ()), *([node["default"]] if "default" in node else [])]:
            if not _scalar_fits(value, kind):
                problems.append(f"{path}: {value!r} in enum/default is not of type {kind}")
    if node.get("x-kubernetes-map-type") not in (None, "granular", "atomic"):
        problems.append(f"{path}: invalid x-kubernetes-map-type")
    for rule in node.get("x-kubernetes-validations", ()):
        if not isinstance(rule, Mapping) or not isinstance(rule.get("rule"), str):
            problems.append(f"{path}: every x-kubernetes-validations entry needs a rule string")
    return problems


def _list_problems(path: str, node: Mapping[str, Any]) -> list[str]:
    list_type = node.get("x-kubernetes-list-type")
    problems: list[str] = []
    if list_type not in (None, "atomic", "set", "map"):
        problems.append(f"{path}: invalid x-kubernetes-list-type {list_type!r}")
    if list_type is not None and node.get("type") != "array":
        problems.append(f"{path}: x-kubernetes-list-type needs type array")
    keys = node.get("x-kubernetes-list-map-keys")
    if (list_type == "map") != bool(keys):
        problems.append(f"{path}: x-kubernetes-list-map-keys goes with x-kubernetes-list-type: map")
    if list_type == "map" and keys:
        items = node.get("items") or {}
        item_properties = items.get("properties") or {}
        for key in keys:
            prop = item_properties.get(key)
            if prop is None:
                problems.append(f"{path}: list-map key {key!r} is not a property of the items")
            elif prop.get("type") not in SCALAR_TYPES:
                problems.append(f"{path}: list-map key {key!r} must be a scalar")
            elif key not in items.get("required", ()) and "default" not in prop:
                problems.append(f"{path}: list-map key {key!r} must be required or have a default")
    if list_type == "set":
        item_type = (node.get("items") or {}).get("type")
        if item_type not in SCALAR_TYPES:
            problems.append(f"{path}: x-kubernetes-list-type set needs scalar items")
    return problems


def _scalar_fits(value: Any, kind: str) -> bool:
    if kind == "boolean" or isinstance(value, bool):
        return kind == "boolean" and isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    return isinstance(value, str)


def structural_problems(schema: Mapping[str, Any]) -> list[str]:
    """Everything that would make the API server reject this ``openAPIV3Schema`` as non-structural."""
    problems: list[str] = []
    if schema.get("type") != "object":
        problems.append("<root>: type must be object")
    metadata = (schema.get("properties") or {}).get("metadata")
    if metadata is not None and dict(metadata) != {"type": "object"}:
        problems.append("<root>.metadata: must be exactly {type: object}")
    for path, node in _walk(schema, "<root>"):
        in_junctor = any(part.startswith(("anyOf[", "allOf[", "oneOf[")) for part in path.rsplit(".", 1)[-1:])
        problems.extend(_node_problems(path, node, in_junctor=in_junctor))
    return problems
