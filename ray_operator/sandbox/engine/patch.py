"""PATCH in its four media types, server-side apply among them, on top of the engine's update pipeline.

kubectl and kubernetes_asyncio pick the patch type from the object (``merge-patch`` for custom
resources, ``strategic-merge-patch`` for built-ins, ``apply-patch+yaml`` for server-side apply), so
all four are served; a custom resource answers strategic merge patch with 415, as upstream, which
catches the kubernetes_asyncio pitfall of patching a CR with a dict. The patch is applied to the
current object's view, and the result goes through the same update pipeline as a PUT; when another
write lands while admission webhooks run, the patch is recomputed on the new state (up to
``MAX_ATTEMPTS``). Server-side apply creates the object when it is absent, checks field ownership
(``storage/managedfields.py``) and keeps kubectl's last-applied annotation current.
Decided against: applying patches to the stored form (a patch names the request version's fields).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml

from ray_operator.sandbox import errors, limits
from ray_operator.sandbox.engine.context import MAX_ATTEMPTS, StaleRead, WriteContext, object_meta
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema import patching, smp
from ray_operator.sandbox.storage import managedfields
from ray_operator.sandbox.storage.store import clone

if TYPE_CHECKING:
    from ray_operator.sandbox.engine.pipeline import Engine

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


async def patch(
    engine: Engine,
    rt: ResourceType,
    namespace: str,
    name: str,
    body: bytes,
    content_type: str,
    ctx: WriteContext,
    *,
    sub: str = "",
) -> tuple[int, dict[str, Any]]:
    engine.deprecation(rt, ctx)
    media = content_type.split(";")[0].strip().lower()
    accepted = errors.CR_PATCH_MEDIA_TYPES if rt.is_custom else errors.BUILTIN_PATCH_MEDIA_TYPES
    if media not in (MERGE, JSON_PATCH, STRATEGIC, APPLY) or (media == STRATEGIC and rt.is_custom):
        raise errors.unsupported_media_type(accepted)
    if media == APPLY:
        return await _apply(engine, rt, namespace, name, body, ctx, sub=sub)
    patch = patching.decode_json(body)
    for _ in range(MAX_ATTEMPTS):
        old = engine.get_stored(rt, namespace, name)
        new = _patched(rt, engine.view(rt, old), media, patch)
        try:
            return 200, await engine.write_update(rt, old, new, ctx, sub=sub, operation="Update")
        except StaleRead:
            continue
    raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)


def _patched(rt: ResourceType, current: dict[str, Any], media: str, patch: Any) -> dict[str, Any]:
    if media == MERGE:
        if not isinstance(patch, dict):
            raise errors.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
        new = patching.merge_patch(current, patch)
    elif media == JSON_PATCH:
        new = patching.json_patch(current, patch)
    else:
        if not isinstance(patch, dict):
            raise errors.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
        try:
            new = smp.strategic_merge_patch(current, patch, api_version=rt.api_version, kind=rt.kind)
        except errors.ApiError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise errors.ApiError(code=422, reason="Invalid", message=str(exc)) from exc
    if not isinstance(new, dict):
        raise errors.bad_request("the patch must produce an object")
    return new


async def _apply(
    engine: Engine, rt: ResourceType, namespace: str, name: str, body: bytes, ctx: WriteContext, *, sub: str
) -> tuple[int, dict[str, Any]]:
    if not ctx.field_manager or ctx.options.get("_manager_defaulted"):
        raise errors.bad_request("PATCH /apply requires fieldManager to be set (fieldManager is required for apply)")
    try:
        applied = limits.load_yaml(body.decode())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from exc
    if not isinstance(applied, dict):
        raise errors.bad_request("error decoding YAML: the applied configuration must be an object")
    raw_meta = applied.get("metadata")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
    for _ in range(MAX_ATTEMPTS):
        try:
            return await _apply_once(engine, rt, namespace, name, applied, ctx, sub=sub)
        except StaleRead:
            continue
    raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)


async def _apply_once(
    engine: Engine, rt: ResourceType, namespace: str, name: str, applied: dict[str, Any], ctx: WriteContext, *, sub: str
) -> tuple[int, dict[str, Any]]:
    applied_fields = patching.touched_fields(applied)
    existing = engine.store.get(engine.gr(rt), namespace if rt.namespaced else "", name)
    if existing is None:
        if sub:
            raise errors.not_found(rt.resource, rt.group, name)
        body_obj = clone(applied)
        object_meta(body_obj)["name"] = name
        return 201, await engine.create(rt, namespace, body_obj, ctx, applied_fields=applied_fields)
    entries = [e for e in existing["metadata"].get("managedFields") or () if isinstance(e, dict)]
    previous = next(
        (e.get("fieldsV1") for e in entries if e.get("manager") == ctx.field_manager and e.get("operation") == "Apply"),
        None,
    )
    if not ctx.force:
        found = managedfields.conflicts(
            entries,
            manager=ctx.field_manager,
            applied=applied,
            applied_paths=managedfields.leaf_paths(applied_fields),
            current=engine.view(rt, existing),
        )
        if found and ctx.field_manager == "kubectl":
            allowed = managedfields.allowed_from_last_applied(engine.view(rt, existing), patching.touched_fields)
            found = [c for c in found if not managedfields.covered(c[2], allowed)]
        if found:
            raise managedfields.conflict_error(found)
    live_annotations = (existing.get("metadata") or {}).get("annotations") or {}
    if ctx.field_manager == "kubectl" and managedfields.LAST_APPLIED in live_annotations:
        # kubectl's server-side apply keeps the client-side annotation current, as upstream does.
        applied = clone(applied)
        annotations = object_meta(applied).setdefault("annotations", {})
        annotations[managedfields.LAST_APPLIED] = json.dumps(applied, separators=(",", ":"), sort_keys=True)
    new = patching.server_side_apply(engine.view(rt, existing), applied, previous_fields=previous)
    return 200, await engine.write_update(
        rt, existing, new, ctx, sub=sub, operation="Apply", applied_fields=applied_fields
    )
