"""ObjectMeta checks shared by every kind: JSON types (decode errors) and field validation (422 causes).

Kept apart from the request pipeline because they are pure functions of one object, with the
apimachinery texts users see (``a lowercase RFC 1123 subdomain must consist of...``, ``Too long: must have
at most 262144 bytes``, ``json: cannot unmarshal ... into Go struct field ObjectMeta...``).
Decided against: a pydantic ObjectMeta model, which would reword every error and reorder fields.
"""

from __future__ import annotations

from typing import Any

from ray_operator.apimachinery.names import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    qualified_name_errors,
)
from ray_operator.sandbox import errors
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema.decoding import json_type

MAX_ANNOTATIONS = 262144


def validate_meta(rt: ResourceType, obj: dict[str, Any], *, create: bool) -> list[errors.Cause]:
    """ObjectMeta validation: name format, label keys and values, annotation size, owner references."""
    causes: list[errors.Cause] = []
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    if create and name:
        # One cause per problem, as upstream's ValidateObjectMeta reports what its name function returns.
        for message in name_errors(name, rule=str(rt.extra.get("dns_label_name") or "subdomain")):
            invalid = f'Invalid value: "{name}": {message}'
            causes.append(errors.Cause(reason="FieldValueInvalid", field="metadata.name", message=invalid))
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(
            errors.Cause(
                reason="FieldValueTypeInvalid",
                field="metadata.labels",
                message="Invalid value: must be a map of strings",
            )
        )
        labels = {}
    for key, value in labels.items():
        # One cause per problem, as upstream's ValidateLabels reports them.
        for err in qualified_name_errors(str(key)):
            causes.append(
                errors.Cause(
                    reason="FieldValueInvalid", field="metadata.labels", message=f'Invalid value: "{key}": {err}'
                )
            )
        value_errors = label_value_errors(value) if isinstance(value, str) else ["must be a string"]
        for verr in value_errors:
            causes.append(
                errors.Cause(
                    reason="FieldValueInvalid", field="metadata.labels", message=f'Invalid value: "{value}": {verr}'
                )
            )
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
        if size > MAX_ANNOTATIONS:
            causes.append(
                errors.Cause(
                    reason="FieldValueTooLong",
                    field="metadata.annotations",
                    message=f"Too long: must have at most {MAX_ANNOTATIONS} bytes",
                )
            )
    refs = meta.get("ownerReferences") or []
    controllers = [r for r in refs if isinstance(r, dict) and r.get("controller")]
    if len(controllers) > 1:
        causes.append(
            errors.Cause(
                reason="FieldValueInvalid",
                field="metadata.ownerReferences",
                message="Invalid value: []v1.OwnerReference{...}: Only one reference can have Controller set to "
                f'true. Found "true" in references for {controllers[0].get("kind")}/{controllers[0].get("name")} '
                f"and {controllers[1].get('kind')}/{controllers[1].get('name')}",
            )
        )
    for i, ref in enumerate(refs):
        for req in ("apiVersion", "kind", "name", "uid"):
            if not isinstance(ref, dict) or not ref.get(req):
                causes.append(
                    errors.Cause(
                        reason="FieldValueRequired" if req != "uid" else "FieldValueInvalid",
                        field=f"metadata.ownerReferences[{i}].{req}",
                        message="Required value" if req != "uid" else 'Invalid value: "": uid must not be empty',
                    )
                )
    return causes


_META_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    **{
        f: (str, "string")
        for f in (
            "name",
            "generateName",
            "namespace",
            "resourceVersion",
            "uid",
            "selfLink",
            "creationTimestamp",
            "deletionTimestamp",
        )
    },
    "generation": (int, "int64"),
    "deletionGracePeriodSeconds": (int, "int64"),
    "labels": (dict, "map[string]string"),
    "annotations": (dict, "map[string]string"),
    "finalizers": (list, "[]string"),
    "ownerReferences": (list, "[]v1.OwnerReference"),
    "managedFields": (list, "[]v1.ManagedFieldsEntry"),
}


def check_meta_types(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Decode errors for ObjectMeta fields of the wrong JSON type (400, as the API server's decoder)."""

    def fail(name: str, value: Any, go_type: str) -> errors.ApiError:
        return errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot unmarshal '
            f"{json_type(value)} into Go struct field ObjectMeta.metadata.{name} of type {go_type}"
        )

    meta = obj.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot unmarshal '
            f"{json_type(meta)} into Go struct field .metadata of type v1.ObjectMeta"
        )
    for key, raw in list(meta.items()):
        if raw is None:
            del meta[key]
            continue
        value: Any = raw
        expected = _META_TYPES.get(key)
        if expected is None:
            continue
        py_type, go_type = expected
        if not isinstance(value, py_type) or (py_type is int and isinstance(value, bool)):
            raise fail(key, value, go_type)
        container: Any = value
        if key in ("labels", "annotations"):
            for item in container.values():
                if not isinstance(item, str):
                    raise fail(key, item, "string")
        elif key == "finalizers":
            for item in container:
                if not isinstance(item, str):
                    raise fail(key, item, "string")
        elif key in ("ownerReferences", "managedFields"):
            for item in container:
                if not isinstance(item, dict):
                    raise fail(key, item, go_type[2:])


def name_errors(name: str, *, rule: str) -> list[str]:
    """The problems of an object name under its kind's rule: ``1035`` (Services), ``1123`` (Namespaces), else
    a DNS-1123 subdomain (most kinds)."""
    if rule == "1035":
        return dns1035_label_errors(name)
    if rule == "1123":
        return dns1123_label_errors(name)
    return dns1123_subdomain_errors(name)
