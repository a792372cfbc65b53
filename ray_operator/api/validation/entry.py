"""The entry point: ``validate(new, old=None)`` parses, runs every rule, merges and ratchets. Never raises.

Why a module of its own: the package's ``__init__`` only re-exports the public names, and the order
of the steps reads here in one place: identity, parse errors, metadata, spec, status, update rules,
unknown fields; a rule's error on a path replaces the parse error on the same path (it says more).
On UPDATE the stored object is validated on its own and its errors are ratcheted (``update.ratchet``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.api.validation.accessors import as_dict
from ray_operator.api.validation.cluster import check_spec, check_status, warn_unknown_fields
from ray_operator.api.validation.errors import CauseType, FieldError, Report, ValidationResult, not_supported
from ray_operator.api.validation.names import check_metadata
from ray_operator.api.validation.paths import field_errors_from, unknown_field_paths
from ray_operator.api.validation.update import check_update, ratchet


def validate(new: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> ValidationResult:
    """Every error and warning of a RayCluster object (``old`` is the stored object on UPDATE). Never raises."""
    report = Report()
    try:
        _validate_into(new, old, report)
        if isinstance(old, Mapping) and report.errors:
            before = Report()
            _validate_into(old, None, before)
            ratchet(report, before.errors)
    except Exception as exc:  # a bug here must not take a webhook or a reconcile loop down
        report.error(
            "", CauseType.INVALID, f"internal validation error ({type(exc).__name__}: {exc}); please report it"
        )
    return ValidationResult(errors=report.errors, warnings=report.warnings)


def _validate_into(new: Mapping[str, Any], old: Mapping[str, Any] | None, report: Report) -> None:
    if not isinstance(new, Mapping):
        report.error("", CauseType.TYPE_INVALID, "a RayCluster must be a JSON object", new)
        return
    parse_errors: list[FieldError] = []
    unknown: list[str] = []
    try:
        # extra="forbid" makes pydantic itself list the undeclared fields (warnings, below) in the same
        # pass, instead of a second walk over the parsed model.
        RayCluster.model_validate(new, extra="forbid")
    except pydantic.ValidationError as exc:
        parse_errors = field_errors_from(exc)
        unknown = unknown_field_paths(exc)
    meta = new.get("metadata")
    if meta is not None and as_dict(meta) is None:
        parse_errors = [e for e in parse_errors if e.path != "metadata"]
        report.error("metadata", CauseType.TYPE_INVALID, "metadata must be of type object", meta)
    rules = Report()
    for key, expected in (("apiVersion", c.API_VERSION), ("kind", c.KIND)):
        value = new.get(key)
        if value is not None and value != expected:
            rules.errors.append(not_supported(key, value, [expected]))
    check_metadata(as_dict(meta) or {}, rules)
    check_spec(new, rules)
    check_status(new, rules)
    if old is not None and isinstance(old, Mapping):
        check_update(new, old, rules)
    if not parse_errors:  # an object that does not parse gets its errors, not warnings about extras
        warn_unknown_fields(unknown, rules)
    rule_paths = {error.path for error in rules.errors}
    report.errors.extend(error for error in parse_errors if error.path not in rule_paths)
    report.errors.extend(rules.errors)
    report.warnings.extend(rules.warnings)
