"""CustomResourceDefinitions, and the custom resources they serve: both strategies of apiextensions.

A CRD is validated (names, scope, one storage version, structural schemas), defaulted, and becomes
one ResourceType per served version, all sharing one storage bucket (the storage version's), because
with ``conversion.strategy: None`` versions differ only in ``apiVersion``. The CRD status
(NamesAccepted, Established, acceptedNames, storedVersions) is set in the same write rather than by a
separate controller, so ``kubectl wait --for=condition=Established`` returns at once; a kind already
served in the group is refused. Deleting a CRD marks it ``Terminating`` behind the cleanup finalizer:
the garbage collector deletes its objects (their finalizers respected), then the CRD, and its types
stop being served. Custom resources are pruned, defaulted and validated against their version's
structural schema (``schema/``), and cannot be created while their CRD is terminating.
Decided against: webhook conversion (such a CRD is rejected with the reason) and a separate
establishing controller (its delay would only make tests wait).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ray_operator.apimachinery.names import dns1035_label_errors
from ray_operator.sandbox import errors, schema
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.context import WriteContext, object_meta
from ray_operator.sandbox.engine.strategy import Collector, Strategy, StrategyHost, report_unknown_fields
from ray_operator.sandbox.resources import ALL_VERBS, ResourceType
from ray_operator.sandbox.storage.store import GroupResource

_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
CRD_GR: GroupResource = ("apiextensions.k8s.io", "customresourcedefinitions")
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def default_crd(crd: dict[str, Any]) -> dict[str, Any]:
    """The defaults apiextensions adds (conversion strategy, singular, listKind)."""
    out = copy.deepcopy(crd)
    spec = out.setdefault("spec", {})
    if not isinstance(spec, dict):
        return out
    spec.setdefault("conversion", {"strategy": "None"})
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    return out


def validate_crd(crd: dict[str, Any]) -> list[errors.Cause]:
    causes: list[errors.Cause] = []

    def add(reason: str, field: str, message: str) -> None:
        causes.append(errors.Cause(reason=reason, field=field, message=message))

    spec = crd.get("spec")
    if not isinstance(spec, dict):
        add("FieldValueRequired", "spec", "Required value")
        return causes
    group = spec.get("group")
    raw_names = spec.get("names")
    names: dict[str, Any] = raw_names if isinstance(raw_names, dict) else {}
    plural = names.get("plural")
    name = (crd.get("metadata") or {}).get("name", "")
    if not group:
        add("FieldValueRequired", "spec.group", "Required value")
    elif "." not in str(group):
        add("FieldValueInvalid", "spec.group", f'Invalid value: "{group}": should be a domain with at least one dot')
    if not plural:
        add("FieldValueRequired", "spec.names.plural", "Required value")
    elif plural_errors := dns1035_label_errors(str(plural)):
        add("FieldValueInvalid", "spec.names.plural", f'Invalid value: "{plural}": {",".join(plural_errors)}')
    if not names.get("kind"):
        add("FieldValueRequired", "spec.names.kind", "Required value")
    elif not _KIND.match(str(names["kind"])):
        add("FieldValueInvalid", "spec.names.kind", f'Invalid value: "{names["kind"]}": must be a valid kind name')
    if group and plural and name != f"{plural}.{group}":
        add("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        add(
            "FieldValueNotSupported",
            "spec.scope",
            f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"',
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        add(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: null: must have exactly one version marked as storage version",
        )
        return causes
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage") is True]
    if len(storage) != 1:
        add(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        )
    seen: set[str] = set()
    for i, v in enumerate(versions):
        if not isinstance(v, dict) or not v.get("name"):
            add("FieldValueRequired", f"spec.versions[{i}].name", "Required value")
            continue
        if v["name"] in seen:
            add("FieldValueInvalid", f"spec.versions[{i}].name", f'Invalid value: "{v["name"]}": must be unique')
        seen.add(v["name"])
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            add(
                "FieldValueRequired",
                f"spec.versions[{i}].schema.openAPIV3Schema",
                "Required value: schemas are required",
            )
    conversion = spec.get("conversion") or {}
    if isinstance(conversion, dict) and conversion.get("strategy", "None") != "None":
        add(
            "FieldValueNotSupported",
            "spec.conversion.strategy",
            f'Unsupported value: "{conversion.get("strategy")}": '
            'the sandbox serves only the "None" conversion strategy',
        )
    return causes


def crd_status(crd: dict[str, Any], *, now: str, old_status: dict[str, Any] | None) -> dict[str, Any]:
    spec = crd["spec"]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored = list((old_status or {}).get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)

    def condition(ctype: str, reason: str, message: str) -> dict[str, Any]:
        for c in (old_status or {}).get("conditions") or ():
            if c.get("type") == ctype and c.get("status") == "True":
                return dict(c)
        return {"type": ctype, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message}

    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": copy.deepcopy(spec["names"]),
        "storedVersions": stored,
    }


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a (validated) CRD."""
    spec = crd["spec"]
    names = spec["names"]
    group = spec["group"]
    storage_version = next(v["name"] for v in spec["versions"] if v.get("storage"))
    out: list[ResourceType] = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subs = version.get("subresources") or {}
        # The scale subresource is not served (LATER in the spec), so it is not advertised either.
        subresources = ("status",) if isinstance(subs, dict) and "status" in subs else ()
        warning = version.get("deprecationWarning")
        if version.get("deprecated") and not warning:
            warning = f"{group}/{version['name']} {names['kind']} is deprecated"
        out.append(
            ResourceType(
                group=group,
                version=version["name"],
                resource=names["plural"],
                kind=names["kind"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope") == "Namespaced",
                list_kind=names.get("listKind") or names["kind"] + "List",
                verbs=ALL_VERBS,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources,
                is_custom=True,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                storage=version["name"] == storage_version,
                deprecated=bool(version.get("deprecated")),
                deprecation_warning=warning if version.get("deprecated") else None,
                extra={
                    "crd": crd["metadata"]["name"],
                    "storage_version": storage_version,
                    "generation": True,
                    "return_deleted": False,
                },
            )
        )
    return out


def _structural_causes(crd: dict[str, Any]) -> list[errors.Cause]:
    """Every served version's schema must be structural (``schema.is_structural``), as causes."""
    causes: list[errors.Cause] = []
    for i, version in enumerate(crd["spec"]["versions"]):
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


def _objects_gr(crd: dict[str, Any]) -> GroupResource:
    spec = crd.get("spec") or {}
    return (str(spec.get("group")), str((spec.get("names") or {}).get("plural")))


class CrdStrategy(BuiltinStrategy):
    """CustomResourceDefinition objects: what makes a CRD serve, and stop serving, its custom resources."""

    def defaults(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return default_crd(obj)

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        causes = validate_crd(obj)
        return causes or _structural_causes(obj)

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        return self.validate(host, rt, obj)

    def validate_seed(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        return validate_crd(obj)

    def before_commit(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        obj["status"] = crd_status(obj, now=host.now(), old_status=(old or {}).get("status"))
        for existing in host.store.items(CRD_GR):
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

    def after_commit(
        self, host: StrategyHost, rt: ResourceType, stored: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        host.registry.set_crd(stored["metadata"]["name"], crd_resource_types(stored))

    def begin_delete(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], finalizers: list[str]) -> bool:
        if not object_meta(obj).get("deletionTimestamp"):
            # Its objects are deleted first (their finalizers respected), then the CRD goes (finish_deletion).
            finalizers.append(CRD_CLEANUP_FINALIZER)
            status = obj.setdefault("status", {})
            status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != "Terminating"] + [
                {
                    "type": "Terminating",
                    "status": "True",
                    "lastTransitionTime": host.now(),
                    "reason": "InstanceDeletionInProgress",
                    "message": "CustomResource deletion is in progress",
                }
            ]
        return False

    def before_remove(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> None:
        gr = _objects_gr(obj)
        for item in host.store.items(gr):
            host.store.commit(gr, item, deleted=True)

    def after_remove(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> None:
        host.registry.remove_crd(obj["metadata"]["name"])

    def finish_deletion(
        self, host: StrategyHost, collector: Collector, rt: ResourceType, obj: dict[str, Any]
    ) -> bool | None:
        """Delete a terminating CRD's objects; drop the cleanup finalizer once none is left."""
        if CRD_CLEANUP_FINALIZER not in (obj["metadata"].get("finalizers") or []):
            return None
        gr = _objects_gr(obj)
        object_rt = collector.storage_type(gr)
        remaining = host.store.items(gr)
        changed = False
        if object_rt is not None:
            for item in remaining:
                if not item["metadata"].get("deletionTimestamp"):
                    collector.delete_dependent(object_rt, item)
                    changed = True
        if host.store.items(gr):
            return changed
        collector.drop_finalizer(rt, obj, CRD_CLEANUP_FINALIZER)
        return True


class CustomResourceStrategy(Strategy):
    """Objects of a CRD: pruned, defaulted and validated against their version's structural schema."""

    def decode(
        self, rt: ResourceType, obj: dict[str, Any], ctx: WriteContext, *, subresource: str = ""
    ) -> dict[str, Any]:
        if subresource == "status" or rt.schema is None:
            return obj
        pruned, unknown = schema.prune(obj, rt.schema)
        report_unknown_fields(rt, unknown, ctx)
        defaulted: dict[str, Any] = schema.apply_defaults(pruned, rt.schema)
        return defaulted

    def check_create(self, host: StrategyHost, rt: ResourceType) -> None:
        crd = host.store.get(CRD_GR, "", str(rt.extra.get("crd", "")))
        if crd is not None and (crd.get("metadata") or {}).get("deletionTimestamp"):
            raise errors.ApiError(
                code=405,
                reason="MethodNotAllowed",
                message="create not allowed while custom resource definition is terminating",
            )

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        return schema.validate(obj, rt.schema, old=None) if rt.schema is not None else []

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        return schema.validate(obj, rt.schema, old=old) if rt.schema is not None else []
