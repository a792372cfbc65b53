"""Running a schema node's ``x-kubernetes-validations`` and wording each failed rule as kube-apiserver's cause.

A rule's ``message``/``messageExpression``, ``reason`` and ``fieldPath`` decide what the user reads
(``spec.x: Invalid value: "object": <message>``); a rule that does not compile, errors or does not
return a bool is reported with the real server's text instead, and a transition rule is skipped when
there is no old value.
Decided against: raising on the first failure (the real server reports every failed rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ray_operator.sandbox.errors import Cause
from ray_operator.sandbox.schema.cel.evaluator import evaluate
from ray_operator.sandbox.schema.cel.parser import CelError, compile_rule

_REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_cause(*, field: str, type_name: str, message: str, reason: str | None) -> Cause:
    """A failed rule's cause, rendered as kube-apiserver's ``field.*`` helpers render it."""
    if reason == "FieldValueForbidden":
        return Cause(reason=reason, message=f"Forbidden: {message}", field=field)
    if reason == "FieldValueRequired":
        return Cause(reason=reason, message=f"Required value: {message}", field=field)
    if reason == "FieldValueDuplicate":
        return Cause(reason=reason, message=f"Duplicate value: {_quote(type_name)}", field=field)
    return Cause(reason="FieldValueInvalid", message=f"Invalid value: {_quote(type_name)}: {message}", field=field)


def _join_field(base: str, relative: str) -> str:
    relative = relative.strip()
    if not relative:
        return base
    if relative.startswith("["):
        return base + relative
    return f"{base}{relative}" if base else relative.lstrip(".")


def check_rules(
    rules: Sequence[Mapping[str, Any]],
    value: Any,
    *,
    old_value: Any = None,
    has_old: bool = False,
    field: str,
    type_name: str,
) -> list[Cause]:
    """Evaluate one schema node's ``x-kubernetes-validations`` and return the causes of failed rules.

    ``has_old`` is False on CREATE or when the old object lacks this field; transition rules
    (those mentioning ``oldSelf``) are then skipped.
    """
    causes: list[Cause] = []
    for rule in rules:
        source = str(rule.get("rule", ""))
        try:
            program = compile_rule(source)
        except CelError as exc:
            causes.append(
                Cause(
                    reason="FieldValueInvalid",
                    message=f"Invalid value: {_quote(type_name)}: compilation failed: {exc}",
                    field=field,
                )
            )
            continue
        variables: dict[str, Any] = {"self": value}
        if program.uses_old_self:
            if not has_old:
                continue
            variables["oldSelf"] = old_value
        target = _join_field(field, str(rule.get("fieldPath", "")))
        try:
            result = evaluate(program, variables)
        except CelError as exc:
            causes.append(
                Cause(reason="FieldValueInvalid", message=f"Invalid value: {_quote(type_name)}: {exc}", field=field)
            )
            continue
        if result is True:
            continue
        if not isinstance(result, bool):
            causes.append(
                Cause(
                    reason="FieldValueInvalid",
                    message=f"Invalid value: {_quote(type_name)}: rule did not evaluate to a bool: {source}",
                    field=field,
                )
            )
            continue
        message = _rule_message(rule, variables)
        reason = rule.get("reason")
        causes.append(
            rule_cause(
                field=target, type_name=type_name, message=message, reason=reason if reason in _REASONS else None
            )
        )
    return causes


def _rule_message(rule: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    expression = rule.get("messageExpression")
    if expression:
        try:
            text = evaluate(compile_rule(str(expression)), variables)
        except CelError:
            text = None
        if isinstance(text, str) and text.strip():
            return text
    message = rule.get("message")
    if message:
        return str(message)
    return f"failed rule: {rule.get('rule', '')}"
