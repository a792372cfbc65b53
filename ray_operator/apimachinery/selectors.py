"""Label selectors: the ``labelSelector`` string grammar and ``metav1.LabelSelector`` objects, one matcher.

The emulator parses ``?labelSelector=`` on every list and watch, matches webhook ``objectSelector`` and
``namespaceSelector`` objects and prints Service and Deployment selectors in ``kubectl get -o wide``; the
operator's cache matches the same selectors. Both forms become one ``LabelSelector`` of
``Requirement``s, so there is one matching rule and one printed form (upstream's ``Selector.String()``).

The parser follows apimachinery's ``labels.Parse`` token by token (a hand-written lexer, because
``in (a,b)`` nests commas), so every error names the same token with the same text; only errors inside
one requirement get the ``unable to parse requirement`` prefix, as upstream. Errors are
``SelectorError`` (a ``ValueError``); the emulator turns them into its 400 ``Status``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.apimachinery.names import label_value_errors, qualified_name_errors

__all__ = [
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "format_label_selector",
    "label_selector_from_object",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector apimachinery would refuse; the message is upstream's."""


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

    def __str__(self) -> str:
        if self.op == "!":
            return f"!{self.key}"
        if self.op == "exists":
            return self.key
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        symbol = {"gt": ">", "lt": "<"}.get(self.op, self.op)
        return f"{self.key}{symbol}{self.values[0] if self.values else ''}"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


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


class _RequirementError(Exception):
    """An error inside one requirement (reported with the ``unable to parse requirement`` prefix)."""


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
            raise _RequirementError(f"found '{lit}', expected: identifier")
        key = lit
        key_errors = qualified_name_errors(key)
        if key_errors:
            raise _RequirementError(f'<nil>: Invalid value: "{key}": {"; ".join(key_errors)}')
        if negate:
            return Requirement(key, "!")
        if self.lookahead()[0] in (_EOS, ","):
            return Requirement(key, "exists")
        op_tok, op_lit = self.consume(values=False)
        ops = {_IN: "in", _NOTIN: "notin", "=": "=", "==": "=", "!=": "!=", ">": "gt", "<": "lt"}
        if op_tok not in ops:
            raise _RequirementError(f"found '{op_lit}', expected: {_BINARY_OPERATORS}")
        op = ops[op_tok]
        values = self.value_set() if op in ("in", "notin") else [self.exact_value()]
        _check_values(key, op, sorted(set(values)))
        return Requirement(key, op, tuple(sorted(set(values))))

    def value_set(self) -> list[str]:
        tok, lit = self.consume()
        if tok != "(":
            raise _RequirementError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok == ")":
            self.consume()
            return [""]
        if tok not in (_IDENT, ","):
            raise _RequirementError(f"found '{lit}', expected: ',', ')' or identifier")
        found = self.identifiers()
        if self.consume()[0] != ")":
            raise _RequirementError(f"found '{lit}', expected: ')'")
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
                    raise _RequirementError(f"found '{nxt_lit}', expected: ',' or ')'")
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
                raise _RequirementError(f"found '{lit}', expected: ',', or identifier")
        raise _RequirementError("found '', expected: ',', or identifier")

    def exact_value(self) -> str:
        if self.lookahead()[0] in (_EOS, ","):
            return ""
        tok, lit = self.consume()
        if tok != _IDENT:
            raise _RequirementError(f"found '{lit}', expected: identifier")
        return lit


def _check_values(key: str, op: str, values: list[str]) -> None:
    """``NewRequirement``'s value checks, aggregated like a field.ErrorList (``[e1, e2]`` when several)."""
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
        raise _RequirementError(problems[0])
    if problems:
        raise _RequirementError("[" + ", ".join(problems) + "]")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query value; ``SelectorError`` carries apimachinery's text."""
    if not text or not text.strip():
        return LabelSelector()
    parser = _Parser(text)
    requirements: list[Requirement] = []
    for _ in range(len(parser.items) + 1):
        tok, lit = parser.lookahead()
        if tok == _EOS:
            break
        if tok not in (_IDENT, "!"):
            raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
        try:
            requirements.append(parser.requirement())
        except _RequirementError as exc:
            raise SelectorError(f"unable to parse requirement: {exc}") from None
        tok, lit = parser.consume()
        if tok == _EOS:
            break
        if tok != ",":
            raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
        nxt, nxt_lit = parser.lookahead()
        if nxt not in (_IDENT, "!"):
            raise SelectorError(f"found '{nxt_lit}', expected: identifier after ','")
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


_OBJECT_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_from_object(selector: Any) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector`` for a decoded selector object; ``{}`` or None selects everything.

    Upstream turns ``nil`` into "nothing", but every caller here (webhook object and namespace
    selectors, Service-style selectors) defaults a missing selector to ``{}`` first, so None means
    everything. Problems raise ``SelectorError`` with ``NewRequirement``'s messages.
    """
    if selector is None:
        return LabelSelector()
    if not isinstance(selector, Mapping):
        raise SelectorError(f"invalid label selector: {selector!r}")
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be a map of strings")
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions must be a list")
    requirements: list[Requirement] = []
    for key, value in match_labels.items():
        requirements.append(_requirement(str(key), "=", [str(value)]))
    for expr in expressions:
        if not isinstance(expr, Mapping) or not isinstance(expr.get("key"), str):
            raise SelectorError(f"invalid label selector requirement: {expr!r}")
        operator = expr.get("operator")
        op = _OBJECT_OPERATORS.get(operator) if isinstance(operator, str) else None
        if op is None:
            raise SelectorError(f'"{operator}" is not a valid label selector operator')
        values = expr.get("values") or []
        if not isinstance(values, list):
            raise SelectorError(f"values of requirement {expr['key']!r} must be a list")
        requirements.append(_requirement(expr["key"], op, [str(v) for v in values]))
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


def _requirement(key: str, op: str, values: list[str]) -> Requirement:
    """``labels.NewRequirement``: key syntax, value-count rules per operator, value syntax."""
    key_errors = qualified_name_errors(key)
    if key_errors:
        raise SelectorError(f'key: Invalid value: "{key}": {"; ".join(key_errors)}')
    if op in ("in", "notin") and not values:
        raise SelectorError(
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        )
    if op in ("exists", "!") and values:
        raise SelectorError(
            "values: Invalid value: []string{"
            + ", ".join(f'"{v}"' for v in values)
            + "}: values set must be empty for exists and does not exist"
        )
    try:
        _check_values(key, op, values)
    except _RequirementError as exc:
        raise SelectorError(str(exc)) from None
    return Requirement(key, op, tuple(sorted(set(values))))


def format_label_selector(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: the selector's string form, ``<none>`` when empty, ``<error>`` when bad."""
    try:
        text = str(label_selector_from_object(selector))
    except SelectorError:
        return "<error>"
    return text or "<none>"
