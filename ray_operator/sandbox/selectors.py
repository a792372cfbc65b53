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

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
"""apimachinery's ``IsDNS1123Subdomain`` pattern (the 253-character limit is checked separately)."""


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


_QUALIFIED_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def qualified_name_errors(key: str) -> list[str]:
    """apimachinery's ``IsQualifiedName``: every problem of a label key (``prefix/name``); empty when valid."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            f"a qualified name {_QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    found: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            found.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                found.append("prefix part must be no more than 253 characters")
            if not DNS_SUBDOMAIN.match(prefix):
                found.append(f"prefix part {DNS_SUBDOMAIN_MESSAGE}")
    if not name:
        found.append("name part must be non-empty")
    elif len(name) > 63:
        found.append("name part must be no more than 63 characters")
    if name and not _LABEL_NAME.match(name):
        found.append(f"name part {_QUALIFIED_NAME_MESSAGE}")
    return found


def label_value_errors(value: str) -> list[str]:
    """apimachinery's ``IsValidLabelValue``: every problem of a label value; empty when valid."""
    found: list[str] = []
    if len(value) > 63:
        found.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        found.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
            "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return found


def qualified_name_error(key: str) -> str | None:
    """The problems of a label key joined with ``; `` (as a selector reports them), or None when valid."""
    return "; ".join(qualified_name_errors(key)) or None


def label_value_error(value: str) -> str | None:
    return "; ".join(label_value_errors(value)) or None


# The lexer and parser follow apimachinery's labels.Parse token by token, so that every error names the
# same token with the same text; only errors inside one requirement get the "unable to parse
# requirement" prefix, as upstream.
_EOS, _IDENT, _IN, _NOTIN = "EOS", "IDENT", "in", "notin"
_SYMBOLS = ("!=", "==", "=", "!", "(", ")", ",", ">", "<")
_SPECIAL_CHARS = set("=!(),><")
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    i = 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text):
            items.append((_EOS, ""))
            return items
        if text[i] in _SPECIAL_CHARS:
            symbol = next((sym for sym in _SYMBOLS if text.startswith(sym, i)), text[i])
            items.append((symbol, symbol))
            i += len(symbol)
            continue
        start = i
        while i < len(text) and text[i] not in _SPECIAL_CHARS and text[i] not in " \t\r\n":
            i += 1
        word = text[start:i]
        items.append((word if word in (_IN, _NOTIN) else _IDENT, word))


class _SelectorSyntaxError(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def lookahead(self, *, values: bool = True) -> tuple[str, str]:
        tok, lit = self.items[min(self.pos, len(self.items) - 1)]
        return (_IDENT if values and tok in (_IN, _NOTIN) else tok), lit

    def consume(self, *, values: bool = True) -> tuple[str, str]:
        found = self.lookahead(values=values)
        self.pos = min(self.pos + 1, len(self.items) - 1)
        return found

    def requirement(self) -> Requirement:
        tok, lit = self.consume()
        negate = tok == "!"
        if negate:
            tok, lit = self.consume()
        if tok != _IDENT:
            raise _SelectorSyntaxError(f"found '{lit}', expected: identifier")
        key = lit
        key_errors = qualified_name_errors(key)
        if key_errors:
            raise _SelectorSyntaxError(f'<nil>: Invalid value: "{key}": {"; ".join(key_errors)}')
        if negate:
            return Requirement(key, "!")
        if self.lookahead()[0] in (_EOS, ","):
            return Requirement(key, "exists")
        op_tok, op_lit = self.consume(values=False)
        ops = {_IN: "in", _NOTIN: "notin", "=": "=", "==": "=", "!=": "!=", ">": "gt", "<": "lt"}
        if op_tok not in ops:
            raise _SelectorSyntaxError(f"found '{op_lit}', expected: {_BINARY_OPERATORS}")
        op = ops[op_tok]
        values = self.value_set() if op in ("in", "notin") else [self.exact_value()]
        _validate_requirement(key, op, sorted(set(values)))
        return Requirement(key, op, tuple(sorted(set(values))))

    def value_set(self) -> list[str]:
        tok, lit = self.consume()
        if tok != "(":
            raise _SelectorSyntaxError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok == ")":
            self.consume()
            return [""]
        if tok not in (_IDENT, ","):
            raise _SelectorSyntaxError(f"found '{lit}', expected: ',', ')' or identifier")
        found = self.identifiers()
        if self.consume()[0] != ")":
            raise _SelectorSyntaxError(f"found '{lit}', expected: ')'")
        return found

    def identifiers(self) -> list[str]:
        found: list[str] = []
        for _ in range(len(self.items) + 1):
            tok, lit = self.consume()
            if tok == _IDENT:
                found.append(lit)
                nxt, nxt_lit = self.lookahead()
                if nxt == ")":
                    return found
                if nxt != ",":
                    raise _SelectorSyntaxError(f"found '{nxt_lit}', expected: ',' or ')'")
            elif tok == ",":
                if not found:
                    found.append("")
                nxt = self.lookahead()[0]
                if nxt == ")":
                    found.append("")
                    return found
                if nxt == ",":
                    found.append("")
            else:
                raise _SelectorSyntaxError(f"found '{lit}', expected: ',', or identifier")
        raise _SelectorSyntaxError("found '', expected: ',', or identifier")

    def exact_value(self) -> str:
        if self.lookahead()[0] in (_EOS, ","):
            return ""
        tok, lit = self.consume()
        if tok != _IDENT:
            raise _SelectorSyntaxError(f"found '{lit}', expected: identifier")
        return lit


def _validate_requirement(key: str, op: str, values: list[str]) -> None:
    """``NewRequirement``'s checks, aggregated like a field.ErrorList (``[e1, e2]`` when several)."""
    problems: list[str] = []
    if op in ("gt", "lt"):
        for i, value in enumerate(values):
            if not re.fullmatch(r"[+-]?\d+", value) or not -(2**63) <= int(value) < 2**63:
                problems.append(
                    f"values[{i}]: Invalid value: \"{value}\": for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for i, value in enumerate(values):
        value_errors = label_value_errors(value)
        if value_errors:
            problems.append(f'values[{i}][{key}]: Invalid value: "{value}": {"; ".join(value_errors)}')
    if len(problems) == 1:
        raise _SelectorSyntaxError(problems[0])
    if problems:
        raise _SelectorSyntaxError("[" + ", ".join(problems) + "]")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query value; raise a 400 ApiError with apimachinery's text."""
    if not text or not text.strip():
        return LabelSelector()
    parser = _Parser(text)
    requirements: list[Requirement] = []
    for _ in range(len(parser.items) + 1):
        tok, lit = parser.lookahead()
        if tok == _EOS:
            break
        if tok not in (_IDENT, "!"):
            raise errors.bad_request(f"found '{lit}', expected: !, identifier, or 'end of string'")
        try:
            requirements.append(parser.requirement())
        except _SelectorSyntaxError as exc:
            raise errors.bad_request(f"unable to parse requirement: {exc}") from None
        tok, lit = parser.consume()
        if tok == _EOS:
            break
        if tok != ",":
            raise errors.bad_request(f"found '{lit}', expected: ',' or 'end of string'")
        nxt, nxt_lit = parser.lookahead()
        if nxt not in (_IDENT, "!"):
            raise errors.bad_request(f"found '{nxt_lit}', expected: identifier after ','")
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


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
