"""Structural-schema pruning, defaulting and validation of custom resources, as kube-apiserver does them.

The emulator stores a RayCluster only after the same three steps as the real apiextensions-apiserver:
``prune`` (drop fields the schema does not know; ``kubectl`` turns the list into ``unknown field
"spec.foo"`` errors or warnings), ``apply_defaults`` (``default:`` values, top-down, only under a
parent that exists) and ``validate`` (OpenAPI value validations, list-type uniqueness and CEL rules),
and ``is_structural`` checks a CRD's schema when it is created. Every cause carries the reason, field
and message text the real server renders, because kubectl prints them and our tests assert them.

Decided against ``jsonschema``/``openapi-schema-validator``: their messages and paths differ from
kube-openapi's (``spec.replicas in body must be of type integer: "string"``), and pruning,
defaulting, int-or-string, embedded resources and list types need a schema walker anyway, so one
walker does it all. Simplifications, stated: ``uniqueItems`` and ``multipleOf`` on doubles are
approximations; Go's RE2 is approximated with ``re.search``; only common formats are checked.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ray_operator.apimachinery.govalues import go_float, go_value

from . import cel, errors
from .errors import Cause

Schema = Mapping[str, Any]

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
_ABSENT: Any = object()


def _props(schema: Schema) -> Mapping[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else {}


def _additional(schema: Schema) -> Schema | None:
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _items(schema: Schema) -> Schema | None:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else None


def _preserves(schema: Schema) -> bool:
    return schema.get("x-kubernetes-preserve-unknown-fields") is True


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
        raise _too_deep() from exc
    return out, sorted(unknown)


def _too_deep() -> errors.ApiError:
    return errors.bad_request("the object is nested too deeply to be checked against its schema")


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune_metadata(meta: Any, path: str, unknown: list[str]) -> None:
    if not isinstance(meta, dict):
        return
    for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
        unknown.append(_key_path(path, key))
        del meta[key]


def _prune(value: Any, schema: Schema | None, *, path: str, resource: bool, unknown: list[str]) -> None:
    if not isinstance(schema, Mapping):
        schema = None
    if isinstance(value, list):
        items = _items(schema) if schema else None
        for index, item in enumerate(value):
            if items is not None or isinstance(item, dict | list):
                _prune(item, items, path=f"{path}[{index}]", resource=False, unknown=unknown)
        return
    if not isinstance(value, dict):
        return
    schema = schema or {}
    embedded = resource or schema.get("x-kubernetes-embedded-resource") is True
    keep_unknown = _preserves(schema)
    props = _props(schema)
    extra = schema.get("additionalProperties")
    for key in list(value):
        child_path = _key_path(path, key)
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
        raise _too_deep() from exc
    return out


def _default(value: Any, schema: Schema) -> None:
    if not isinstance(schema, Mapping):
        return
    if isinstance(value, dict):
        props = _props(schema)
        for key, sub in props.items():
            if not isinstance(sub, Mapping) or "default" not in sub:
                continue
            if key not in value or (value[key] is None and not sub.get("nullable")):
                value[key] = copy.deepcopy(sub["default"])
        extra = _additional(schema)
        for key, child in value.items():
            sub = props.get(key)
            if isinstance(sub, Mapping):
                _default(child, sub)
            elif extra is not None:
                _default(child, extra)
    elif isinstance(value, list):
        items = _items(schema)
        if items is not None:
            for item in value:
                if item is None and "default" in items and not items.get("nullable"):
                    continue
                _default(item, items)


# -- validation ----------------------------------------------------------------------------------


def json_type(value: Any) -> str:
    """The OpenAPI type name of a decoded JSON value (``integer`` for whole numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(expected: str, value: Any) -> bool:
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value == int(value)
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return json_type(value) == expected


def _body_path(path: str) -> str:
    return path or "body"


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(reason="FieldValueInvalid", message=f"Invalid value: {go_value(value)}: {detail}", field=path)


def _too_many(path: str, count: int, limit: int) -> Cause:
    """``field.TooMany``: kube-openapi says "items" for maxProperties too."""
    return Cause(reason="FieldValueTooMany", message=f"Too many: {count}: must have at most {limit} items", field=path)


def _type_invalid(path: str, expected: str, value: Any) -> Cause:
    actual = json_type(value)
    detail = f'{_body_path(path)} in body must be of type {expected}: "{actual}"'
    return Cause(reason="FieldValueTypeInvalid", message=f'Invalid value: "{actual}": {detail}', field=path)


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$")


def _format_ok(fmt: str, text: str) -> bool:
    """True when ``text`` is a valid ``fmt``; formats kube-apiserver does not check always pass."""
    try:
        if fmt in ("date-time", "datetime"):
            return bool(_DATE_TIME.match(text))
        if fmt == "date":
            return bool(_DATE.match(text))
        if fmt == "byte":
            base64.b64decode(text, validate=True)
            return True
        if fmt in ("uuid", "uuid3", "uuid4", "uuid5"):
            return bool(_UUID.match(text))
        if fmt == "ipv4":
            ipaddress.IPv4Address(text)
            return True
        if fmt == "ipv6":
            ipaddress.IPv6Address(text)
            return True
        if fmt == "cidr":
            ipaddress.ip_network(text, strict=False)
            return True
        if fmt == "hostname":
            return bool(_HOSTNAME.match(text))
        if fmt == "mac":
            return bool(_MAC.match(text))
        if fmt == "duration":
            return bool(_DURATION.match(text))
    except (ValueError, binascii.Error):
        return False
    return True


def validate(obj: dict[str, Any], schema: Schema, *, old: dict[str, Any] | None = None) -> list[Cause]:
    """The causes for ``obj`` (after pruning and defaulting) against a CRD version's ``openAPIV3Schema``.

    ``old`` is the stored object on UPDATE: transition rules (``oldSelf``) run only where it has the field.
    CEL rules are skipped, with the real server's notice, when a type or enum error makes them unsafe.
    """
    v = _Validator()
    try:
        v.node(obj, schema, path="", old=old if old is not None else _ABSENT)
    except RecursionError as exc:
        raise _too_deep() from exc
    causes = list(v.causes)
    if v.cel_causes:
        if any(c.reason in ("FieldValueTypeInvalid", "FieldValueNotSupported") for c in causes):
            causes.append(
                Cause(
                    reason="FieldValueInvalid",
                    message='Invalid value: "null": some validation rules were not checked because the object '
                    "was invalid; correct the existing errors to complete validation",
                    field="<nil>",
                )
            )
        else:
            causes.extend(v.cel_causes)
    return causes


class _Validator:
    def __init__(self) -> None:
        self.causes: list[Cause] = []
        self.cel_causes: list[Cause] = []

    def node(self, value: Any, schema: Schema, *, path: str, old: Any) -> None:
        if not isinstance(schema, Mapping):
            return
        if value is None:
            # kube-openapi runs only the type and enum checks on null.
            if schema.get("nullable") is True:
                return
            expected = "integer,string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
            if expected:
                self.causes.append(_type_invalid(path, str(expected), value))
            self._enum(value, schema, path=path)
            return
        # A type error does not stop the other checks (they only apply to values of their own kind).
        expected = schema.get("type")
        if schema.get("x-kubernetes-int-or-string") is True:
            if not (_type_ok("integer", value) or isinstance(value, str)):
                self.causes.append(_type_invalid(path, "integer,string", value))
        elif isinstance(expected, str) and expected and not _type_ok(expected, value):
            self.causes.append(_type_invalid(path, expected, value))
        self._values(value, schema, path=path)
        self._combinators(value, schema, path=path)
        if isinstance(value, dict):
            self._object(value, schema, path=path, old=old)
        elif isinstance(value, list):
            self._array(value, schema, path=path, old=old)
        rules = schema.get("x-kubernetes-validations")
        if isinstance(rules, list) and rules:
            self.cel_causes.extend(
                cel.check_rules(
                    rules,
                    value,
                    old_value=None if old is _ABSENT else old,
                    has_old=old is not _ABSENT,
                    field=path or "<nil>",
                    type_name=str(schema.get("type", "")),
                )
            )

    def _values(self, value: Any, schema: Schema, *, path: str) -> None:
        name = _body_path(path)
        self._enum(value, schema, path=path)
        if isinstance(value, str):
            self._string(value, schema, path=path, name=name)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(value, schema, path=path, name=name)

    def _enum(self, value: Any, schema: Schema, *, path: str) -> None:
        enum = schema.get("enum")
        if isinstance(enum, list) and not any(_json_equal(value, allowed) for allowed in enum):
            supported = ", ".join(
                json.dumps(a if isinstance(a, str) else json.dumps(a, separators=(",", ":"))) for a in enum
            )
            message = f"Unsupported value: {go_value(value)}"
            if supported:
                message += f": supported values: {supported}"
            self.causes.append(Cause(reason="FieldValueNotSupported", message=message, field=path))

    def _string(self, value: str, schema: Schema, *, path: str, name: str) -> None:
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and len(value) > max_length:
            self.causes.append(
                Cause(reason="FieldValueTooLong", message=f"Too long: may not be longer than {max_length}", field=path)
            )
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(value) < min_length:
            self.causes.append(_invalid(path, value, f"{name} in body should be at least {min_length} chars long"))
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True
            if not matched:
                self.causes.append(_invalid(path, value, f"{name} in body should match '{pattern}'"))
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt and not _format_ok(fmt, value):
            detail = f"{name} in body must be of type {fmt}: {json.dumps(value)}"
            self.causes.append(
                Cause(reason="FieldValueTypeInvalid", message=f"Invalid value: {go_value(value)}: {detail}", field=path)
            )

    def _number(self, value: float, schema: Schema, *, path: str, name: str) -> None:
        minimum = schema.get("minimum")
        if isinstance(minimum, int | float):
            if schema.get("exclusiveMinimum") is True and value <= minimum:
                self.causes.append(_invalid(path, value, f"{name} in body should be greater than {_num(minimum)}"))
            elif value < minimum:
                self.causes.append(
                    _invalid(path, value, f"{name} in body should be greater than or equal to {_num(minimum)}")
                )
        maximum = schema.get("maximum")
        if isinstance(maximum, int | float):
            if schema.get("exclusiveMaximum") is True and value >= maximum:
                self.causes.append(_invalid(path, value, f"{name} in body should be less than {_num(maximum)}"))
            elif value > maximum:
                self.causes.append(
                    _invalid(path, value, f"{name} in body should be less than or equal to {_num(maximum)}")
                )
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int | float) and multiple and not _is_multiple(value, multiple):
            self.causes.append(_invalid(path, value, f"{name} in body should be a multiple of {_num(multiple)}"))

    def _combinators(self, value: Any, schema: Schema, *, path: str) -> None:
        """allOf/anyOf/oneOf/not. Their own failures carry no field (kube-openapi reports them as plain
        errors, which the server files under ``<nil>``); anyOf adds the causes of its first failing branch."""
        name = _body_path(path)
        for sub in schema.get("allOf") or ():
            if isinstance(sub, Mapping):
                self.node(value, sub, path=path, old=_ABSENT)
        any_of = [s for s in schema.get("anyOf") or () if isinstance(s, Mapping)]
        if any_of:
            probes = [_probe(value, s, path) for s in any_of]
            if all(probes):
                self.causes.append(_composite(f"{name} in body must validate at least one schema (anyOf)"))
                self.causes.extend(probes[0])
        one_of = [s for s in schema.get("oneOf") or () if isinstance(s, Mapping)]
        if one_of:
            valid = sum(1 for s in one_of if not _probe(value, s, path))
            if valid != 1:
                found = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                self.causes.append(_composite(f"{name} in body must validate one and only one schema (oneOf). {found}"))
        not_schema = schema.get("not")
        if isinstance(not_schema, Mapping) and not _probe(value, not_schema, path):
            self.causes.append(_composite(f"{name} in body must not validate the schema (not)"))

    def _object(self, value: dict[str, Any], schema: Schema, *, path: str, old: Any) -> None:
        name = _body_path(path)
        if schema.get("x-kubernetes-embedded-resource") is True:
            self._embedded(value, path=path)
        for key in _strings(schema.get("required")):
            if key not in value:
                self.causes.append(
                    Cause(reason="FieldValueRequired", message="Required value", field=_key_path(path, key))
                )
        max_props = schema.get("maxProperties")
        if isinstance(max_props, int) and len(value) > max_props:
            self.causes.append(_too_many(path, len(value), max_props))
        min_props = schema.get("minProperties")
        if isinstance(min_props, int) and len(value) < min_props:
            self.causes.append(
                _invalid(path, len(value), f"{name} in body should have at least {min_props} properties")
            )
        props = _props(schema)
        extra = _additional(schema)
        old_map = old if isinstance(old, dict) else {}
        for key, child in value.items():
            sub = props.get(key)
            if sub is None:
                sub = extra
            if isinstance(sub, Mapping):
                self.node(child, sub, path=_key_path(path, key), old=old_map.get(key, _ABSENT))

    def _embedded(self, value: dict[str, Any], *, path: str) -> None:
        """An embedded resource needs a non-empty ``apiVersion`` and ``kind`` (``metadata`` is optional)."""
        for key in ("apiVersion", "kind"):
            field = _key_path(path, key)
            if key not in value:
                self.causes.append(
                    Cause(reason="FieldValueRequired", message="Required value: must not be empty", field=field)
                )
            elif not isinstance(value[key], str):
                self.causes.append(_invalid(field, value[key], "must be a string"))
            elif not value[key]:
                self.causes.append(_invalid(field, value[key], "must not be empty"))

    def _array(self, value: list[Any], schema: Schema, *, path: str, old: Any) -> None:
        name = _body_path(path)
        max_items = schema.get("maxItems")
        if isinstance(max_items, int) and len(value) > max_items:
            self.causes.append(_too_many(path, len(value), max_items))
        min_items = schema.get("minItems")
        if isinstance(min_items, int) and len(value) < min_items:
            self.causes.append(_invalid(path, len(value), f"{name} in body should have at least {min_items} items"))
        if schema.get("uniqueItems") is True and _has_duplicates(value):
            self.causes.append(_invalid(path, value, f"{name} in body shouldn't contain duplicates"))
        list_type = schema.get("x-kubernetes-list-type")
        keys = _strings(schema.get("x-kubernetes-list-map-keys"))
        self._list_type(value, list_type, keys, path=path)
        items = _items(schema)
        if items is None:
            return
        old_items: dict[str, Any] = {}
        if list_type == "map" and keys and isinstance(old, list):
            for item in old:
                if isinstance(item, dict):
                    old_items.setdefault(_map_key(item, keys), item)
        for index, item in enumerate(value):
            previous = old_items.get(_map_key(item, keys), _ABSENT) if isinstance(item, dict) and old_items else _ABSENT
            self.node(item, items, path=f"{path}[{index}]", old=previous)

    def _list_type(self, value: list[Any], list_type: Any, keys: Sequence[str], *, path: str) -> None:
        if list_type not in ("set", "map"):
            return
        seen: set[str] = set()
        for index, item in enumerate(value):
            if list_type == "map":
                if not isinstance(item, dict):
                    continue
                identity = _map_key(item, keys)
                shown: Any = {k: item[k] for k in keys if k in item}
            else:
                identity = json.dumps(item, sort_keys=True)
                shown = item
            if identity in seen:
                self.causes.append(
                    Cause(
                        reason="FieldValueDuplicate",
                        message=f"Duplicate value: {go_value(shown)}",
                        field=f"{path}[{index}]",
                    )
                )
            seen.add(identity)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _map_key(item: Mapping[str, Any], keys: Sequence[str]) -> str:
    return json.dumps([item.get(k) for k in keys], sort_keys=True)


