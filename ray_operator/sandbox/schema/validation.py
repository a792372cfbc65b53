"""Validation of a pruned and defaulted custom resource against its CRD version's ``openAPIV3Schema``.

The third step of apiextensions-apiserver's write path: OpenAPI value validations (types, enums,
bounds, lengths, patterns, formats, required fields, combinators), list-type uniqueness
(``x-kubernetes-list-type: set|map``) and the CEL rules of ``x-kubernetes-validations``
(``schema/cel``). Every cause carries the reason, field and message text the real server renders,
because kubectl prints them and our tests assert them; CEL rules are skipped, with the real server's
notice, when a type or enum error makes them unsafe.

Decided against ``jsonschema``/``openapi-schema-validator``: their messages and paths differ from
kube-openapi's (``spec.replicas in body must be of type integer: "string"``), and pruning,
defaulting, int-or-string, embedded resources and list types need a schema walker anyway.
Simplifications, stated: ``uniqueItems`` and ``multipleOf`` on doubles are approximations; Go's RE2
is approximated with ``re.search``; only common formats are checked.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ray_operator.apimachinery.govalues import go_float, go_value, json_type
from ray_operator.sandbox.errors import Cause
from ray_operator.sandbox.schema import cel, walk
from ray_operator.sandbox.schema.walk import Schema


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
        v.node(obj, schema, path="", old=old if old is not None else walk.ABSENT)
    except RecursionError as exc:
        raise walk.too_deep() from exc
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
                    old_value=None if old is walk.ABSENT else old,
                    has_old=old is not walk.ABSENT,
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
                self.node(value, sub, path=path, old=walk.ABSENT)
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
                    Cause(reason="FieldValueRequired", message="Required value", field=walk.key_path(path, key))
                )
        max_props = schema.get("maxProperties")
        if isinstance(max_props, int) and len(value) > max_props:
            self.causes.append(_too_many(path, len(value), max_props))
        min_props = schema.get("minProperties")
        if isinstance(min_props, int) and len(value) < min_props:
            self.causes.append(
                _invalid(path, len(value), f"{name} in body should have at least {min_props} properties")
            )
        props = walk.props(schema)
        extra = walk.additional(schema)
        old_map = old if isinstance(old, dict) else {}
        for key, child in value.items():
            sub = props.get(key)
            if sub is None:
                sub = extra
            if isinstance(sub, Mapping):
                self.node(child, sub, path=walk.key_path(path, key), old=old_map.get(key, walk.ABSENT))

    def _embedded(self, value: dict[str, Any], *, path: str) -> None:
        """An embedded resource needs a non-empty ``apiVersion`` and ``kind`` (``metadata`` is optional)."""
        for key in ("apiVersion", "kind"):
            field = walk.key_path(path, key)
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
        items = walk.items(schema)
        if items is None:
            return
        old_items: dict[str, Any] = {}
        if list_type == "map" and keys and isinstance(old, list):
            for item in old:
                if isinstance(item, dict):
                    old_items.setdefault(_map_key(item, keys), item)
        for index, item in enumerate(value):
            previous = (
                old_items.get(_map_key(item, keys), walk.ABSENT)
                if isinstance(item, dict) and old_items
                else walk.ABSENT
            )
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
    probe.node(value, schema, path=path, old=walk.ABSENT)
    return probe.causes


def _composite(detail: str) -> Cause:
    return Cause(reason="FieldValueInvalid", message=f'Invalid value: "": {detail}', field="<nil>")
