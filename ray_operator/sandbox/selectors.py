"""Label and field selectors, parsed with the grammar and error texts of apimachinery's ``labels.Parse``.

The operator lists pods and services by ``ray.io/*`` labels and kubectl waits with
``fieldSelector=metadata.name=<n>``, so both must behave like the real server: the full label grammar
(``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``, ``<``, ``>``) and a 400 for anything else.
A hand-written lexer was chosen over regular expressions because ``in (a,b)`` nests commas.
Field selectors support only the fields the real server indexes for each resource; any other field is a
400 ``field label not supported``, as it is upstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.sandbox import errors

_SPECIAL = set(" \t!=(),<>")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str
    """One of ``exists``, ``!``, ``=``, ``!=``, ``in``, ``notin``, ``gt``, ``lt``."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present or value is None:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def qualified_name_error(key: str) -> str | None:
    """The error text for an invalid label key (``prefix/name``), or None when valid."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "prefix part must be non-empty"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return (
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
        )
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _LABEL_NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return None


def label_value_error(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
            "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return None


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        if ch in "=!":
            if text[i : i + 2] in ("==", "!="):
                tokens.append(text[i : i + 2])
                i += 2
            else:
                tokens.append(ch)
                i += 1
            continue
        if ch in "(),<>":
            tokens.append(ch)
            i += 1
            continue
        start = i
        while i < len(text) and text[i] not in _SPECIAL:
            i += 1
        tokens.append(text[start:i])
    return tokens


_OPERATORS = {"=", "==", "!=", "in", "notin", "<", ">"}
_PUNCT = {"=", "==", "!=", "(", ")", ",", "<", ">", "!"}


def _fail(detail: str) -> errors.ApiError:
    return errors.bad_request(f"unable to parse requirement: {detail}")


def _describe(token: str | None) -> str:
    return "" if token is None else token


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query value; raise a 400 ApiError naming the problem."""
    if not text or not text.strip():
        return LabelSelector()
    tokens = _tokenize(text)
    pos = 0
    requirements: list[Requirement] = []

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    while True:
        token = peek()
        negate = False
        if token == "!":
            negate = True
            pos += 1
            token = peek()
        if token is None or token in _PUNCT:
            raise _fail(f"found '{_describe(token)}', expected: !, identifier, or 'end of string'")
        key = token
        pos += 1
        key_error = qualified_name_error(key)
        if key_error:
            raise _fail(f'key: Invalid value: "{key}": {key_error}')
        nxt = peek()
        if negate:
            requirements.append(Requirement(key, "!"))
        elif nxt is None or nxt == ",":
            requirements.append(Requirement(key, "exists"))
        else:
            if nxt not in _OPERATORS:
                raise _fail(f"found '{nxt}', expected: =, !=, ==, in, notin")
            pos += 1
            if nxt in ("in", "notin"):
                if peek() != "(":
                    raise _fail(f"found '{_describe(peek())}', expected: '('")
                pos += 1
                values: list[str] = []
                while True:
                    t = peek()
                    if t == ")":
                        pos += 1
                        break
                    if t is None:
                        raise _fail("found '', expected: ',', or ')'")
                    if t == ",":
                        if not values:
                            values.append("")
                        pos += 1
                        if peek() in (",", ")"):
                            values.append("")
                        continue
                    if t in _PUNCT:
                        raise _fail(f"found '{t}', expected: ',', or ')'")
                    values.append(t)
                    pos += 1
                if not values:
                    raise _fail("for 'in', 'notin' operators, values set can't be empty")
                requirements.append(Requirement(key, nxt, tuple(values)))
                _check_values(key, values)
            elif nxt in ("<", ">"):
                t = peek()
                if t is None or t in _PUNCT or not re.fullmatch(r"-?\d+", t):
                    raise _fail(f"for 'Gt', 'Lt' operators, the value must be an integer: {_describe(t)}")
                pos += 1
                requirements.append(Requirement(key, "gt" if nxt == ">" else "lt", (t,)))
            else:
                t = peek()
                value = ""
                if t is not None and t not in _PUNCT:
                    value = t
                    pos += 1
                elif t is not None and t != ",":
                    raise _fail(f"found '{t}', expected: identifier")
                _check_values(key, [value])
                requirements.append(Requirement(key, "=" if nxt in ("=", "==") else "!=", (value,)))
        t = peek()
        if t is None:
            break
        if t != ",":
            raise _fail(f"found '{t}', expected: ',' or 'end of string'")
        pos += 1
        if peek() is None:
            raise _fail("found '', expected: identifier after ','")
    return LabelSelector(tuple(requirements))


def _check_values(key: str, values: list[str]) -> None:
    for i, value in enumerate(values):
        err = label_value_error(value)
        if err:
            raise _fail(f'values[{i}][{key}]: Invalid value: "{value}": {err}')


# ---------------------------------------------------------------------------------------------- fields

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "events"): (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("", "nodes"): ("spec.unschedulable",),
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((field_value(obj, r.field) == r.value) == r.equal for r in self.requirements)

    def exact_name(self) -> str | None:
        for r in self.requirements:
            if r.field == "metadata.name" and r.equal:
                return r.value
        return None


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """A field's value rendered as the field-selector index renders it (missing → empty string)."""
    if path == "source" and "source" in obj:
        source = obj.get("source") or {}
        return str(source.get("component", "")) if isinstance(source, Mapping) else ""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(text: str | None, *, group: str, resource: str, namespaced: bool) -> FieldSelector:
    """Parse ``fieldSelector``; unsupported fields are a 400 as on the real server."""
    if not text or not text.strip():
        return FieldSelector()
    allowed = set(_COMMON_FIELDS if namespaced else ("metadata.name",)) | set(_EXTRA_FIELDS.get((group, resource), ()))
    requirements: list[FieldRequirement] = []
    for part in _split_unescaped(text):
        part = part.strip()
        if not part:
            continue
        for op, is_equal in (("!=", False), ("==", True), ("=", True)):
            idx = part.find(op)
            if idx > 0:
                field, value, equal = part[:idx].strip(), part[idx + len(op) :].strip(), is_equal
                break
        else:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        if field not in allowed:
            raise errors.bad_request(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, equal, value.replace("\\,", ",").replace("\\=", "=")))
    return FieldSelector(tuple(requirements))


def _split_unescaped(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts
