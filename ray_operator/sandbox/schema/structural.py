"""The structural-schema check a CRD's ``openAPIV3Schema`` must pass before the CRD is stored.

Pruning and defaulting are only well defined on a structural schema, so kube-apiserver rejects a CRD
whose schema is not one: every node typed (unless int-or-string or preserving unknown fields), no
``$ref``, no ``additionalProperties`` beside ``properties``, only value validations inside
``allOf``/``anyOf``/``oneOf``/``not``, ``metadata`` restricted to ``name`` and ``generateName``,
keywords of the right JSON type and CEL rules that compile. ``is_structural`` returns the violations
as ``<path>: <message>`` for the CRD code to turn into causes under
``spec.versions[i].schema.openAPIV3Schema``.
Decided against: the full upstream rule set; it covers the rules our CRDs can break (the rest are
listed in docs/emulator-fidelity.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ray_operator.apimachinery.govalues import go_value
from ray_operator.sandbox.schema import cel, walk
from ray_operator.sandbox.schema.walk import Schema

_VALUE_ONLY_FORBIDDEN = (
    "type",
    "default",
    "additionalProperties",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
)


def is_structural(schema: Schema) -> list[str]:
    """Violations of the structural-schema rules, as ``<path>: <message>`` relative to ``openAPIV3Schema``.

    The caller prefixes ``spec.versions[i].schema.openAPIV3Schema.``. An empty list means structural.
    """
    problems: list[str] = []
    if not isinstance(schema, Mapping):
        return ["Required value: must be an object"]
    if schema.get("type") != "object":
        problems.append(f"type: Invalid value: {go_value(schema.get('type', ''))}: must be object at the root")
    meta = walk.props(schema).get("metadata")
    if isinstance(meta, Mapping):
        extra = set(walk.props(meta)) - {"name", "generateName"}
        if extra or set(meta) - {"type", "properties", "description"}:
            problems.append(
                "properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
                "but metadata is implicitly specified"
            )
    try:
        _structural(schema, "", problems, kind="root")
    except RecursionError:
        problems.append('openAPIV3Schema: Invalid value: "object": the schema is nested too deeply')
    return problems


def _join_schema(base: str, part: str) -> str:
    return f"{base}.{part}" if base else part


def _structural(schema: Any, path: str, problems: list[str], *, kind: str) -> None:
    if not isinstance(schema, Mapping):
        problems.append(f"{path or '<root>'}: Invalid value: {go_value(schema)}: must be a schema object")
        return
    if "$ref" in schema:
        problems.append(f"{_join_schema(path, '$ref')}: Forbidden: $ref is not allowed")
    _check_rules(schema.get("x-kubernetes-validations"), _join_schema(path, "x-kubernetes-validations"), problems)
    _check_keyword_types(schema, path, problems)
    untyped_ok = walk.preserves(schema) or schema.get("x-kubernetes-int-or-string") is True
    if kind in ("property", "item", "additional") and not schema.get("type") and not untyped_ok:
        where = {
            "property": "for specified object fields",
            "item": "for specified array items",
            "additional": "for specified additionalProperties",
        }[kind]
        problems.append(f"{_join_schema(path, 'type')}: Required value: must not be empty {where}")
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        problems.append(
            f"{_join_schema(path, 'x-kubernetes-preserve-unknown-fields')}: "
            "Invalid value: false: must be true or undefined"
        )
    if "properties" in schema and isinstance(schema.get("additionalProperties"), Mapping):
        problems.append(
            f"{_join_schema(path, 'additionalProperties')}: "
            "Forbidden: additionalProperties and properties are mutual exclusive"
        )
    if schema.get("type") == "array" and "items" not in schema:
        problems.append(f"{_join_schema(path, 'items')}: Required value: must be specified")
    for name, sub in walk.props(schema).items():
        _structural(sub, _join_schema(path, f"properties[{name}]"), problems, kind="property")
    if isinstance(schema.get("items"), Mapping):
        _structural(schema["items"], _join_schema(path, "items"), problems, kind="item")
    elif isinstance(schema.get("items"), list):
        problems.append(f"{_join_schema(path, 'items')}: Forbidden: items must be a schema object and not an array")
    if isinstance(schema.get("additionalProperties"), Mapping):
        _structural(
            schema["additionalProperties"], _join_schema(path, "additionalProperties"), problems, kind="additional"
        )
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    for combinator in ("allOf", "anyOf", "oneOf"):
        for index, sub in enumerate(schema.get(combinator) or ()):
            if int_or_string and combinator == "anyOf" and _is_int_or_string_branch(sub):
                continue
            _value_only(sub, _join_schema(path, f"{combinator}[{index}]"), problems)
    if isinstance(schema.get("not"), Mapping):
        _value_only(schema["not"], _join_schema(path, "not"), problems)


_KEYWORD_TYPES: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "format": (str,),
    "pattern": (str,),
    "description": (str,),
    "required": (list,),
    "enum": (list,),
    "x-kubernetes-list-map-keys": (list,),
    "x-kubernetes-list-type": (str,),
    "x-kubernetes-map-type": (str,),
    "minimum": (int, float),
    "maximum": (int, float),
    "multipleOf": (int, float),
    "minLength": (int,),
    "maxLength": (int,),
    "minItems": (int,),
    "maxItems": (int,),
    "minProperties": (int,),
    "maxProperties": (int,),
    "nullable": (bool,),
    "properties": (dict,),
}


def _check_keyword_types(schema: Mapping[str, Any], path: str, problems: list[str]) -> None:
    """Keyword values of the wrong JSON type (the real server fails to decode such a CRD)."""
    for key, types in _KEYWORD_TYPES.items():
        if key not in schema:
            continue
        value = schema[key]
        wrong = (isinstance(value, bool) and bool not in types) or not isinstance(value, types)
        if key in ("required", "x-kubernetes-list-map-keys") and isinstance(value, list):
            wrong = not all(isinstance(v, str) for v in value)
        if key == "pattern" and isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                problems.append(f"{_join_schema(path, key)}: Invalid value: {go_value(value)}: {exc}")
                continue
        if wrong:
            problems.append(
                f"{_join_schema(path, key)}: Invalid value: {go_value(value)}: must be of type {_json_kind(types)}"
            )


def _json_kind(types: tuple[type, ...]) -> str:
    if types == (list,):
        return "array"
    if types == (dict,):
        return "object"
    if types == (bool,):
        return "boolean"
    if types == (int,):
        return "integer"
    if types == (int, float):
        return "number"
    return "string"


def _check_rules(rules: Any, path: str, problems: list[str]) -> None:
    """CEL rules must compile, as kube-apiserver checks when the CRD is written."""
    if rules is None:
        return
    if not isinstance(rules, list):
        problems.append(f"{path}: Invalid value: {go_value(rules)}: must be a list of rules")
        return
    for index, rule in enumerate(rules):
        where = f"{path}[{index}]"
        if not isinstance(rule, Mapping) or not isinstance(rule.get("rule"), str) or not rule["rule"].strip():
            problems.append(f"{where}.rule: Required value")
            continue
        for key in ("rule", "messageExpression"):
            source = rule.get(key)
            if not isinstance(source, str) or not source.strip():
                continue
            try:
                cel.compile_rule(source)
            except cel.CelError as exc:
                problems.append(f"{where}.{key}: Invalid value: {go_value(source)}: compilation failed: {exc}")


def _is_int_or_string_branch(schema: Any) -> bool:
    """``anyOf: [{type: integer}, {type: string}]`` is the one typed pattern allowed under int-or-string."""
    return isinstance(schema, Mapping) and set(schema) <= {"type"} and schema.get("type") in ("integer", "string")


def _value_only(schema: Any, path: str, problems: list[str]) -> None:
    """Inside ``allOf``/``anyOf``/``oneOf``/``not`` only value validations are allowed."""
    if not isinstance(schema, Mapping):
        return
    for key in _VALUE_ONLY_FORBIDDEN:
        if key in schema:
            problems.append(f"{_join_schema(path, key)}: Forbidden: must be empty to be structural")
    for name, sub in walk.props(schema).items():
        _value_only(sub, _join_schema(path, f"properties[{name}]"), problems)
    if isinstance(schema.get("items"), Mapping):
        _value_only(schema["items"], _join_schema(path, "items"), problems)
