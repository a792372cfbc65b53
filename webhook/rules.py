"""The two rule functions the webhooks apply, seen through the narrowest interface they need.

Validation and defaulting are written once in ``ray_operator.api`` and used by the webhook, the
controller and the tests. The webhook depends on them only through these protocols, so its HTTP and
review handling can be tested against the real rules and, where a test needs a rule to misbehave
(raise, return garbage), against a stand-in passed explicitly.

Decided against: importing the rule modules at import time of the web app (the HTTP and review
layers, and their tests with stand-in rules, need not load the RayCluster models; the runtime asks for
the real rules through ``raycluster_rules()``) and a registry of handlers per kind (there is one kind).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class FieldErrorLike(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def message(self) -> str: ...


class ValidationResultLike(Protocol):
    @property
    def errors(self) -> Sequence[FieldErrorLike]: ...

    @property
    def warnings(self) -> Sequence[str]: ...


Validator = Callable[[Mapping[str, Any], Mapping[str, Any] | None], ValidationResultLike]
"""``validate(new, old)``: the whole RayCluster object; ``old`` only on UPDATE."""

Defaulter = Callable[[Mapping[str, Any]], dict[str, Any]]
"""``apply_defaults(obj)``: pure and idempotent, returns the defaulted whole object. It may share the
sub-objects it leaves unchanged with ``obj`` (or return ``obj`` itself): the handler only reads it."""


@dataclass(frozen=True, kw_only=True)
class Rules:
    validate: Validator
    apply_defaults: Defaulter


def raycluster_rules() -> Rules:
    """The project's real validation and defaulting (``ray_operator.api``)."""
    from ray_operator.api.defaulting import apply_defaults_shared
    from ray_operator.api.validation import validate

    def _validate(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> ValidationResultLike:
        result: ValidationResultLike = validate(new, old)
        return result

    return Rules(validate=_validate, apply_defaults=apply_defaults_shared)
