"""List reads: selectors, ``resourceVersion``/``resourceVersionMatch`` checks, and ``limit``/``continue`` pages.

A paginated list must stay consistent across its pages even while writes land, as it does on a real
server (which reads every page at the first page's etcd revision). The store keeps only the latest
state, but it never mutates a stored dict (each commit stores a new one), so keeping the references
the first page matched is a consistent snapshot; a bounded number of them are kept, and a continue
token whose snapshot was dropped falls back to the live state after its last key.
Decided against: per-revision snapshots of the whole store (memory for every write to serve a rare
read), and opaque server-side cursors without the revision (a token must expire with compaction, 410).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from ray_operator.sandbox import errors, limits
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.selectors import parse_field_selector, parse_label_selector
from ray_operator.sandbox.storage.store import GroupResource, Store

MAX_LIST_SNAPSHOTS = 64
"""Paginated lists whose remaining pages are kept for their continue tokens."""

_TOKEN_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter, or use the continue token in this response to retrieve "
    "the remainder of the results. Continuing with the provided token results in an inconsistent list "
    "- objects that were created, modified, or deleted between the time the first chunk was returned "
    "and now may show up in the list."
)


@dataclass(frozen=True, kw_only=True)
class ListOptions:
    """A list request's parameters (``labelSelector``, ``fieldSelector``, ``limit``, ``continue``...)."""

    label_selector: str | None = None
    field_selector: str | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None
    resource_version_match: str | None = None


class Lister:
    """The list reads of one store, with the snapshots that open continue tokens point at."""

    def __init__(self, store: Store, *, max_snapshots: int = MAX_LIST_SNAPSHOTS) -> None:
        self.store = store
        self._max_snapshots = max_snapshots
        self._snapshots: dict[str, list[dict[str, Any]]] = {}
        """Paginated list id → the matched objects of its first page's revision."""

    def list(
        self,
        rt: ResourceType,
        gr: GroupResource,
        namespace: str | None,
        options: ListOptions,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The matching stored objects of ``gr`` (never to be mutated) and the list metadata.

        The list metadata has the ``resourceVersion``, and ``continue`` plus ``remainingItemCount`` when
        ``limit`` cut the list.
        """
        store = self.store
        labels = parse_label_selector(options.label_selector)
        fields = parse_field_selector(
            options.field_selector, group=rt.group, resource=rt.resource, namespaced=rt.namespaced
        )
        if options.resource_version_match and options.resource_version_match not in ("NotOlderThan", "Exact"):
            raise errors.bad_request(
                f'resourceVersionMatch: Unsupported value: "{options.resource_version_match}": supported values: '
                '"Exact", "NotOlderThan"'
            )
        if options.resource_version_match and not options.resource_version:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if options.resource_version and limits.parse_resource_version(options.resource_version) is None:
            raise errors.bad_request(f'resourceVersion: Invalid value: "{options.resource_version}": invalid value')
        if (
            options.resource_version_match == "Exact"
            and options.resource_version
            and int(options.resource_version) != store.rv
        ):
            raise errors.gone(f"too old resource version: {options.resource_version} ({store.rv})")
        start_after: tuple[str, str] | None = None
        list_rv = store.rv
        snapshot: list[dict[str, Any]] | None = None
        snapshot_id, offset = "", 0
        if options.continue_token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(options.continue_token.encode()))
                token_rv, start_after = int(decoded["rv"]), (decoded["ns"], decoded["name"])
                snapshot_id, offset = str(decoded.get("snap", "")), int(decoded.get("offset", 0))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise errors.bad_request(f"continue key is not valid: {exc}") from exc
            if token_rv < store.compacted_rv:
                raise errors.gone(_TOKEN_TOO_OLD)
            list_rv = token_rv
            snapshot = self._snapshots.get(snapshot_id)
        if snapshot is not None:
            matched = snapshot[offset:]  # the same revision the first page was served from
        else:
            snapshot_id, offset = "", 0
            matched = []
            for obj in store.items(gr, namespace if rt.namespaced else None):
                meta = obj.get("metadata") or {}
                key = (meta.get("namespace") or "", meta.get("name") or "")
                if start_after is not None and key <= start_after:
                    continue
                if labels.matches(meta.get("labels")) and fields.matches(obj):
                    matched.append(obj)
        list_meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if options.limit and len(matched) > options.limit:
            if not snapshot_id:
                snapshot_id = uuid.uuid4().hex[:16]
                self._snapshots[snapshot_id] = matched
                while len(self._snapshots) > self._max_snapshots:
                    self._snapshots.pop(next(iter(self._snapshots)))
            last = matched[options.limit - 1]["metadata"]
            token = {
                "rv": list_rv,
                "ns": last.get("namespace") or "",
                "name": last.get("name"),
                "snap": snapshot_id,
                "offset": offset + options.limit,
            }
            list_meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            list_meta["remainingItemCount"] = len(matched) - options.limit
            matched = matched[: options.limit]
        return matched, list_meta
