"""Deletion: DeleteOptions, finalizers, propagation policies, graceful pods, and the removal of an object.

A delete is admitted (mutating webhooks see ``oldObject`` only, then validating ones), then either
removes the object at once or marks it: ``deletionTimestamp`` set, ``foregroundDeletion``/``orphan``
finalizers added for those policies, the kind's own marks (a CRD's cleanup finalizer, a namespace's
``Terminating`` phase) and a pod's grace period. A marked object goes when its last finalizer does
(an update, or the garbage collector in ``gc.py``). ``remove`` is the one way out of the store, so the
kind's ``before_remove``/``after_remove`` hooks run for every path that deletes.
Decided against: deleting dependents synchronously here (the garbage collector does it in the
background, as in a real cluster; tests wait with ``control.settle()``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.engine.context import WriteContext, format_time, object_meta
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.listing import ListOptions
from ray_operator.sandbox.storage.store import clone, object_key, strip_meta

if TYPE_CHECKING:
    from ray_operator.sandbox.engine.pipeline import Engine


async def delete(
    engine: Engine, rt: ResourceType, namespace: str, name: str, options: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """Delete per DeleteOptions; returns the response body (the object, or a Success Status for CRs)."""
    engine.deprecation(rt, ctx)
    strategy = engine.strategy(rt)
    old = engine.get_stored(rt, namespace, name)
    _check_preconditions(rt, name, old, options)
    strategy.check_delete(engine, rt, name)
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is True and not policy:
        policy = "Orphan"
    if policy not in (None, "Background", "Foreground", "Orphan"):
        raise errors.invalid(
            "DeleteOptions",
            "",
            "",
            [
                errors.Cause(
                    reason="FieldValueNotSupported",
                    field="propagationPolicy",
                    message=f'Unsupported value: "{policy}": supported values: '
                    '"Foreground", "Background", "Orphan", "nil"',
                )
            ],
        )
    # As upstream's delete admission: mutating webhooks are called too (oldObject only; a patch is an
    # error), then validating ones.
    for phase in ("mutate", "validate"):
        if not engine.admits(phase):
            continue
        await engine.admit(
            phase,
            operation="DELETE",
            rt=rt,
            sub="",
            namespace=namespace,
            name=name,
            obj=None,
            old=engine.view(rt, old),
            ctx=ctx,
        )
    old = engine.get_stored(rt, namespace, name)  # webhooks were awaited: act on the latest state
    _check_preconditions(rt, name, old, options)
    new = clone(old)
    new_meta = object_meta(new)
    finalizers = list(new_meta.get("finalizers") or [])
    if policy == "Foreground" and "foregroundDeletion" not in finalizers:
        finalizers.append("foregroundDeletion")
    if policy == "Orphan" and "orphan" not in finalizers:
        finalizers.append("orphan")
    deferred = strategy.begin_delete(engine, rt, new, finalizers)
    grace = strategy.grace_period(engine, rt, old, options)
    if finalizers or deferred or grace:
        if ctx.dry_run:
            return engine.view(rt, new)
        if finalizers:
            new_meta["finalizers"] = finalizers
        if grace:
            previous = new_meta.get("deletionGracePeriodSeconds")
            if not new_meta.get("deletionTimestamp") or (isinstance(previous, int) and grace < previous):
                new_meta["deletionTimestamp"] = format_time(engine.clock() + timedelta(seconds=grace))
                new_meta["deletionGracePeriodSeconds"] = grace
        elif not new_meta.get("deletionTimestamp"):
            new_meta["deletionTimestamp"] = engine.now()
            new_meta["deletionGracePeriodSeconds"] = 0
        if strip_meta(new, ("resourceVersion",)) == strip_meta(old, ("resourceVersion",)):
            return engine.view(rt, old)
        stored = engine.store.commit(engine.gr(rt), new)
        engine.on_change()
        return engine.view(rt, stored)
    if ctx.dry_run:
        return _delete_response(engine, rt, old)
    return _delete_response(engine, rt, remove(engine, rt, new))


def _check_preconditions(rt: ResourceType, name: str, old: dict[str, Any], options: dict[str, Any]) -> None:
    meta = old.get("metadata") or {}
    pre = options.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != meta.get("uid"):
        raise errors.conflict(
            rt.resource,
            rt.group,
            name,
            f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
        )
    if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(meta.get("resourceVersion")):
        raise errors.conflict(
            rt.resource,
            rt.group,
            name,
            f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
            f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
        )


def _delete_response(engine: Engine, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    if rt.extra.get("return_deleted", True):
        return engine.view(rt, obj)
    meta = obj.get("metadata") or {}
    details: dict[str, Any] = {"name": meta.get("name"), "kind": rt.resource, "uid": meta.get("uid")}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def remove(engine: Engine, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """Remove a stored object, announcing ``obj`` (its last state) as DELETED, with the kind's hooks around it."""
    strategy = engine.strategy(rt)
    gr = engine.gr(rt)
    strategy.before_remove(engine, rt, obj)
    if engine.store.get(gr, *object_key(obj)) is None:
        return obj
    stored = engine.store.commit(gr, obj, deleted=True)
    strategy.after_remove(engine, rt, obj)
    engine.on_change()
    return stored


async def delete_collection(
    engine: Engine,
    rt: ResourceType,
    namespace: str | None,
    *,
    label_selector: str | None,
    field_selector: str | None,
    options: dict[str, Any],
    ctx: WriteContext,
) -> dict[str, Any]:
    items, meta = engine.list_objects(
        rt, namespace, ListOptions(label_selector=label_selector, field_selector=field_selector)
    )
    deleted = []
    for item in items:
        item_meta = item["metadata"]
        try:
            deleted.append(await delete(engine, rt, item_meta.get("namespace") or "", item_meta["name"], options, ctx))
        except errors.ApiError as exc:
            if exc.code != 404:
                raise
    for d in deleted:
        if not rt.is_custom:
            d.pop("apiVersion", None)
            d.pop("kind", None)
    return {
        "kind": rt.list_kind,
        "apiVersion": rt.api_version,
        "metadata": meta,
        "items": [d for d in deleted if d.get("kind") != "Status"],
    }
