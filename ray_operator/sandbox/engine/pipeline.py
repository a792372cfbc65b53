"""The request pipeline of the emulator, independent of HTTP: get, list, create, update and the shared write steps.

Each write follows kube-apiserver's order: decode and check the body (the kind's strategy prunes and
defaults custom resources against their schema, checks built-ins against their definitions), mutating
admission, server-side preparation (name, uid, timestamps, generation, status reset, the kind's
defaults), validation (object metadata here, the rest by the kind), validating admission, then the
commit at the next resourceVersion. Writes that change nothing are answered with the stored object
and commit nothing, so a controller that writes the same status every reconcile does not wake itself up.

The kind-specific steps are the strategies' (``strategy.py``, implemented in ``builtins/``); patches
and server-side apply are in ``patch.py``, deletion in ``deletion.py``, the garbage collector in
``gc.py``; schemas, admission and storage have packages of their own. This module only orders them.
Decided against: one class per verb (the verbs share most of the pipeline).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ray_operator.sandbox import errors, limits
from ray_operator.sandbox.admission import AdmissionAttributes
from ray_operator.sandbox.engine import deletion
from ray_operator.sandbox.engine import patch as patch_verbs
from ray_operator.sandbox.engine.context import (
    MAX_ATTEMPTS,
    MUTATING_GR,
    NAMESPACE_GR,
    VALIDATING_GR,
    StaleRead,
    WriteContext,
    format_time,
    object_meta,
    without,
)
from ray_operator.sandbox.engine.strategy import Strategies, Strategy
from ray_operator.sandbox.resources import Registry, ResourceType
from ray_operator.sandbox.schema import objectmeta, patching
from ray_operator.sandbox.storage import managedfields
from ray_operator.sandbox.storage.listing import Lister, ListOptions
from ray_operator.sandbox.storage.store import GroupResource, Store, clone, object_key, strip_meta

_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def immutable_meta_causes(meta: dict[str, Any], old_meta: dict[str, Any]) -> list[errors.Cause]:
    """A changed name, namespace or uid (a JSON patch can write them) is 422 ``field is immutable``, as
    upstream's ``ValidateObjectMetaUpdate``; the other server-set fields are reset silently below."""
    causes = []
    for key in ("name", "namespace", "uid"):
        value = meta.get(key)
        if value and value != old_meta.get(key):
            causes.append(
                errors.Cause(
                    reason="FieldValueInvalid",
                    field=f"metadata.{key}",
                    message=f"Invalid value: {json.dumps(value)}: field is immutable",
                )
            )
    return causes