def _num(value: float) -> str:
    """A schema bound: kube-openapi keeps minimum/maximum/multipleOf as float64."""
    return go_float(float(value))


def _is_multiple(value: float, multiple: float) -> bool:
    if isinstance(value, int) and isinstance(multiple, int):
        return value % multiple == 0
    quotient = value / multiple
    return math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or (
        isinstance(a, int | float) and isinstance(b, int | float) and a == b
    )


def _has_duplicates(values: list[Any]) -> bool:
    texts = [json.dumps(v, sort_keys=True) for v in values]
    return len(set(texts)) != len(texts)


def _probe(value: Any, schema: Mapping[str, Any], path: str) -> list[Cause]:
    """The causes ``value`` would get under ``schema`` alone (CEL rules excluded)."""
    probe = _Validator()
    probe.node(value, schema, path=path, old=_ABSENT)
    return probe.causes


def _composite(detail: str) -> Cause:
    return Cause(reason="FieldValueInvalid", message=f'Invalid value: "": {detail}', field="<nil>")


# -- structural-schema check ---------------------------------------------------------------------

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
    meta = _props(schema).get("metadata")
    if isinstance(meta, Mapping):
        extra = set(_props(meta)) - {"name", "generateName"}
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
    untyped_ok = _preserves(schema) or schema.get("x-kubernetes-int-or-string") is True
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
    for name, sub in _props(schema).items():
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
    for name, sub in _props(schema).items():
        _value_only(sub, _join_schema(path, f"properties[{name}]"), problems)
    if isinstance(schema.get("items"), Mapping):
        _value_only(schema["items"], _join_schema(path, "items"), problems)
