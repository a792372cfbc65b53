"""Pydantic errors as Kubernetes field errors: ``loc`` rendered as a field path, the error type as a CauseType.

Why: input that does not fit the models must be reported like the API server reports a schema
error: ``spec.headGroupSpec.rayStartParams[num-cpus]`` (map keys in brackets, camelCase aliases),
``Invalid value: "string": replicas must be of type integer``, one error for a value that fits no
member of ``int | str``. The walk follows the model's annotations to tell a map key from a field.

Decided against: pydantic's own messages and dotted ``loc`` (``spec.head_group_spec.ray_start_params.num-cpus``
is not a path a user can find in their manifest).
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any, Literal, get_args, get_origin

import pydantic
from pydantic import BaseModel

from ray_operator.api.models import RayCluster
from ray_operator.api.validation.errors import CauseType, FieldError, not_supported


def _unwrap(annotation: Any) -> Any:
    """Strip Optional and Annotated so the loc walk sees the container or model type."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _loc_to_path(loc: tuple[int | str, ...]) -> tuple[str, Any]:
    """Render a pydantic ``loc`` as a Kubernetes field path; also return the annotation found there."""
    path = ""
    current: Any = RayCluster
    for item in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(item, int):
            path += f"[{item}]"
            current = get_args(current)[0] if origin is list and get_args(current) else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            for name, info in current.model_fields.items():
                if item in (name, info.alias):
                    path += f".{info.alias or name}"
                    current = info.annotation
                    if info.metadata:
                        current = typing.Annotated[(current, *info.metadata)]
                    break
            else:
                path += f".{item}"
                current = None
        elif origin is dict:
            path += f"[{item}]"
            current = get_args(current)[1] if get_args(current) else None
        elif current is None or current is Any:
            path += f".{item}"
        # else: a union-member tag or validator name inside a scalar field; not part of the path
    return path.lstrip("."), current


_TYPE_ERRORS = {
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "string_type": "string",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
    "list_type": "array",
    "float_type": "number",
}


UNKNOWN_FIELD = "extra_forbidden"
"""The error type of a field the models do not declare, when parsed with ``extra="forbid"``."""


def unknown_field_paths(exc: pydantic.ValidationError) -> list[str]:
    """The paths of the undeclared fields among ``exc``'s errors (``extra="forbid"`` parsing)."""
    return [
        _loc_to_path(tuple(item["loc"]))[0] for item in exc.errors(include_url=False) if item["type"] == UNKNOWN_FIELD
    ]


def field_errors_from(exc: pydantic.ValidationError) -> list[FieldError]:
    """Every error of ``exc`` but the unknown fields (``unknown_field_paths``) as a field error."""
    errors = []
    for item in exc.errors(include_url=False):
        kind = item["type"]
        if kind == UNKNOWN_FIELD:
            continue
        path, annotation = _loc_to_path(tuple(item["loc"]))
        value = item.get("input")
        where = path.rsplit(".", 1)[-1] or "object"
        if kind == "missing":
            errors.append(FieldError(path=path, type=CauseType.REQUIRED, detail=_required_hint(path)))
        elif kind in _TYPE_ERRORS:
            errors.append(
                FieldError(
                    path=path,
                    type=CauseType.TYPE_INVALID,
                    value=value,
                    detail=f"{where} must be of type {_TYPE_ERRORS[kind]}",
                )
            )
        elif kind == "literal_error":
            annotation = _unwrap(annotation)
            allowed = [str(a) for a in get_args(annotation)] if get_origin(annotation) is Literal else []
            errors.append(not_supported(path, value, allowed))
        elif kind == "enum":
            annotation = _unwrap(annotation)
            is_enum = isinstance(annotation, type) and issubclass(annotation, Enum)
            allowed = [str(member.value) for member in annotation] if is_enum else []
            errors.append(not_supported(path, value, allowed))
        else:
            message = str(item.get("msg", "invalid value"))
            message = message.removeprefix("Value error, ")
            errors.append(FieldError(path=path, type=CauseType.INVALID, value=value, detail=message))
    return _merge_union_type_errors(errors)


def _merge_union_type_errors(errors: list[FieldError]) -> list[FieldError]:
    """A value matching no member of ``int | str`` gives one error per member; report it once."""
    merged: list[FieldError] = []
    by_path: dict[str, int] = {}
    for error in errors:
        index = by_path.get(error.path)
        if error.type is CauseType.TYPE_INVALID and index is not None and merged[index].type is CauseType.TYPE_INVALID:
            first = merged[index]
            merged[index] = FieldError(
                path=first.path,
                type=first.type,
                value=first.value,
                detail=f"{first.detail} or {error.detail.rsplit(' ', 1)[-1]}",
            )
            continue
        by_path.setdefault(error.path, len(merged))
        merged.append(error)
    return merged


_REQUIRED_HINTS = {
    "spec": "a RayCluster needs a spec with at least headGroupSpec",
    "spec.headGroupSpec": "define the head pod: headGroupSpec.template with the Ray container as containers[0]",
    "spec.headGroupSpec.template": "give the head pod template; the Ray container must be containers[0]",
}


def _required_hint(path: str) -> str:
    if path in _REQUIRED_HINTS:
        return _REQUIRED_HINTS[path]
    if path.endswith(".groupName"):
        return "give every worker group a unique name (a DNS-1123 label, e.g. 'cpu-workers')"
    if path.endswith(".template"):
        return "give the worker pod template; the Ray container must be containers[0]"
    return f"set {path.rsplit('.', 1)[-1]}"
