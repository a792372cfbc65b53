"""CustomResourceDefinition handling: validate a CRD, fill its status, and turn it into served ResourceTypes.

A CRD becomes one ResourceType per served version, all sharing one storage bucket (the storage
version's), because with ``conversion.strategy: None`` versions differ only in ``apiVersion``. The CRD
status (NamesAccepted, Established, acceptedNames, storedVersions) is set in the same write rather
than by a separate controller, so ``kubectl wait --for=condition=Established`` returns at once.
Webhook conversion is not supported: such a CRD is rejected with the reason.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ray_operator.apimachinery.names import dns1035_label_errors
from ray_operator.sandbox import errors
from ray_operator.sandbox.resources import ALL_VERBS, ResourceType

_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def _version_priority(name: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first; other names last."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", name)
    if not m:
        return (0, 0, 0)
    level = {"alpha": 1, "beta": 2, None: 3}[m.group(2)]
    return (level, int(m.group(1)), int(m.group(3) or 0))


def sort_versions(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (_version_priority(n), n), reverse=True)


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
