"""What every stage of a write shares: the request's options (``WriteContext``) and small helpers on objects.

A write's options (dry-run, field manager, fieldValidation, force, the user, the options admission
reviews carry) and the warnings it collects travel together in one ``WriteContext``, created by the
HTTP layer and filled by every stage, so an error response can still send the warnings gathered
before it. The group-resources named here are the few the pipeline itself must know: namespaces
(a namespaced object needs a live one) and the webhook configurations admission reads.
Decided against: thread-local or context-variable request state (the pipeline awaits webhooks, and
explicit arguments keep concurrent requests apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.storage.store import GroupResource

NAMESPACE_GR: GroupResource = ("", "namespaces")
MUTATING_GR: GroupResource = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
VALIDATING_GR: GroupResource = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")
DEFAULT_USER = {"username": "system:admin", "uid": "", "groups": ["system:masters", "system:authenticated"]}

MAX_ATTEMPTS = 5
"""Times a patch or unconditional update is recomputed when another write lands during its admission."""


def parse_bool(value: str | None, *, name: str = "") -> bool:
    """Go's ``strconv.ParseBool`` (kubernetes_asyncio sends ``True``)."""
    if value is None or value == "":
        return False
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StaleRead(Exception):
    """The object changed between the read and the commit of a write (admission webhooks awaited)."""


@dataclass
class WriteContext:
    """Per-request options and the warnings to answer with."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"
    user: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_USER))
    options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    force: bool = False


def object_meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj["metadata"]``, created (and stored in ``obj``) when absent or not an object."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def without(obj: dict[str, Any], *top: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in top}
