"""Events in both API groups: ``core/v1`` and ``events.k8s.io/v1`` views of one store, in the core form.

kubectl reads core events, client libraries (and our recorder) may write either; as upstream, both
groups serve the same objects, so events.k8s.io/v1 is a field-by-field conversion on the way in and
out (``regarding`` ↔ ``involvedObject``, ``note`` ↔ ``message``, ``deprecated*`` ↔ ``firstTimestamp``...).
A new events.k8s.io/v1 Event must have its required fields; core/v1 events stay lenient, as upstream.
Decided against: two stores kept in sync (one write would be two revisions).
"""

from __future__ import annotations

import copy
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.strategy import StrategyHost
from ray_operator.sandbox.resources import ResourceType

# core/v1 field ↔ events.k8s.io/v1 field; one store holds both views, in the core form.
_EVENT_FIELDS = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("related", "related"),
    ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
    ("action", "action"),
    ("reason", "reason"),
    ("type", "type"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)


def event_to_core(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Event", "metadata": copy.deepcopy(event.get("metadata") or {})}
    for core, new in _EVENT_FIELDS:
        if new in event and event[new] is not None:
            out[core] = copy.deepcopy(event[new])
    return out


def event_from_core(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": copy.deepcopy(event.get("metadata") or {}),
    }
    for core, new in _EVENT_FIELDS:
        if core in event and event[core] is not None:
            out[new] = copy.deepcopy(event[core])
    return out


def validate_new_event(event: dict[str, Any]) -> list[errors.Cause]:
    """The required fields of an events.k8s.io/v1 Event on create (core/v1 events stay lenient)."""
    causes = []
    for name in ("eventTime", "reportingController", "reportingInstance", "action", "reason"):
        if not event.get(name):
            causes.append(errors.Cause(reason="FieldValueRequired", field=name, message="Required value"))
    if event.get("type") not in ("Normal", "Warning"):
        causes.append(
            errors.Cause(
                reason="FieldValueNotSupported",
                field="type",
                message=f'Unsupported value: "{event.get("type", "")}": supported values: "Normal", "Warning"',
            )
        )
    note = event.get("note")
    if isinstance(note, str) and len(note.encode()) > 1024:
        causes.append(
            errors.Cause(reason="FieldValueTooLong", field="note", message="Too long: may not be more than 1024 bytes")
        )
    return causes


class EventsV1Strategy(BuiltinStrategy):
    """``events.k8s.io/v1`` events: converted from and to the core form they are stored in."""

    def to_view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return event_from_core(obj)

    def to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return event_to_core(obj)

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        return validate_new_event(obj)
