"""Field errors and the validation report, shaped like Kubernetes' ``field.Error`` and ``errors.NewInvalid``.

Why a module of its own: every rule module writes into a ``Report``, the webhook and the controller
read a ``ValidationResult``, and the texts users see (``spec.x: Invalid value: 5: ...``) must be
rendered one way. ``FieldError.message`` is Go's ``ErrorBody()``, values printed by
``apimachinery.govalues`` as Go's ``%#v`` would.

Decided against: exceptions (a webhook must answer with every problem at once) and message strings
built by each rule (the type/value/detail split is what ``details.causes[]`` carries).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ray_operator.apimachinery.govalues import go_value, json_type


class CauseType(StrEnum):
    """Kubernetes ``metav1.CauseType`` values of field errors."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    DUPLICATE = "FieldValueDuplicate"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TYPE_INVALID = "FieldValueTypeInvalid"


_TYPE_TEXT: dict[CauseType, str] = {
    CauseType.REQUIRED: "Required value",
    CauseType.INVALID: "Invalid value",
    CauseType.DUPLICATE: "Duplicate value",
    CauseType.NOT_SUPPORTED: "Unsupported value",
    CauseType.FORBIDDEN: "Forbidden",
    CauseType.TOO_LONG: "Too long",
    CauseType.TYPE_INVALID: "Invalid value",
}
_VALUELESS = frozenset({CauseType.REQUIRED, CauseType.FORBIDDEN, CauseType.TOO_LONG})


@dataclass(frozen=True, kw_only=True)
class FieldError:
    """One problem with one field, shaped like Kubernetes' ``field.Error``."""

    path: str
    """Kubernetes field path, e.g. ``spec.workerGroupSpecs[1].minReplicas``."""
    type: CauseType
    detail: str
    """What is wrong and what to do about it."""
    value: Any = None
    """The offending value, when there is one."""

    @property
    def message(self) -> str:
        """Go's ``ErrorBody()``: the error text without the path."""
        text = _TYPE_TEXT[self.type]
        if self.type is CauseType.TYPE_INVALID:
            text = f"{text}: {json.dumps(json_type(self.value))}"
        elif self.type not in _VALUELESS:
            text = f"{text}: {go_value(self.value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    @property
    def text(self) -> str:
        """Go's ``Error()``: ``<path>: <message>``."""
        return f"{self.path}: {self.message}"


@dataclass
class ValidationResult:
    """Every error (the object must be refused) and warning (accepted, but the user should know)."""

    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def not_supported(path: str, value: Any, allowed: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(a) for a in allowed) if allowed else ""
    return FieldError(path=path, type=CauseType.NOT_SUPPORTED, value=value, detail=detail)


class Report:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.warnings: list[str] = []

    def error(self, path: str, type: CauseType, detail: str, value: Any = None) -> None:
        self.errors.append(FieldError(path=path, type=type, detail=detail, value=value))

    def warn(self, path: str, text: str) -> None:
        self.warnings.append(f"{path}: {text}")