class Engine:
    """Serves the verbs of every resource type over one store, with a strategy per kind."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        strategies: Strategies,
        clock: Callable[[], datetime],
        admission: Any | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.strategies = strategies
        self.clock = clock
        self.admission = admission
        self.on_change = on_change or (lambda: None)
        self.graceful_pods = False
        """Pods on a node are deleted gracefully (the kubelet finishes them); set when a kubelet runs."""
        self.object_check: Callable[[ResourceType, dict[str, Any], WriteContext], None] | None = None
        """Called with every object about to be created or updated (``sandbox/auth``: RBAC escalation)."""
        self.lister = Lister(store)

    # ------------------------------------------------------------------------------------ helpers

    @staticmethod
    def gr(rt: ResourceType) -> GroupResource:
        """Where the type's objects are stored (events.k8s.io events share the core events store)."""
        storage = rt.extra.get("storage_gr")
        return (str(storage[0]), str(storage[1])) if storage else (rt.group, rt.resource)

    def now(self) -> str:
        return format_time(self.clock())

    def strategy(self, rt: ResourceType) -> Strategy:
        return self.strategies.for_type(rt)

    def view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object as the request's version sees it."""
        return self.strategy(rt).to_view(rt, obj)

    def to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The request-version object in its stored form (storage version, or core events)."""
        return self.strategy(rt).to_storage(rt, obj)

    def _not_found(self, rt: ResourceType, name: str) -> errors.ApiError:
        return errors.not_found(rt.resource, rt.group, name)

    def get_stored(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self.gr(rt), namespace if rt.namespaced else "", name)
        if obj is None:
            raise self._not_found(rt, name)
        return obj

    def check_namespace_for_create(self, rt: ResourceType, namespace: str, name: str = "") -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(NAMESPACE_GR, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            # The NamespaceLifecycle admission plugin's Forbidden: it names the refused object and adds a cause.
            reason = f"unable to create new content in namespace {namespace} because it is being terminated"
            details: dict[str, Any] = {"kind": rt.resource}
            if name:
                details["name"] = name
            if rt.group:
                details["group"] = rt.group
            details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            subject = f'{rt.group_resource} "{name}"' if name else rt.group_resource
            raise errors.forbidden(f"{subject} is forbidden: {reason}", details=details)

    def deprecation(self, rt: ResourceType, ctx: WriteContext | None) -> None:
        if ctx is not None:
            ctx.warnings.extend(rt.deprecation_warnings)

    # -------------------------------------------------------------------------------------- reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        return self.view(rt, self.get_stored(rt, namespace, name))

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str | None,
        options: ListOptions | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Matching stored objects (as views) and the list metadata (resourceVersion, continue...)."""
        matched, list_meta = self.lister.list(rt, self.gr(rt), namespace, options or ListOptions())
        items = [self.view(rt, o) for o in matched]
        if not rt.is_custom:
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        return items, list_meta

    # ------------------------------------------------------------------------------ write helpers

    def _raise_invalid(self, rt: ResourceType, name: str, causes: list[errors.Cause]) -> None:
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)

    # ---------------------------------------------------------------------------------- admission

    def admits(self, phase: str) -> bool:
        """Whether any webhook configuration of this phase exists (callers skip building views otherwise)."""
        if self.admission is None:
            return False
        return bool(self.store.items(MUTATING_GR if phase == "mutate" else VALIDATING_GR))

    async def admit(
        self,
        phase: str,
        *,
        operation: str,
        rt: ResourceType,
        sub: str,
        namespace: str,
        name: str,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        ctx: WriteContext,
    ) -> dict[str, Any] | None:
        admission = self.admission
        if admission is None or not self.admits(phase):
            return obj
        gr = MUTATING_GR if phase == "mutate" else VALIDATING_GR
        configurations = [clone(c) for c in self.store.items(gr)]
        namespace = self.strategy(rt).admission_namespace(namespace, name, operation)
        attrs = AdmissionAttributes(
            operation=operation,
            rt=rt,
            sub_resource=sub,
            namespace=namespace,
            name=name,
            obj=clone(obj) if obj is not None else None,
            old_obj=clone(old) if old is not None else None,
            dry_run=ctx.dry_run,
            options=ctx.options,
            user_info=ctx.user,
        )
        if phase == "mutate":
            mutated, warnings = await admission.mutate(attrs, configurations)
            ctx.warnings.extend(warnings)
            return mutated if obj is not None else obj
        warnings = await admission.validate(attrs, configurations)
        ctx.warnings.extend(warnings)
        return obj

    # ------------------------------------------------------------------------------------- create

    async def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        ctx: WriteContext,
        *,
        sub: str = "",
        applied_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST; with ``applied_fields`` it is the create of a server-side apply (an ``Apply`` manager entry)."""
        self.deprecation(rt, ctx)
        obj = self._check_body(rt, namespace, body)
        meta = object_meta(obj)
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
            "selfLink",
        ):
            meta.pop(key, None)
        if rt.has_status:
            obj.pop("status", None)
        if rt.namespaced:
            self.check_namespace_for_create(rt, namespace, str(meta.get("name") or ""))
        strategy = self.strategy(rt)
        strategy.check_create(self, rt)
        obj = strategy.decode(rt, obj, ctx)
        obj = strategy.prepare_for_create(self, rt, obj)
        name = str(object_meta(obj).get("name") or "")
        mutated = await self.admit(
            "mutate", operation="CREATE", rt=rt, sub=sub, namespace=namespace, name=name, obj=obj, old=None, ctx=ctx
        )
        if mutated is not None and mutated != obj:
            obj = strategy.decode(rt, dict(mutated), WriteContext(field_validation="Ignore"))
        meta = object_meta(obj)
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        errors.Cause(
                            reason="FieldValueRequired",
                            field="metadata.name",
                            message="Required value: name or generateName is required",
                        )
                    ],
                )
            meta["name"] = str(prefix) + "".join(random.choice(_GENERATE_CHARS) for _ in range(5))
        name = meta["name"]
        if rt.namespaced:
            meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.now()
        if rt.is_custom or rt.extra.get("generation"):
            meta["generation"] = 1
        causes = objectmeta.validate_meta(rt, obj, create=True) + strategy.validate(self, rt, obj)
        self._raise_invalid(rt, name, causes)
        if self.object_check is not None:
            self.object_check(rt, obj, ctx)
        obj = strategy.to_storage(rt, obj)
        strategy.before_commit(self, rt, obj, None)
        if self.admits("validate"):  # the view is a copy: built only when a webhook will see it
            await self.admit(
                "validate",
                operation="CREATE",
                rt=rt,
                sub=sub,
                namespace=namespace,
                name=name,
                obj=self.view(rt, obj),
                old=None,
                ctx=ctx,
            )
        if self.store.get(self.gr(rt), namespace if rt.namespaced else "", name) is not None:
            raise errors.already_exists(rt.resource, rt.group, name)
        managedfields.record_manager(
            obj,
            None,
            api_version=rt.api_version,
            now=self.now(),
            manager=ctx.field_manager,
            operation="Update" if applied_fields is None else "Apply",
            sub="",
            fields=patching.touched_fields(obj) if applied_fields is None else applied_fields,
        )
        if ctx.dry_run:
            return self.view(rt, obj)
        limits.check_storable(obj)
        stored = self.store.commit(self.gr(rt), obj)
        self._after_commit(strategy, rt, stored, None)
        return self.view(rt, stored)

    def _check_body(self, rt: ResourceType, namespace: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get version/kind; "
                "json parse error: expected an object"
            )
        obj = clone(body)
        api_version = obj.get("apiVersion")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})"
            )
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        objectmeta.check_meta_types(rt, obj)
        meta = object_meta(obj)
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
        else:
            meta.pop("namespace", None)
        return obj

    # ------------------------------------------------------------------------------------- update

    async def update(
        self, rt: ResourceType, namespace: str, name: str, body: Any, ctx: WriteContext, *, sub: str = ""
    ) -> dict[str, Any]:
        self.deprecation(rt, ctx)
        obj = self._check_body(rt, namespace, body)
        meta = object_meta(obj)
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if not meta.get("resourceVersion") and rt.is_custom:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    errors.Cause(
                        reason="FieldValueInvalid",
                        field="metadata.resourceVersion",
                        message="Invalid value: 0: must be specified for an update",
                    )
                ],
            )
        for _ in range(MAX_ATTEMPTS):
            old = self.get_stored(rt, namespace, name)
            try:
                return await self.write_update(rt, old, clone(obj), ctx, sub=sub, operation="Update")
            except StaleRead:
                if meta.get("resourceVersion"):
                    break  # the precondition no longer holds
        raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)

    async def write_update(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        ctx: WriteContext,
        *,
        sub: str,
        operation: str,
        applied_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        objectmeta.check_meta_types(rt, new)
        old_meta = old.get("metadata") or {}
        name = str(old_meta.get("name"))
        namespace = str(old_meta.get("namespace") or "")
        meta = object_meta(new)
        rv = meta.get("resourceVersion")
        if rv and str(rv) != str(old_meta.get("resourceVersion")):
            raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)
        if sub == "resize":
            new = resized_pod(old, new)
        if sub == "status":
            status = new.get("status")
            new = clone(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif rt.has_status:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        meta = object_meta(new)
        if sub != "status":
            self._raise_invalid(rt, name, immutable_meta_causes(meta, old_meta))
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "name",
            "namespace",
        ):
            if key in old_meta:
                meta[key] = clone(old_meta[key])
            else:
                meta.pop(key, None)
        # A request that rewrites managedFields (kubectl's client-side-apply migration does) is taken as given;
        # an empty list leaves them unchanged and [{}] clears them, as upstream.
        client_fields = meta.get("managedFields")
        old_fields = old_meta.get("managedFields") or []
        managed_override = isinstance(client_fields, list) and bool(client_fields) and client_fields != old_fields
        if managed_override:
            meta["managedFields"] = [clone(e) for e in client_fields or () if isinstance(e, dict) and e]
        else:
            meta["managedFields"] = clone(old_fields)
        if old_meta.get("deletionTimestamp"):
            added = [f for f in meta.get("finalizers") or () if f not in (old_meta.get("finalizers") or ())]
            if added:
                listed = ", ".join(f'"{f}"' for f in added)
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        errors.Cause(
                            reason="FieldValueForbidden",
                            field="metadata.finalizers",
                            message="Forbidden: no new finalizers can be added if the object is being deleted, "
                            "found new "
                            f"finalizers []string{{{listed}}}",
                        )
                    ],
                )
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        strategy = self.strategy(rt)
        if sub != "status":
            new = strategy.decode(rt, new, ctx)
            new = strategy.prepare_for_update(self, rt, new, old)
        else:
            strategy.decode(rt, new, ctx, subresource="status")
        old_view = self.view(rt, old)
        mutated = await self.admit(
            "mutate", operation="UPDATE", rt=rt, sub=sub, namespace=namespace, name=name, obj=new, old=old_view, ctx=ctx
        )
        if mutated is not None and mutated != new:
            new = strategy.decode(rt, mutated, WriteContext(field_validation="Ignore"))
        meta = object_meta(new)
        causes = objectmeta.validate_meta(rt, new, create=False)
        causes += strategy.validate_update(self, rt, new, old_view, subresource=sub)
        self._raise_invalid(rt, name, causes)
        if self.object_check is not None:
            self.object_check(rt, new, ctx)
        new = strategy.to_storage(rt, new)
        meta = object_meta(new)
        if rt.is_custom or rt.extra.get("generation"):
            skip = ("metadata", "status") if rt.has_status else ("metadata",)
            changed = without(new, *skip, "apiVersion", "kind") != without(old, *skip, "apiVersion", "kind")
            meta["generation"] = int(old_meta.get("generation") or 1) + (1 if changed else 0)
        strategy.before_commit(self, rt, new, old)
        if self.admits("validate"):  # the view is a copy: built only when a webhook will see it
            await self.admit(
                "validate",
                operation="UPDATE",
                rt=rt,
                sub=sub,
                namespace=namespace,
                name=name,
                obj=self.view(rt, new),
                old=old_view,
                ctx=ctx,
            )
        comparable = ("resourceVersion",) if managed_override else ("resourceVersion", "managedFields")
        if strip_meta(new, comparable) == strip_meta(old, comparable):
            return old_view
        if not managed_override:
            managedfields.record_manager(
                new,
                old,
                api_version=rt.api_version,
                now=self.now(),
                manager=ctx.field_manager,
                operation=operation,
                sub=sub,
                fields=applied_fields,
            )
        if self.store.get(self.gr(rt), namespace, name) is not old:
            raise StaleRead  # another write landed while admission webhooks ran
        if ctx.dry_run:
            return self.view(rt, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self.view(rt, self.remove(rt, new))
        limits.check_storable(new)
        stored = self.store.commit(self.gr(rt), new)
        self._after_commit(strategy, rt, stored, old)
        return self.view(rt, stored)

    def _after_commit(
        self, strategy: Strategy, rt: ResourceType, stored: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        strategy.after_commit(self, rt, stored, old)
        if (stored.get("metadata") or {}).get("ownerReferences") or (stored.get("metadata") or {}).get(
            "deletionTimestamp"
        ):
            self.on_change()

    # ------------------------------------------------------------------------ patch, apply, delete

    # The verbs with modules of their own, bound as methods (``engine.patch(rt, ...)``): see ``patch.py``
    # (the four patch types and server-side apply) and ``deletion.py`` (DeleteOptions, finalizers, removal).
    patch = patch_verbs.patch
    delete = deletion.delete
    delete_collection = deletion.delete_collection
    remove = deletion.remove

    # ----------------------------------------------------------------------------------- internal

    def seed(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an object as-is plus server metadata, bypassing admission and validation (control API)."""
        obj = clone(obj)
        meta = object_meta(obj)
        if not meta.get("name"):
            raise errors.bad_request("seeded objects need metadata.name")
        if rt.namespaced:
            meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", self.now())
        if rt.is_custom or rt.extra.get("generation"):
            meta.setdefault("generation", 1)
        strategy = self.strategy(rt)
        existing = self.store.get(self.gr(rt), *object_key(obj))
        if existing is None:
            obj = strategy.prepare_for_create(self, rt, obj)
        else:
            obj = strategy.prepare_for_update(self, rt, obj, existing)
        obj = strategy.to_storage(rt, obj)
        self._raise_invalid(rt, str(meta["name"]), strategy.validate_seed(self, rt, obj))
        strategy.before_commit(self, rt, obj, None)
        stored = self.store.commit(self.gr(rt), obj)
        self._after_commit(strategy, rt, stored, None)
        return self.view(rt, stored)

    def update_internal(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Commit a controller-side change (GC, namespace controller); removes the object if it is finished."""
        meta = object_meta(obj)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self.remove(rt, obj)
        stored = self.store.commit(self.gr(rt), obj)
        self.on_change()
        return stored


def resized_pod(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``pods/resize``: only the containers' ``resources`` (matched by name) of ``new`` are taken; the
    rest of the write is ignored, as for the API server's resize subresource."""
    result = clone(old)
    wanted = {
        c.get("name"): c.get("resources")
        for c in ((new.get("spec") or {}).get("containers") or [])
        if isinstance(c, dict) and "resources" in c
    }
    for container in (result.get("spec") or {}).get("containers") or []:
        if isinstance(container, dict) and container.get("name") in wanted:
            container["resources"] = clone(wanted[container.get("name")])
    return result
