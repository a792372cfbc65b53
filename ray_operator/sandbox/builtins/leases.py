"""Leases (``coordination.k8s.io/v1``): MicroTime fields decoded as kube-apiserver decodes them, and ValidateLease.

Leader election stands or falls on this kind, so what a real server refuses must be refused here too:

* ``acquireTime`` and ``renewTime`` are ``metav1.MicroTime``, parsed with Go's ``time.Parse`` and the
  layout ``2006-01-02T15:04:05.000000Z07:00``: exactly six fraction digits, else a 400 whose message
  is Go's ``parsing time ... cannot parse ... as ...``. A client that writes ``...:05Z`` works against a
  lenient fake and fails on every real cluster. Stored and served in UTC with six digits, as
  ``MicroTime.MarshalJSON`` writes them;
* a ``null`` spec field is a nil pointer upstream, so it is omitted, not stored as ``null``;
* ``leaseDurationSeconds`` must be greater than 0 and ``leaseTransitions`` at least 0 (``ValidateLeaseSpec``).

Decided against: the alpha coordinated-election fields' rules (``strategy``, ``preferredHolder``), which
no client of ours writes; their JSON types are still checked by the built-in decoder.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.context import WriteContext
from ray_operator.sandbox.engine.strategy import StrategyHost
from ray_operator.sandbox.resources import ResourceType

RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
MICRO_TIME_FIELDS = ("acquireTime", "renewTime")

# Go's layout as its parser walks it: (element, kind); digits elements need exactly that many digits.
_LAYOUT: tuple[tuple[str, str], ...] = (
    ("2006", "digits"),
    ("-", "literal"),
    ("01", "digits"),
    ("-", "literal"),
    ("02", "digits"),
    ("T", "literal"),
    ("15", "digits"),
    (":", "literal"),
    ("04", "digits"),
    (":", "literal"),
    ("05", "digits"),
    (".000000", "fraction"),
    ("Z07:00", "zone"),
)


class MicroTimeError(ValueError):
    pass


def parse_micro_time(value: str) -> datetime:
    """``time.Parse(RFC3339Micro, value)``; ``MicroTimeError`` carries Go's message."""

    def fail(rest: str, element: str) -> MicroTimeError:
        return MicroTimeError(f'parsing time "{value}" as "{RFC3339_MICRO}": cannot parse "{rest}" as "{element}"')

    rest = value
    parts: list[str] = []
    for element, kind in _LAYOUT:
        if kind == "literal":
            if not rest.startswith(element):
                raise fail(rest, element)
            rest = rest[len(element) :]
        elif kind == "digits":
            head = rest[: len(element)]
            if len(head) != len(element) or not head.isdigit():
                raise fail(rest, element)
            parts.append(head)
            rest = rest[len(element) :]
        elif kind == "fraction":
            head = rest[:7]
            if len(head) != 7 or head[0] != "." or not head[1:].isdigit():
                raise fail(rest, element)
            parts.append(head[1:])
            rest = rest[7:]
        else:  # zone: Z or ±hh:mm
            if rest.startswith("Z"):
                parts.append("+00:00")
                rest = rest[1:]
            elif len(rest) >= 6 and rest[0] in "+-" and rest[1:3].isdigit() and rest[3] == ":" and rest[4:6].isdigit():
                parts.append(rest[:6])
                rest = rest[6:]
            else:
                raise fail(rest, element)
    if rest:
        raise MicroTimeError(f'parsing time "{value}": extra text: "{rest}"')
    year, month, day, hour, minute, second, micro, zone = parts
    sign = -1 if zone[0] == "-" else 1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), int(micro), timezone(offset)
        )
    except ValueError as exc:
        raise MicroTimeError(f'parsing time "{value}": {exc}') from None


def format_micro_time(moment: datetime) -> str:
    """``MicroTime.MarshalJSON``: UTC, six fraction digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseStrategy(BuiltinStrategy):
    def decode(
        self, rt: ResourceType, obj: dict[str, Any], ctx: WriteContext, *, subresource: str = ""
    ) -> dict[str, Any]:
        out = super().decode(rt, obj, ctx, subresource=subresource)
        spec = out.get("spec")
        if not isinstance(spec, dict):
            return out
        out = copy.copy(out)
        spec = {key: value for key, value in spec.items() if value is not None}
        for name in MICRO_TIME_FIELDS:
            value = spec.get(name)
            if isinstance(value, str):
                try:
                    spec[name] = format_micro_time(parse_micro_time(value))
                except MicroTimeError as exc:
                    raise errors.bad_request(
                        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {exc}'
                    ) from None
        out["spec"] = spec
        return out

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        return validate_lease_spec(obj.get("spec"))

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        return validate_lease_spec(obj.get("spec"))


def validate_lease_spec(spec: Any) -> list[errors.Cause]:
    causes: list[errors.Cause] = []
    if not isinstance(spec, dict):
        return causes
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        causes.append(
            errors.Cause(
                reason="FieldValueInvalid",
                field="spec.leaseDurationSeconds",
                message=f"Invalid value: {duration}: must be greater than 0",
            )
        )
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        causes.append(
            errors.Cause(
                reason="FieldValueInvalid",
                field="spec.leaseTransitions",
                message=f"Invalid value: {transitions}: must be greater than or equal to 0",
            )
        )
    return causes
