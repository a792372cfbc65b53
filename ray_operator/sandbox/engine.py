"""The request pipeline of the emulator, independent of HTTP: get, list, create, update, patch and delete.

Each write follows kube-apiserver's order: decode and check the body, prune and default (custom
resources, through ``schema.py``), mutating admission, server-side preparation (name, uid, timestamps,
generation, status reset), validation, validating admission, then the commit at the next
resourceVersion. Writes that change nothing are answered with the stored object and commit nothing,
so a controller that writes the same status every reconcile does not wake itself up.

Schema pruning, defaulting and validation (``schema.py``), strategic merge patch (``smp.py``) and the
admission chain (``admission.py``) live in modules of their own; this one only orders them. Pods on a
node run by the fake kubelet are deleted gracefully (the kubelet finishes them), others at once. GC and
namespace deletion run in ``gc.py`` (they use this engine's internal calls and skip admission). Decided against: one
class per verb (the verbs share most of the pipeline) and per-resource strategy classes (the few
type-specific rules are small functions in ``builtins.py``/``crds.py``).
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from ray_operator.sandbox import builtins, crds, errors, schema
from ray_operator.sandbox.admission import AdmissionAttributes
from ray_operator.sandbox.admission.configuration import validate_webhook_configuration
from ray_operator.sandbox.registry import Registry
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema import decoding, objectmeta, patching, smp
from ray_operator.sandbox.schema import definitions as builtin_schemas
from ray_operator.sandbox.storage import managedfields
from ray_operator.sandbox.storage.listing import Lister
from ray_operator.sandbox.storage.store import GroupResource, Store, clone, object_key

log = logging.getLogger(__name__)

_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
CRD_GR: GroupResource = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_GR: GroupResource = ("", "namespaces")
SERVICE_GR: GroupResource = ("", "services")
MUTATING_GR: GroupResource = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
VALIDATING_GR: GroupResource = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")
DEFAULT_USER = {"username": "system:admin", "uid": "", "groups": ["system:masters", "system:authenticated"]}

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


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


MAX_ATTEMPTS = 5
"""Times a patch or unconditional update is recomputed when another write lands during its admission."""
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class _StaleRead(Exception):
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


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def _strip_meta(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = clone(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in keys:
            meta.pop(key, None)
    return out


def _without(obj: dict[str, Any], *top: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in top}


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        clock: Callable[[], datetime],
        admission: Any | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.admission = admission
        self.on_change = on_change or (lambda: None)
        self.graceful_pods = False
        """Pods on a node are deleted gracefully (the kubelet finishes them); set when a kubelet runs."""
        self.lister = Lister(store)

    # ------------------------------------------------------------------------------------ helpers

    @staticmethod
    def gr(rt: ResourceType) -> GroupResource:
        """Where the type's objects are stored (events.k8s.io events share the core events store)."""
        storage = rt.extra.get("storage_gr")
        return (str(storage[0]), str(storage[1])) if storage else (rt.group, rt.resource)

    def now(self) -> str:
        return format_time(self.clock())

    def view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object as the request's version sees it."""
        if rt.extra.get("convert") == "events.k8s.io/v1":
            return builtins.event_from_core(obj)
        out = clone(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    def to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The request-version object in its stored form (storage version, or core events)."""
        if rt.extra.get("convert") == "events.k8s.io/v1":
            return builtins.event_to_core(obj)
        obj["apiVersion"] = self._storage_api_version(rt)
        obj["kind"] = rt.kind
        return obj

    def _storage_api_version(self, rt: ResourceType) -> str:
        version = rt.extra.get("storage_version", rt.version)
        return f"{rt.group}/{version}" if rt.group else str(version)

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
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Matching stored objects (as views) and the list metadata (resourceVersion, continue...)."""
        matched, list_meta = self.lister.list(
            rt,
            self.gr(rt),
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
            resource_version_match=resource_version_match,
        )
        items = [self.view(rt, o) for o in matched]
        if not rt.is_custom:
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        return items, list_meta

    # ---------------------------------------------------------------------------- schema plumbing

    def _schema_prune_default(self, rt: ResourceType, obj: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
        """Decode-level checks: unknown fields per fieldValidation, then defaults (CRs) or JSON types (built-ins)."""
        if not rt.is_custom:
            return self._builtin_decode(rt, obj, ctx)
        if rt.schema is None:
            return obj
        pruned, unknown = schema.prune(obj, rt.schema)
        self._unknown_fields(rt, unknown, ctx)
        defaulted: dict[str, Any] = schema.apply_defaults(pruned, rt.schema)
        return defaulted

    def _builtin_decode(self, rt: ResourceType, obj: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
        decoding.check_types(obj, group=rt.group, version=rt.version, kind=rt.kind)
        pruned, unknown = builtin_schemas.prune_unknown_fields(obj, api_version=rt.api_version, kind=rt.kind)
        self._unknown_fields(rt, unknown, ctx)
        return pruned

    def _unknown_fields(self, rt: ResourceType, unknown: list[str], ctx: WriteContext) -> None:
        if unknown and ctx.field_validation == "Strict":
            listed = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {listed}'
            )
        if unknown and ctx.field_validation == "Warn":
            ctx.warnings.extend(f'unknown field "{u}"' for u in unknown)

    def _schema_validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[errors.Cause]:
        if not rt.is_custom or rt.schema is None:
            return []
        causes: list[errors.Cause] = schema.validate(obj, rt.schema, old=old)
        return causes

    def _raise_invalid(self, rt: ResourceType, name: str, causes: list[errors.Cause]) -> None:
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)

    # ---------------------------------------------------------------------------------- admission

    def _admits(self, phase: str) -> bool:
        """Whether any webhook configuration of this phase exists (callers skip building views otherwise)."""
        if self.admission is None:
            return False
        return bool(self.store.items(MUTATING_GR if phase == "mutate" else VALIDATING_GR))

    async def _admit(
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
        if admission is None or not self._admits(phase):
            return obj
        gr = MUTATING_GR if phase == "mutate" else VALIDATING_GR
        configurations = [clone(c) for c in self.store.items(gr)]
        if self.gr(rt) == NAMESPACE_GR and operation != "CREATE":
            namespace = name  # a Namespace is admitted "in" itself, as upstream
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

    # ------------------------------------------------------------------------------- type-specific

    def _used_ips(self) -> list[str]:
        return [str((s.get("spec") or {}).get("clusterIP")) for s in self.store.items(SERVICE_GR)]

    def _used_node_ports(self) -> list[int]:
        return [
            int(p["nodePort"])
            for s in self.store.items(SERVICE_GR)
            for p in (s.get("spec") or {}).get("ports") or ()
            if isinstance(p, dict) and isinstance(p.get("nodePort"), int)
        ]

    def _builtin_defaults(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        gr = self.gr(rt)
        if gr == ("", "pods"):
            obj = builtins.default_pod(obj)
            if old is None:
                obj["status"] = {"phase": "Pending", "qosClass": builtins.qos_class(obj.get("spec") or {})}
        elif gr == SERVICE_GR:
            obj = builtins.default_service(obj, old=old, used_ips=self._used_ips, used_node_ports=self._used_node_ports)
        elif gr == ("", "secrets"):
            obj = builtins.prepare_secret(obj)
        elif gr == NAMESPACE_GR:
            obj = builtins.default_namespace(obj)
        elif rt.group == "apps" and rt.kind in builtins.WORKLOAD_KINDS:
            obj = builtins.default_workload(rt.kind, obj)
        elif gr == CRD_GR:
            obj = crds.default_crd(obj)
        return obj

    def _type_validate(self, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        gr = self.gr(rt)
        if gr == CRD_GR:
            causes = crds.validate_crd(obj)
            if not causes:
                for i, version in enumerate(obj["spec"]["versions"]):
                    for problem in schema.is_structural(version["schema"]["openAPIV3Schema"]):
                        field, _, message = problem.partition(": ")
                        causes.append(
                            errors.Cause(
                                reason="FieldValueInvalid"
                                if "Invalid value" in message
                                else "FieldValueForbidden"
                                if "Forbidden" in message
                                else "FieldValueRequired",
                                field=f"spec.versions[{i}].schema.openAPIV3Schema" + (f".{field}" if field else ""),
                                message=message or problem,
                            )
                        )
            return causes
        if gr in (MUTATING_GR, VALIDATING_GR):
            result: list[errors.Cause] = validate_webhook_configuration(obj, mutating=gr == MUTATING_GR)
            return result
        return []

    def _after_prepare(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if self.gr(rt) == CRD_GR:
            obj["status"] = crds.crd_status(obj, now=self.now(), old_status=(old or {}).get("status"))
            for existing in self.store.items(CRD_GR):
                if existing["metadata"]["name"] == obj["metadata"]["name"]:
                    continue
                spec, other = obj["spec"], existing["spec"]
                if other.get("group") == spec.get("group") and (other.get("names") or {}).get("kind") == (
                    spec.get("names") or {}
                ).get("kind"):
                    raise errors.invalid(
                        rt.kind,
                        rt.group,
                        obj["metadata"]["name"],
                        [
                            errors.Cause(
                                reason="FieldValueInvalid",
                                field="status.acceptedNames.kind",
                                message=f'Invalid value: "{spec["names"]["kind"]}": is already in use',
                            )
                        ],
                    )

    # -------------------------------------------------------------------------------- managedFields

    def _record_manager(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        manager: str,
        operation: str,
        sub: str,
        fields: dict[str, Any] | None = None,
    ) -> None:
        meta = _meta(obj)
        entries = [e for e in (meta.get("managedFields") or ()) if isinstance(e, dict)]
        before = _strip_meta(old, patching.IGNORED_METADATA) if old else {}
        after = _strip_meta(obj, patching.IGNORED_METADATA)
        changed = managedfields.changed_fields(before, after)
        if fields is None:
            fields = changed
        previous = next(
            (
                e
                for e in entries
                if e.get("manager") == manager and e.get("operation") == operation and e.get("subresource", "") == sub
            ),
            None,
        )
        entries = managedfields.transfer(entries, keep=previous, paths=managedfields.leaf_paths(changed))
        if operation == "Update" and previous is not None:
            fields = managedfields.union(previous.get("fieldsV1") or {}, fields)
        entries = [e for e in entries if e is not previous]
        if fields:
            entries.append(self._manager_entry(rt, manager=manager, operation=operation, sub=sub, fields=fields))
        if entries:
            meta["managedFields"] = entries
        else:
            meta.pop("managedFields", None)

    def _manager_entry(
        self, rt: ResourceType, *, manager: str, operation: str, sub: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": manager,
            "operation": operation,
            "apiVersion": rt.api_version,
            "time": self.now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }
        if sub:
            entry["subresource"] = sub
        return entry

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
        meta = _meta(obj)
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
        if rt.is_custom:
            crd = self.store.get(CRD_GR, "", str(rt.extra.get("crd", "")))
            if crd is not None and (crd.get("metadata") or {}).get("deletionTimestamp"):
                raise errors.ApiError(
                    code=405,
                    reason="MethodNotAllowed",
                    message="create not allowed while custom resource definition is terminating",
                )
        obj = self._schema_prune_default(rt, obj, ctx)
        obj = self._builtin_defaults(rt, obj, None)
        name = str(_meta(obj).get("name") or "")
        mutated = await self._admit(
            "mutate", operation="CREATE", rt=rt, sub=sub, namespace=namespace, name=name, obj=obj, old=None, ctx=ctx
        )
        if mutated is not None and mutated != obj:
            obj = self._schema_prune_default(rt, dict(mutated), WriteContext(field_validation="Ignore"))
        meta = _meta(obj)
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
        causes = objectmeta.validate_meta(rt, obj, create=True) + self._type_validate(rt, obj)
        if rt.extra.get("convert") == "events.k8s.io/v1":
            causes += builtins.validate_new_event(obj)
        causes += self._schema_validate(rt, obj, None)
        self._raise_invalid(rt, name, causes)
        obj = self.to_storage(rt, obj)
        self._after_prepare(rt, obj, None)
        if self._admits("validate"):  # the view is a copy: built only when a webhook will see it
            await self._admit(
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
        self._record_manager(
            rt,
            obj,
            None,
            manager=ctx.field_manager,
            operation="Update" if applied_fields is None else "Apply",
            sub="",
            fields=patching.touched_fields(obj) if applied_fields is None else applied_fields,
        )
        if ctx.dry_run:
            return self.view(rt, obj)
        stored = self.store.commit(self.gr(rt), obj)
        self._after_commit(rt, stored, None)
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
        meta = _meta(obj)
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
        meta = _meta(obj)
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
                return await self._update_pipeline(rt, old, clone(obj), ctx, sub=sub, operation="Update")
            except _StaleRead:
                if meta.get("resourceVersion"):
                    break  # the precondition no longer holds
        raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)

    async def _update_pipeline(
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
        meta = _meta(new)
        rv = meta.get("resourceVersion")
        if rv and str(rv) != str(old_meta.get("resourceVersion")):
            raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)
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
        meta = _meta(new)
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
        if sub != "status":
            new = self._schema_prune_default(rt, new, ctx)
            new = self._builtin_defaults(rt, new, old)
        elif not rt.is_custom:
            decoding.check_types(new, group=rt.group, version=rt.version, kind=rt.kind)
        old_view = self.view(rt, old)
        mutated = await self._admit(
            "mutate", operation="UPDATE", rt=rt, sub=sub, namespace=namespace, name=name, obj=new, old=old_view, ctx=ctx
        )
        if mutated is not None and mutated != new:
            new = self._schema_prune_default(rt, mutated, WriteContext(field_validation="Ignore"))
        meta = _meta(new)
        causes = objectmeta.validate_meta(rt, new, create=False) + self._type_validate(rt, new)
        causes += self._schema_validate(rt, new, old_view)
        if sub != "status" and self.gr(rt) == ("", "pods"):
            causes += builtins.pod_update_causes(new, old)
        self._raise_invalid(rt, name, causes)
        new = self.to_storage(rt, new)
        meta = _meta(new)
        if rt.is_custom or rt.extra.get("generation"):
            skip = ("metadata", "status") if rt.has_status else ("metadata",)
            changed = _without(new, *skip, "apiVersion", "kind") != _without(old, *skip, "apiVersion", "kind")
            meta["generation"] = int(old_meta.get("generation") or 1) + (1 if changed else 0)
        self._after_prepare(rt, new, old)
        if self._admits("validate"):  # the view is a copy: built only when a webhook will see it
            await self._admit(
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
        if _strip_meta(new, comparable) == _strip_meta(old, comparable):
            return old_view
        if not managed_override:
            self._record_manager(
                rt, new, old, manager=ctx.field_manager, operation=operation, sub=sub, fields=applied_fields
            )
        if self.store.get(self.gr(rt), namespace, name) is not old:
            raise _StaleRead  # another write landed while admission webhooks ran
        if ctx.dry_run:
            return self.view(rt, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self.view(rt, self.remove(rt, new))
        stored = self.store.commit(self.gr(rt), new)
        self._after_commit(rt, stored, old)
        return self.view(rt, stored)

    # -------------------------------------------------------------------------------------- patch

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: bytes,
        content_type: str,
        ctx: WriteContext,
        *,
        sub: str = "",
    ) -> tuple[int, dict[str, Any]]:
        self.deprecation(rt, ctx)
        media = content_type.split(";")[0].strip().lower()
        accepted = errors.CR_PATCH_MEDIA_TYPES if rt.is_custom else errors.BUILTIN_PATCH_MEDIA_TYPES
        if media not in (MERGE, JSON_PATCH, STRATEGIC, APPLY) or (media == STRATEGIC and rt.is_custom):
            raise errors.unsupported_media_type(accepted)
        if media == APPLY:
            return await self._apply(rt, namespace, name, body, ctx, sub=sub)
        patch = patching.decode_json(body)
        for _ in range(MAX_ATTEMPTS):
            old = self.get_stored(rt, namespace, name)
            new = self._patched(rt, self.view(rt, old), media, patch)
            try:
                return 200, await self._update_pipeline(rt, old, new, ctx, sub=sub, operation="Update")
            except _StaleRead:
                continue
        raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)

    def _patched(self, rt: ResourceType, current: dict[str, Any], media: str, patch: Any) -> dict[str, Any]:
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
        self, rt: ResourceType, namespace: str, name: str, body: bytes, ctx: WriteContext, *, sub: str
    ) -> tuple[int, dict[str, Any]]:
        if not ctx.field_manager or ctx.options.get("_manager_defaulted"):
            raise errors.bad_request(
                "PATCH /apply requires fieldManager to be set (fieldManager is required for apply)"
            )
        try:
            applied = yaml.safe_load(body.decode())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(applied, dict):
            raise errors.bad_request("error decoding YAML: the applied configuration must be an object")
        raw_meta = applied.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        for _ in range(MAX_ATTEMPTS):
            try:
                return await self._apply_once(rt, namespace, name, applied, ctx, sub=sub)
            except _StaleRead:
                continue
        raise errors.conflict(rt.resource, rt.group, name, errors.STALE_OBJECT_DETAIL)

    async def _apply_once(
        self, rt: ResourceType, namespace: str, name: str, applied: dict[str, Any], ctx: WriteContext, *, sub: str
    ) -> tuple[int, dict[str, Any]]:
        applied_fields = patching.touched_fields(applied)
        existing = self.store.get(self.gr(rt), namespace if rt.namespaced else "", name)
        if existing is None:
            if sub:
                raise self._not_found(rt, name)
            body_obj = clone(applied)
            _meta(body_obj)["name"] = name
            return 201, await self.create(rt, namespace, body_obj, ctx, applied_fields=applied_fields)
        entries = [e for e in existing["metadata"].get("managedFields") or () if isinstance(e, dict)]
        previous = next(
            (
                e.get("fieldsV1")
                for e in entries
                if e.get("manager") == ctx.field_manager and e.get("operation") == "Apply"
            ),
            None,
        )
        if not ctx.force:
            found = managedfields.conflicts(
                entries,
                manager=ctx.field_manager,
                applied=applied,
                applied_paths=managedfields.leaf_paths(applied_fields),
                current=self.view(rt, existing),
            )
            if found and ctx.field_manager == "kubectl":
                allowed = managedfields.allowed_from_last_applied(self.view(rt, existing), patching.touched_fields)
                found = [c for c in found if not managedfields.covered(c[2], allowed)]
            if found:
                raise managedfields.conflict_error(found)
        live_annotations = (existing.get("metadata") or {}).get("annotations") or {}
        if ctx.field_manager == "kubectl" and managedfields.LAST_APPLIED in live_annotations:
            # kubectl's server-side apply keeps the client-side annotation current, as upstream does.
            applied = clone(applied)
            annotations = _meta(applied).setdefault("annotations", {})
            annotations[managedfields.LAST_APPLIED] = json.dumps(applied, separators=(",", ":"), sort_keys=True)
        new = patching.server_side_apply(self.view(rt, existing), applied, previous_fields=previous)
        return 200, await self._update_pipeline(
            rt, existing, new, ctx, sub=sub, operation="Apply", applied_fields=applied_fields
        )

    # ------------------------------------------------------------------------------------- delete

    async def delete(
        self, rt: ResourceType, namespace: str, name: str, options: dict[str, Any], ctx: WriteContext
    ) -> dict[str, Any]:
        """Delete per DeleteOptions; returns the response body (the object, or a Success Status for CRs)."""
        self.deprecation(rt, ctx)
        old = self.get_stored(rt, namespace, name)
        self._check_preconditions(rt, name, old, options)
        if self.gr(rt) == NAMESPACE_GR and name in ("default", "kube-system", "kube-public"):
            raise errors.forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )
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
            if not self._admits(phase):
                continue
            await self._admit(
                phase,
                operation="DELETE",
                rt=rt,
                sub="",
                namespace=namespace,
                name=name,
                obj=None,
                old=self.view(rt, old),
                ctx=ctx,
            )
        old = self.get_stored(rt, namespace, name)  # webhooks were awaited: act on the latest state
        self._check_preconditions(rt, name, old, options)
        new = clone(old)
        new_meta = _meta(new)
        finalizers = list(new_meta.get("finalizers") or [])
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if self.gr(rt) == CRD_GR and not new_meta.get("deletionTimestamp"):
            # Its objects are deleted first (their finalizers respected), then the CRD goes (gc.py).
            finalizers.append(CRD_CLEANUP_FINALIZER)
            status = new.setdefault("status", {})
            status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != "Terminating"] + [
                {
                    "type": "Terminating",
                    "status": "True",
                    "lastTransitionTime": self.now(),
                    "reason": "InstanceDeletionInProgress",
                    "message": "CustomResource deletion is in progress",
                }
            ]
        is_namespace = self.gr(rt) == NAMESPACE_GR
        if is_namespace:
            new.setdefault("status", {})["phase"] = "Terminating"
        grace = self._pod_grace(rt, old, options)
        if finalizers or is_namespace or grace:
            if ctx.dry_run:
                return self.view(rt, new)
            if finalizers:
                new_meta["finalizers"] = finalizers
            if grace:
                previous = new_meta.get("deletionGracePeriodSeconds")
                if not new_meta.get("deletionTimestamp") or (isinstance(previous, int) and grace < previous):
                    new_meta["deletionTimestamp"] = format_time(self.clock() + timedelta(seconds=grace))
                    new_meta["deletionGracePeriodSeconds"] = grace
            elif not new_meta.get("deletionTimestamp"):
                new_meta["deletionTimestamp"] = self.now()
                new_meta["deletionGracePeriodSeconds"] = 0
            if _strip_meta(new, ("resourceVersion",)) == _strip_meta(old, ("resourceVersion",)):
                return self.view(rt, old)
            stored = self.store.commit(self.gr(rt), new)
            self.on_change()
            return self.view(rt, stored)
        if ctx.dry_run:
            return self._delete_response(rt, old)
        return self._delete_response(rt, self.remove(rt, new))

    def bind(self, rt: ResourceType, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """``pods/binding``: what the scheduler does; sets ``spec.nodeName`` and the PodScheduled condition."""
        pod = self.get_stored(rt, namespace, name)
        target = body.get("target") if isinstance(body, dict) else None
        node = target.get("name") if isinstance(target, dict) else None
        if not node:
            raise errors.invalid(
                "Binding",
                "",
                name,
                [errors.Cause(reason="FieldValueRequired", field="target.name", message="Required value")],
            )
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict("pods/binding", "", name, f'pod {name} is already assigned to node "{current}"')
        new = clone(pod)
        new.setdefault("spec", {})["nodeName"] = node
        conditions = [
            c for c in (new.setdefault("status", {}).get("conditions") or ()) if c.get("type") != "PodScheduled"
        ]
        conditions.append(
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": self.now()}
        )
        new["status"]["conditions"] = conditions
        self.store.commit(self.gr(rt), new)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _check_preconditions(self, rt: ResourceType, name: str, old: dict[str, Any], options: dict[str, Any]) -> None:
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

    def _pod_grace(self, rt: ResourceType, pod: dict[str, Any], options: dict[str, Any]) -> int:
        """Seconds of graceful termination for a pod on a node a (fake) kubelet runs; 0 means delete now."""
        if self.gr(rt) != ("", "pods") or not self.graceful_pods:
            return 0
        if not (pod.get("spec") or {}).get("nodeName") or (pod.get("status") or {}).get("phase") in (
            "Succeeded",
            "Failed",
        ):
            return 0
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return max(int(grace), 0) if isinstance(grace, int) and not isinstance(grace, bool) else 30

    def _delete_response(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.extra.get("return_deleted", True):
            return self.view(rt, obj)
        meta = obj.get("metadata") or {}
        details: dict[str, Any] = {"name": meta.get("name"), "kind": rt.resource, "uid": meta.get("uid")}
        if rt.group:
            details["group"] = rt.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def remove(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Remove a stored object, announcing ``obj`` (its last state) as DELETED; CRDs take their objects along.

        Used by deletes, by the update that drops the last finalizer, and by the GC.
        """
        gr = self.gr(rt)
        if gr == CRD_GR:
            self._remove_crd_contents(obj)
        if self.store.get(gr, *object_key(obj)) is None:
            return obj
        stored = self.store.commit(gr, obj, deleted=True)
        if gr == CRD_GR:
            self.registry.remove_crd(obj["metadata"]["name"])
        self.on_change()
        return stored

    def _remove_crd_contents(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        gr = (str(spec.get("group")), str((spec.get("names") or {}).get("plural")))
        for obj in self.store.items(gr):
            self.store.commit(gr, obj, deleted=True)

    def _after_commit(self, rt: ResourceType, stored: dict[str, Any], old: dict[str, Any] | None) -> None:
        if self.gr(rt) == CRD_GR:
            name = stored["metadata"]["name"]
            self.registry.set_crd(name, crds.crd_resource_types(stored))
        if self.gr(rt) == NAMESPACE_GR and old is None:
            self._default_service_account(stored["metadata"]["name"])
        if (stored.get("metadata") or {}).get("ownerReferences") or (stored.get("metadata") or {}).get(
            "deletionTimestamp"
        ):
            self.on_change()

    def _default_service_account(self, namespace: str) -> None:
        """What the service-account controller does for every new namespace."""
        sa_gr = ("", "serviceaccounts")
        if self.store.get(sa_gr, namespace, "default") is None:
            self.store.commit(
                sa_gr,
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {
                        "name": "default",
                        "namespace": namespace,
                        "uid": str(uuid.uuid4()),
                        "creationTimestamp": self.now(),
                    },
                },
            )

    async def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None,
        field_selector: str | None,
        options: dict[str, Any],
        ctx: WriteContext,
    ) -> dict[str, Any]:
        items, meta = self.list_objects(rt, namespace, label_selector=label_selector, field_selector=field_selector)
        deleted = []
        for item in items:
            item_meta = item["metadata"]
            try:
                deleted.append(await self.delete(rt, item_meta.get("namespace") or "", item_meta["name"], options, ctx))
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

    # ----------------------------------------------------------------------------------- internal

    def seed(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an object as-is plus server metadata, bypassing admission and validation (control API)."""
        obj = clone(obj)
        meta = _meta(obj)
        if not meta.get("name"):
            raise errors.bad_request("seeded objects need metadata.name")
        if rt.namespaced:
            meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", self.now())
        if rt.is_custom or rt.extra.get("generation"):
            meta.setdefault("generation", 1)
        obj = self._builtin_defaults(rt, obj, self.store.get(self.gr(rt), *object_key(obj)))
        obj = self.to_storage(rt, obj)
        if self.gr(rt) == CRD_GR:
            self._raise_invalid(rt, str(meta["name"]), crds.validate_crd(obj))
            self._after_prepare(rt, obj, None)
        stored = self.store.commit(self.gr(rt), obj)
        self._after_commit(rt, stored, None)
        return self.view(rt, stored)

    def update_internal(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Commit a controller-side change (GC, namespace controller); removes the object if it is finished."""
        meta = _meta(obj)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self.remove(rt, obj)
        stored = self.store.commit(self.gr(rt), obj)
        self.on_change()
        return stored
