"""Validation of RayCluster objects: one implementation for the webhook, the controller and the tests.

Why: KubeRay checks most of a RayCluster only inside its controller (a Warning event, no
reconcile), and its webhook checks three things. Here every rule is a pure function of the object,
so the validating webhook rejects a bad RayCluster at ``kubectl apply`` time with every problem
listed, and the controller (when webhooks are off) refuses the same objects with the same words.

``validate(new, old=None)`` takes the whole object as a dict and never raises: input that does not
even fit the models becomes errors carrying the offending field's path (pydantic's ``loc`` rendered
as a Kubernetes field path, map keys in brackets: ``spec.headGroupSpec.rayStartParams[num-cpus]``).
The semantic rules read the raw dict through type-checking accessors, so they still run (and every
error is reported, not the first) when some other field failed to parse.

Rules (KubeRay numbering of ``reference/kuberay-raycluster.md`` §3):

* identity: apiVersion ``ray.io/v1`` and kind ``RayCluster`` when present;
* metadata: name required (or generateName), at most 53 characters (W1/C1; child names such as
  ``<name>-serve-svc`` must stay valid 63-character labels), a DNS-1035 label (W2/C1);
* worker groups: groupName required, a DNS-1123 label of at most 63 characters (it is a label value
  and part of pod names), unique (W3: reported as ``Duplicate`` at ``spec.workerGroupSpecs[i].groupName``,
  the field to change, where KubeRay's webhook reports ``Invalid`` at ``spec.workerGroupSpecs[i]`` with the
  whole group as the value); minReplicas/maxReplicas set when autoscaling is off (C7),
  non-negative (C8), min ≤ max (C9);
* templates: head and each group have at least one container (C5, C6), every container has a name
  and image (a pod without them cannot be created);
* rayStartParams: keys without leading dashes, the ports the operator reads (port, dashboard-port,
  metrics-export-port, dashboard-agent-listen-port) are port numbers;
* group resources/labels: no num-cpus/num-gpus/memory/resources in rayStartParams next to
  ``resources`` (C10), no ``labels`` in rayStartParams, label keys/values valid (C11), resource
  values are quantities;
* autoscaler v2: idleTimeoutSeconds ≥ 0 and only with v2 (C12), non-zero priority needs v2 and Ray
  ≥ 2.56 (C13), RAY_enable_autoscaler_v2 without autoscaling (C20), suspended groups / version+env
  conflicts / restartPolicy with autoscaling (C21), autoscalerOptions.idleTimeoutSeconds ≥ 0 (C22),
  reserved autoscaler env (C23);
* GCS fault tolerance: C14-C18, plus redisAddress required for the redis backend; ``rocksdb`` is
  refused (alpha in KubeRay, not supported here);
* upgradeStrategy not on RayJob/RayService-owned clusters (C4; C3 is the enum, checked by parsing);
* authOptions version gates (C25);
* status: Suspending and Suspended never both True (C2);
* KubeRay alpha-gated fields (networkPolicy, tlsOptions, historyServerOptions) are refused like
  KubeRay does with its default feature gates.

Update rules (``old`` given): ``spec.managedBy`` and ``spec.gcsFaultToleranceOptions.backend`` are
immutable, reported as ``Invalid: field is immutable`` like Kubernetes' ValidateImmutableField.
Unset ``managedBy`` means ``ray.io/kuberay-operator`` and an unset backend means ``redis`` (when the
options exist), so defaulting them is not a change; but unlike KubeRay's CEL rule (which skips a
field absent on either side) handing an existing cluster to another manager by *adding*
``managedBy: kueue.x-k8s.io/multikueue`` is refused too: its pods would be orphaned. Errors the stored object
already had are ratcheted: reported as warnings, not refusals, so an object that predates a rule can
still be updated (the Ray autoscaler must always be able to patch ``replicas``). Nothing else is
immutable; instead, updates that will not reach running pods (template changes without
``upgradeStrategy: Recreate``, head Service settings, turning GCS fault tolerance on) get warnings.

Warnings (the request is accepted) where KubeRay silently surprises users: replicas clamped into
[minReplicas, maxReplicas] (replicas 0, the default, means "minReplicas" and is not warned about),
numOfHosts ≤ 0 treated as 1, the deprecated ``ray.io/ft-enabled`` annotation, fractional CPU limits
(or group ``resources`` CPU/GPU) rounded up for ``--num-cpus``/``--num-gpus``, a memory request
without a limit (``--memory`` comes from the limit only), autoscaler v1 with a restartPolicy other
than Never, ``autoscaling-config`` in head params,
settings that are ignored (ingressOptions without enableIngress, autoscalerOptions without
autoscaling), ``authOptions`` without a mode, a Ray container that is apparently not
``containers[0]``, workersToDelete names that are not this group's pods, a group named
``headgroup``, and unknown fields (the API server prunes them).

Decided against: raising exceptions (a webhook must answer, a controller must emit an event);
validating the embedded Kubernetes objects beyond what the operator needs (the API server validates
pods when they are created); feature-gate switches (KubeRay's beta gates are on, alpha ones off).
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, Literal, get_args, get_origin

import pydantic
from pydantic import BaseModel

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.apimachinery.govalues import go_value
from ray_operator.apimachinery.names import (
    DNS1035_LABEL_MESSAGE,
    DNS1035_LABEL_RE,
    DNS1123_LABEL_MESSAGE,
    DNS1123_LABEL_RE,
    label_value_errors,
    qualified_name_errors,
)
from ray_operator.apimachinery.quantity import parse_quantity

__all__ = [
    "CauseType",
    "FieldError",
    "ValidationResult",
    "autoscaler_v2_enabled",
    "parse_quantity",
    "parse_ray_version",
    "validate",
]


class CauseType(StrEnum):
    """Kubernetes ``metav1.CauseType`` values of field errors."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    DUPLICATE = "FieldValueDuplicate"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TYPE_INVALID = "FieldValueTypeInvalid"


_TYPE_TEXT: dict[CauseType, str] = {
    CauseType.REQUIRED: "Required value",
    CauseType.INVALID: "Invalid value",
    CauseType.DUPLICATE: "Duplicate value",
    CauseType.NOT_SUPPORTED: "Unsupported value",
    CauseType.FORBIDDEN: "Forbidden",
    CauseType.TOO_LONG: "Too long",
    CauseType.TYPE_INVALID: "Invalid value",
}
_VALUELESS = frozenset({CauseType.REQUIRED, CauseType.FORBIDDEN, CauseType.TOO_LONG})


def _json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


@dataclass(frozen=True, kw_only=True)
class FieldError:
    """One problem with one field, shaped like Kubernetes' ``field.Error``."""

    path: str
    """Kubernetes field path, e.g. ``spec.workerGroupSpecs[1].minReplicas``."""
    type: CauseType
    detail: str
    """What is wrong and what to do about it."""
    value: Any = None
    """The offending value, when there is one."""

    @property
    def message(self) -> str:
        """Go's ``ErrorBody()``: the error text without the path."""
        text = _TYPE_TEXT[self.type]
        if self.type is CauseType.TYPE_INVALID:
            text = f"{text}: {json.dumps(_json_type_name(self.value))}"
        elif self.type not in _VALUELESS:
            text = f"{text}: {go_value(self.value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    @property
    def text(self) -> str:
        """Go's ``Error()``: ``<path>: <message>``."""
        return f"{self.path}: {self.message}"


@dataclass
class ValidationResult:
    """Every error (the object must be refused) and warning (accepted, but the user should know)."""

    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- small parsers shared with the builders -------------------------------------------------------------

_RAY_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+.]?[0-9A-Za-z.+-]*)?$")


def parse_ray_version(value: Any) -> tuple[int, int, int] | None:
    """``"2.52.0"`` → ``(2, 52, 0)``; ``"2.52"`` → ``(2, 52, 0)``; None when unparsable (``"nightly"``, ``"2"``).

    Like Kubernetes' ``version.ParseGeneric``, which KubeRay uses: at least major.minor, optional
    leading ``v``, anything after the numbers ignored.
    """
    if not isinstance(value, str):
        return None
    match = _RAY_VERSION_RE.match(value.strip())
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor or 0), int(patch or 0)


def _fmt_version(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


# --- type-checking accessors over the raw object ----------------------------------------------------------


def _dict(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, dict):  # parsed JSON: skip the slow abstract-base-class check
        return value
    return value if isinstance(value, Mapping) else None


def _list(value: Any) -> list[Any] | None:
    return value if isinstance(value, list) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _get(obj: Any, *keys: str | int) -> Any:
    """Walk dicts and lists; None as soon as a step does not exist or has the wrong type."""
    for key in keys:
        if isinstance(key, int):
            items = _list(obj)
            if items is None or not -len(items) <= key < len(items):
                return None
            obj = items[key]
        else:
            mapping = _dict(obj)
            if mapping is None:
                return None
            obj = mapping.get(key)
    return obj


def _str_map(value: Any) -> dict[str, str]:
    """The string-valued entries of a map (others are reported by parsing)."""
    mapping = _dict(value) or {}
    return {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)}


def _containers(template: Any) -> list[Mapping[str, Any]]:
    return [item for item in (_list(_get(template, "spec", "containers")) or []) if isinstance(item, Mapping)]


def _env_entries(container: Any) -> Iterator[tuple[int, str, Any]]:
    """(index, name, value) of each well-formed env entry of a container."""
    for index, entry in enumerate(_list(_get(container, "env")) or []):
        name = _str(_get(entry, "name"))
        if name is not None:
            yield index, name, _get(entry, "value")


def autoscaler_v2_enabled(spec: Mapping[str, Any]) -> bool:
    """KubeRay's rule: ``autoscalerOptions.version: v2`` or head env ``RAY_enable_autoscaler_v2`` = 1/true."""
    if _get(spec, "autoscalerOptions", "version") == "v2":
        return True
    head = _get(spec, "headGroupSpec", "template")
    containers = _containers(head)
    if not containers:
        return False
    for _, name, value in _env_entries(containers[c.RAY_CONTAINER_INDEX]):
        if name == c.ENV_RAY_ENABLE_AUTOSCALER_V2 and isinstance(value, str) and value in ("1", "true"):
            return True
    return False


# --- parse errors → field errors ------------------------------------------------------------------------------


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


def _parse_errors(exc: pydantic.ValidationError) -> list[FieldError]:
    errors = []
    for item in exc.errors(include_url=False):
        path, annotation = _loc_to_path(tuple(item["loc"]))
        kind = item["type"]
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
            errors.append(_not_supported(path, value, allowed))
        elif kind == "enum":
            annotation = _unwrap(annotation)
            is_enum = isinstance(annotation, type) and issubclass(annotation, Enum)
            allowed = [str(member.value) for member in annotation] if is_enum else []
            errors.append(_not_supported(path, value, allowed))
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


def _not_supported(path: str, value: Any, allowed: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(a) for a in allowed) if allowed else ""
    return FieldError(path=path, type=CauseType.NOT_SUPPORTED, value=value, detail=detail)


# --- the rules ------------------------------------------------------------------------------------------------


class _Report:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.warnings: list[str] = []

    def error(self, path: str, type: CauseType, detail: str, value: Any = None) -> None:
        self.errors.append(FieldError(path=path, type=type, detail=detail, value=value))

    def warn(self, path: str, text: str) -> None:
        self.warnings.append(f"{path}: {text}")


def _check_metadata(meta: Mapping[str, Any], report: _Report) -> None:
    name = meta.get("name")
    if name is None or name == "":
        generate = _str(meta.get("generateName"))
        if not generate:
            report.error("metadata.name", CauseType.REQUIRED, "name or generateName is required")
        elif len(generate) + 5 > c.MAX_RAYCLUSTER_NAME_LENGTH:
            report.warn(
                "metadata.generateName",
                f"generated names will be longer than {c.MAX_RAYCLUSTER_NAME_LENGTH} characters and refused; "
                f"use a prefix of at most {c.MAX_RAYCLUSTER_NAME_LENGTH - 5} characters",
            )
        return
    if not isinstance(name, str):
        report.error("metadata.name", CauseType.TYPE_INVALID, "name must be of type string", name)
        return
    if len(name) > c.MAX_RAYCLUSTER_NAME_LENGTH:
        report.error(
            "metadata.name",
            CauseType.TOO_LONG,
            f"RayCluster name should be no more than {c.MAX_RAYCLUSTER_NAME_LENGTH} characters "
            f"(the operator derives names such as '<name>{c.SERVE_SERVICE_SUFFIX}' that must fit in 63): "
            "choose a shorter name",
            name,
        )
    if not DNS1035_LABEL_RE.match(name):
        report.error(
            "metadata.name",
            CauseType.INVALID,
            f"RayCluster name should be a valid DNS1035 label: {DNS1035_LABEL_MESSAGE}",
            name,
        )


def _check_group_name(path: str, name: Any, report: _Report) -> None:
    if name is None or name == "":
        report.error(path, CauseType.REQUIRED, "give every worker group a unique name (a DNS-1123 label)")
        return
    if not isinstance(name, str):
        return
    if len(name) > c.MAX_LABEL_VALUE_LENGTH:
        report.error(
            path,
            CauseType.TOO_LONG,
            "may not be more than 63 characters: the group name is the value of the ray.io/group label",
            name,
        )
    if not DNS1123_LABEL_RE.match(name):
        report.error(
            path,
            CauseType.INVALID,
            f"the group name is used in pod names and the ray.io/group label: {DNS1123_LABEL_MESSAGE}",
            name,
        )
    if name == c.HEAD_GROUP_LABEL_VALUE:
        report.warn(
            path,
            f"'{c.HEAD_GROUP_LABEL_VALUE}' is the ray.io/group label value of the head pod; selectors on "
            "ray.io/group will match this group's workers and the head together: choose another name",
        )


def _check_template(path: str, template: Any, group: str, report: _Report) -> None:
    """C5/C6 plus container names and images; warns when the Ray container does not look first."""
    if _dict(template) is None:
        return  # missing or mistyped: reported by parsing
    containers_path = f"{path}.spec.containers"
    raw = _get(template, "spec", "containers")
    if raw is not None and _list(raw) is None:
        report.error(containers_path, CauseType.TYPE_INVALID, "containers must be of type array", raw)
        return
    containers = _list(raw) or []
    if not containers:
        report.error(
            containers_path,
            CauseType.REQUIRED,
            f"{group} should have at least one container: add the Ray container as containers[0]",
        )
        return
    for index, container in enumerate(containers):
        cpath = f"{containers_path}[{index}]"
        if _dict(container) is None:
            report.error(cpath, CauseType.TYPE_INVALID, "a container must be of type object", container)
            continue
        if not _str(container.get("name")):
            report.error(f"{cpath}.name", CauseType.REQUIRED, "every container needs a name (a DNS-1123 label)")
        if not _str(container.get("image")):
            report.error(
                f"{cpath}.image",
                CauseType.REQUIRED,
                "every container needs an image"
                + (", e.g. 'rayproject/ray:2.52.0' for the Ray container" if index == c.RAY_CONTAINER_INDEX else ""),
            )
    images = [str(_get(item, "image") or "") for item in containers]
    first = images[c.RAY_CONTAINER_INDEX]
    if "ray" not in first.lower():
        for index, image in enumerate(images):
            if index != c.RAY_CONTAINER_INDEX and "ray" in image.lower():
                report.warn(
                    f"{containers_path}[{index}]",
                    f"this looks like the Ray container, but the operator runs 'ray start' in containers[0] "
                    f"({first or 'no image'}): move the Ray container first",
                )
                break


def _check_group_resources_and_labels(
    path: str, group: Mapping[str, Any], params: dict[str, str], report: _Report
) -> None:
    resources = _dict(group.get("resources"))
    if resources:
        for key in (c.PARAM_NUM_CPUS, c.PARAM_NUM_GPUS, c.PARAM_MEMORY, c.PARAM_RESOURCES):
            if params.get(key):
                report.error(
                    f"{path}.rayStartParams[{key}]",
                    CauseType.FORBIDDEN,
                    f"cannot be combined with {path}.resources: set Ray resources in only one place "
                    f"(remove '{key}' here or use only rayStartParams)",
                )
        for key, value in resources.items():
            if isinstance(value, str) and parse_quantity(value) is None:
                report.error(
                    f"{path}.resources[{key}]",
                    CauseType.INVALID,
                    "must be a quantity such as '1', '500m', '2Gi' or '0.5'",
                    value,
                )
    if c.PARAM_LABELS in params:
        report.error(
            f"{path}.rayStartParams[{c.PARAM_LABELS}]",
            CauseType.FORBIDDEN,
            f"set Ray node labels with {path}.labels instead of rayStartParams",
        )
    labels = _dict(group.get("labels")) or {}
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        for problem in qualified_name_errors(key):
            report.error(f"{path}.labels", CauseType.INVALID, f"label keys must be valid: {problem}", key)
        if isinstance(value, str):
            for problem in label_value_errors(value):
                report.error(f"{path}.labels[{key}]", CauseType.INVALID, problem, value)


def _check_worker_group(
    spec: Mapping[str, Any],
    index: int,
    group: Mapping[str, Any],
    *,
    cluster: str | None,
    autoscaling: bool,
    v2: bool,
    report: _Report,
) -> None:
    """One worker group; ``autoscaling`` and ``v2`` are the cluster's, computed once for all groups."""
    path = f"spec.workerGroupSpecs[{index}]"
    name = group.get("groupName")
    label = _str(name) or f"#{index}"
    _check_group_name(f"{path}.groupName", name, report)
    _check_template(f"{path}.template", group.get("template"), f"worker group {label}", report)

    # C7-C9 and clamping.
    min_raw, max_raw = group.get("minReplicas"), group.get("maxReplicas")
    min_r, max_r, replicas = _int(min_raw), _int(max_raw), _int(group.get("replicas"))
    if not autoscaling:
        for key, raw in (("minReplicas", min_raw), ("maxReplicas", max_raw)):
            if raw is None:
                report.error(
                    f"{path}.{key}",
                    CauseType.REQUIRED,
                    f"worker group {label} must set both minReplicas and maxReplicas when autoscaling is disabled",
                )
    if min_r is not None and min_r < 0:
        report.error(
            f"{path}.minReplicas",
            CauseType.INVALID,
            f"worker group {label} has negative minReplicas: use 0 or more",
            min_r,
        )
    if max_r is not None and max_r < 0:
        report.error(
            f"{path}.maxReplicas",
            CauseType.INVALID,
            f"worker group {label} has negative maxReplicas: use 0 or more",
            max_r,
        )
    if min_r is not None and max_r is not None and min_r >= 0 and max_r >= 0 and min_r > max_r:
        report.error(
            f"{path}.minReplicas",
            CauseType.INVALID,
            f"worker group {label} has minReplicas {min_r} greater than maxReplicas {max_r}: "
            "lower minReplicas or raise maxReplicas",
            min_r,
        )
    elif (
        replicas is not None
        and min_r is not None
        and max_r is not None
        and 0 <= min_r <= max_r
        and (replicas > max_r or (replicas < min_r and replicas != 0))
    ):
        effective = max(min_r, min(replicas, max_r))
        report.warn(
            f"{path}.replicas",
            f"replicas {replicas} is outside [minReplicas {min_r}, maxReplicas {max_r}]; the operator runs "
            f"{effective}: set replicas within the range",
        )
    hosts = _int(group.get("numOfHosts"))
    if hosts is not None and hosts <= 0:
        report.warn(f"{path}.numOfHosts", f"numOfHosts {hosts} is treated as 1: set 1 or more")

    # C12 / C13.
    idle = _int(group.get("idleTimeoutSeconds"))
    if idle is not None:
        if idle < 0:
            report.error(
                f"{path}.idleTimeoutSeconds",
                CauseType.INVALID,
                f"worker group {label} has negative idleTimeoutSeconds: use 0 or more",
                idle,
            )
        if not v2:
            report.error(
                f"{path}.idleTimeoutSeconds",
                CauseType.FORBIDDEN,
                f"worker group {label} has idleTimeoutSeconds set, but autoscaler v2 is not enabled: "
                "set spec.autoscalerOptions.version to v2",
            )
    priority = _int(group.get("priority"))
    if priority:
        if not v2:
            report.error(
                f"{path}.priority",
                CauseType.FORBIDDEN,
                f"worker group {label} sets a non-zero priority, which only autoscaler v2 honours: "
                "set spec.autoscalerOptions.version to v2",
            )
        version = parse_ray_version(spec.get("rayVersion"))
        if version is None or version < c.MIN_RAY_VERSION_GROUP_PRIORITY:
            report.error(
                f"{path}.priority",
                CauseType.FORBIDDEN,
                f"a non-zero priority needs spec.rayVersion {_fmt_version(c.MIN_RAY_VERSION_GROUP_PRIORITY)} "
                f"or later (got {spec.get('rayVersion')!r}): upgrade Ray or remove priority",
            )

    # C21: suspended groups and autoscaling.
    if autoscaling and _bool(group.get("suspend")) is True:
        report.error(
            f"{path}.suspend",
            CauseType.FORBIDDEN,
            "a worker group cannot be suspended while enableInTreeAutoscaling is true: the autoscaler owns "
            "its replicas; scale it with minReplicas/maxReplicas instead",
        )
    restart = _get(group, "template", "spec", "restartPolicy")
    if autoscaling and isinstance(restart, str) and restart != "Never":
        if v2:
            report.error(
                f"{path}.template.spec.restartPolicy",
                CauseType.INVALID,
                "autoscaler v2 requires restartPolicy Never (or unset, which the operator sets to Never)",
                restart,
            )
        else:
            report.warn(
                f"{path}.template.spec.restartPolicy",
                f"restartPolicy {restart} with the autoscaler restarts failed Ray workers in place, which the "
                "autoscaler does not expect: use Never",
            )

    params = _str_map(group.get("rayStartParams"))
    _check_group_resources_and_labels(path, group, params, report)
    _check_ray_start_params(path, params, report)
    _check_cpu_rounding(path, group, params, report)

    # workersToDelete names that cannot be this group's pods.
    if cluster and isinstance(name, str):
        prefix = f"{cluster}-{name}{c.WORKER_POD_NAME_INFIX}-"[: c.MAX_POD_NAME_PREFIX_LENGTH].lower()
        for j, pod in enumerate(_list(_get(group, "scaleStrategy", "workersToDelete")) or []):
            if isinstance(pod, str) and not pod.startswith(prefix):
                report.warn(
                    f"{path}.scaleStrategy.workersToDelete[{j}]",
                    f"pod {pod!r} is not named like a worker of this group ({prefix}...); the operator deletes "
                    "pods by name: check the name",
                )


_PORT_PARAMS = (
    c.PARAM_PORT,
    c.PARAM_DASHBOARD_PORT,
    c.PARAM_METRICS_EXPORT_PORT,
    c.PARAM_DASHBOARD_AGENT_LISTEN_PORT,
)


def _check_ray_start_params(path: str, params: dict[str, str], report: _Report) -> None:
    """Keys are flag names without dashes; the ports the operator itself uses must be ports."""
    for key in params:
        if key.startswith("-"):
            report.error(
                f"{path}.rayStartParams[{key}]",
                CauseType.INVALID,
                f"write 'ray start' flags without leading dashes: use '{key.lstrip('-')}'",
                key,
            )
    for key in _PORT_PARAMS:
        value = params.get(key)
        if value is not None and not (value.isdigit() and 1 <= int(value) <= 65535):
            report.error(
                f"{path}.rayStartParams[{key}]",
                CauseType.INVALID,
                "the operator uses this port for Services, probes and worker addresses: use a port number "
                "between 1 and 65535",
                value,
            )


def _check_cpu_rounding(path: str, group: Mapping[str, Any], params: dict[str, str], report: _Report) -> None:
    containers = _containers(group.get("template"))
    if not containers:
        return
    ray = containers[c.RAY_CONTAINER_INDEX]
    resources = _dict(ray.get("resources")) or {}
    limits = _dict(resources.get("limits")) or {}
    requests = _dict(resources.get("requests")) or {}
    group_resources = _str_map(group.get("resources"))
    has_group_cpu = any(key.lower() == "cpu" for key in group_resources)
    if c.PARAM_NUM_CPUS not in params and not has_group_cpu:
        cpu_raw = limits.get("cpu", requests.get("cpu"))
        cpu = parse_quantity(cpu_raw)
        if cpu is not None and cpu != cpu.to_integral_value():
            rounded = math.ceil(cpu)
            report.warn(
                f"{path}.template.spec.containers[0].resources",
                f"CPU {cpu_raw} is not a whole number; Ray is started with --num-cpus={rounded} (rounded up): "
                "use whole CPUs or set num-cpus in rayStartParams",
            )
    for key, value in group_resources.items():
        amount = parse_quantity(value)
        if key.lower() in ("cpu", "gpu") and amount is not None and amount != amount.to_integral_value():
            flag = "--num-cpus" if key.lower() == "cpu" else "--num-gpus"
            report.warn(
                f"{path}.resources[{key}]",
                f"{value} is not a whole number; Ray is started with {flag}={math.ceil(amount)} (rounded up): "
                "use a whole number",
            )
    has_group_memory = any(key.lower() == "memory" for key in group_resources)
    if "memory" in requests and "memory" not in limits and c.PARAM_MEMORY not in params and not has_group_memory:
        report.warn(
            f"{path}.template.spec.containers[0].resources",
            "a memory request without a memory limit: Ray's --memory is derived from the limit only, so Ray "
            "will assume the whole node's memory: set a memory limit (equal to the request)",
        )


def _check_head(head: Mapping[str, Any], *, autoscaling: bool, v2: bool, report: _Report) -> None:
    """The head group; ``autoscaling`` and ``v2`` are the cluster's, computed once in ``_check_spec``."""
    path = "spec.headGroupSpec"
    _check_template(f"{path}.template", head.get("template"), "headGroupSpec", report)
    params = _str_map(head.get("rayStartParams"))
    _check_group_resources_and_labels(path, head, params, report)
    _check_ray_start_params(path, params, report)
    _check_cpu_rounding(path, head, params, report)
    if c.PARAM_AUTOSCALING_CONFIG in params:
        report.warn(
            f"{path}.rayStartParams[{c.PARAM_AUTOSCALING_CONFIG}]",
            "is ignored: the in-tree autoscaler is configured from the RayCluster itself; remove it",
        )
    if _dict(head.get("ingressOptions")) is not None and _bool(head.get("enableIngress")) is not True:
        report.warn(f"{path}.ingressOptions", "is ignored because enableIngress is not true")
    service_name = _str(_get(head, "headService", "metadata", "name"))
    if service_name and (len(service_name) > 63 or not DNS1035_LABEL_RE.match(service_name)):
        report.error(
            f"{path}.headService.metadata.name",
            CauseType.INVALID,
            f"a Service name must be a DNS-1035 label of at most 63 characters: {DNS1035_LABEL_MESSAGE}",
            service_name,
        )
    restart = _get(head, "template", "spec", "restartPolicy")
    if autoscaling and v2 and isinstance(restart, str) and restart != "Never":
        report.error(
            f"{path}.template.spec.restartPolicy",
            CauseType.INVALID,
            "autoscaler v2 requires restartPolicy Never (or unset, which the operator sets to Never)",
            restart,
        )


def _check_autoscaling(spec: Mapping[str, Any], report: _Report) -> None:
    autoscaling = _bool(spec.get("enableInTreeAutoscaling")) is True
    options = _dict(spec.get("autoscalerOptions"))
    head_containers = _containers(_get(spec, "headGroupSpec", "template"))
    env_path = "spec.headGroupSpec.template.spec.containers[0].env"
    v2_env = [
        (index, value)
        for index, name, value in (_env_entries(head_containers[0]) if head_containers else iter(()))
        if name == c.ENV_RAY_ENABLE_AUTOSCALER_V2
    ]
    if not autoscaling:
        for index, value in v2_env:
            if value in ("1", "true"):
                report.error(
                    f"{env_path}[{index}]",
                    CauseType.INVALID,
                    f"{c.ENV_RAY_ENABLE_AUTOSCALER_V2} enables autoscaler v2, but enableInTreeAutoscaling is not "
                    "true: set spec.enableInTreeAutoscaling: true or remove the variable",
                    value,
                )
        if options is not None:
            report.warn("spec.autoscalerOptions", "is ignored because enableInTreeAutoscaling is not true")
    elif options is not None and options.get("version") is not None and v2_env:
        report.error(
            "spec.autoscalerOptions.version",
            CauseType.FORBIDDEN,
            f"cannot be combined with the {c.ENV_RAY_ENABLE_AUTOSCALER_V2} env var on the head: keep only "
            "autoscalerOptions.version",
        )
    if options is None:
        return
    idle = _int(options.get("idleTimeoutSeconds"))
    if idle is not None and idle < 0:
        report.error(
            "spec.autoscalerOptions.idleTimeoutSeconds",
            CauseType.INVALID,
            "autoscalerOptions.idleTimeoutSeconds must be 0 or more",
            idle,
        )
    for index, name, _ in _env_entries(options):
        if name == c.ENV_KUBERAY_GEN_AUTOSCALER_START_CMD:
            report.error(
                f"spec.autoscalerOptions.env[{index}].name",
                CauseType.FORBIDDEN,
                f"{name} is set by the operator (the generated autoscaler command); use autoscalerOptions.command "
                "and args to change the command",
            )


def _check_gcs_ft(spec: Mapping[str, Any], meta: Mapping[str, Any], report: _Report) -> None:
    annotations = _str_map(meta.get("annotations"))
    raw_options = spec.get("gcsFaultToleranceOptions")
    options = _dict(raw_options)
    head_params = _str_map(_get(spec, "headGroupSpec", "rayStartParams"))
    head_containers = _containers(_get(spec, "headGroupSpec", "template"))
    head_env = list(_env_entries(head_containers[0])) if head_containers else []
    env_path = "spec.headGroupSpec.template.spec.containers[0].env"
    params_path = "spec.headGroupSpec.rayStartParams"
    ft_annotation = annotations.get(c.RAY_FT_ENABLED_ANNOTATION)
    if ft_annotation:
        report.warn(
            f"metadata.annotations[{c.RAY_FT_ENABLED_ANNOTATION}]",
            "is deprecated: use spec.gcsFaultToleranceOptions (redisAddress, redisPassword) instead",
        )
    # C14
    if ft_annotation and raw_options is not None:
        report.error(
            f"metadata.annotations[{c.RAY_FT_ENABLED_ANNOTATION}]",
            CauseType.FORBIDDEN,
            "cannot be used together with spec.gcsFaultToleranceOptions: remove the annotation",
        )
    # C18
    if head_params.get(c.PARAM_REDIS_USERNAME):
        report.error(
            f"{params_path}[{c.PARAM_REDIS_USERNAME}]",
            CauseType.FORBIDDEN,
            "set the Redis username with spec.gcsFaultToleranceOptions.redisUsername",
        )
    for index, name, _ in head_env:
        if name == c.ENV_REDIS_USERNAME:
            report.error(
                f"{env_path}[{index}]",
                CauseType.FORBIDDEN,
                f"{name}: set the Redis username with spec.gcsFaultToleranceOptions.redisUsername",
            )
    if options is None:
        # C15
        if (ft_annotation or "").lower() != "true":
            for index, name, _ in head_env:
                if name == c.ENV_RAY_REDIS_ADDRESS:
                    report.error(
                        f"{env_path}[{index}]",
                        CauseType.FORBIDDEN,
                        f"{name} implicitly enables GCS fault tolerance: set "
                        "spec.gcsFaultToleranceOptions.redisAddress instead",
                    )
        return
    # C16
    if head_params.get(c.PARAM_REDIS_PASSWORD):
        report.error(
            f"{params_path}[{c.PARAM_REDIS_PASSWORD}]",
            CauseType.FORBIDDEN,
            "set the Redis password with spec.gcsFaultToleranceOptions.redisPassword",
        )
    for index, name, _ in head_env:
        if name == c.ENV_REDIS_PASSWORD:
            report.error(
                f"{env_path}[{index}]",
                CauseType.FORBIDDEN,
                f"{name}: set the Redis password with spec.gcsFaultToleranceOptions.redisPassword",
            )
        elif name == c.ENV_RAY_REDIS_ADDRESS:
            report.error(
                f"{env_path}[{index}]",
                CauseType.FORBIDDEN,
                f"{name}: set the Redis address with spec.gcsFaultToleranceOptions.redisAddress",
            )
    if annotations.get(c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION):
        report.error(
            f"metadata.annotations[{c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION}]",
            CauseType.FORBIDDEN,
            "set the storage namespace with spec.gcsFaultToleranceOptions.externalStorageNamespace",
        )
    # C17
    backend = options.get("backend")
    if backend == "rocksdb":
        report.error(
            "spec.gcsFaultToleranceOptions.backend",
            CauseType.FORBIDDEN,
            "the embedded rocksdb backend is an alpha KubeRay feature this operator does not support: use redis",
        )
        return
    if options.get("storage") is not None:
        report.error(
            "spec.gcsFaultToleranceOptions.storage",
            CauseType.FORBIDDEN,
            "storage is only used by the rocksdb backend: remove it",
        )
    if options.get("redisAddress") in (None, ""):
        report.error(
            "spec.gcsFaultToleranceOptions.redisAddress",
            CauseType.REQUIRED,
            "the redis backend needs the Redis address, e.g. 'redis:6379' or 'redis://redis:6379'",
        )


def _check_auth(spec: Mapping[str, Any], report: _Report) -> None:
    options = _dict(spec.get("authOptions"))
    if options is None:
        return
    mode = options.get("mode")
    k8s_auth = _bool(options.get("enableK8sTokenAuth")) is True
    version_raw = spec.get("rayVersion")
    version = parse_ray_version(version_raw)
    if mode is None:
        report.warn(
            "spec.authOptions.mode",
            "is not set, so authentication stays disabled: set mode: token to enable it, or mode: disabled",
        )
    if mode == "token":
        minimum = _fmt_version(c.MIN_RAY_VERSION_TOKEN_AUTH)
        if version_raw is None or version_raw == "":
            report.error(
                "spec.rayVersion",
                CauseType.REQUIRED,
                f"authOptions.mode token needs rayVersion (at least {minimum}): set it to the image's Ray version",
            )
        elif version is None:
            report.error(
                "spec.rayVersion",
                CauseType.INVALID,
                f"authOptions.mode token needs a parsable rayVersion such as '{minimum}'",
                version_raw,
            )
        elif version < c.MIN_RAY_VERSION_TOKEN_AUTH:
            report.error(
                "spec.rayVersion",
                CauseType.INVALID,
                f"authOptions.mode token needs Ray {minimum} or later: upgrade Ray or disable authentication",
                version_raw,
            )
    if k8s_auth:
        if mode != "token":
            report.error(
                "spec.authOptions.enableK8sTokenAuth",
                CauseType.FORBIDDEN,
                "Kubernetes token authentication needs authOptions.mode: token",
            )
        if _str(options.get("secretName")):
            report.error(
                "spec.authOptions.secretName",
                CauseType.FORBIDDEN,
                "cannot be combined with enableK8sTokenAuth: remove one of them",
            )
        minimum = _fmt_version(c.MIN_RAY_VERSION_K8S_TOKEN_AUTH)
        if mode == "token" and version is not None and version < c.MIN_RAY_VERSION_K8S_TOKEN_AUTH:
            report.error(
                "spec.authOptions.enableK8sTokenAuth",
                CauseType.FORBIDDEN,
                f"Kubernetes token authentication needs Ray {minimum} or later (rayVersion is {version_raw!r})",
            )


_ALPHA_FIELDS = {
    "networkPolicy": "NetworkPolicies per cluster",
    "tlsOptions": "mTLS through cert-manager",
    "historyServerOptions": "the history-server collector",
}


def _check_spec(obj: Mapping[str, Any], report: _Report) -> None:
    spec = _dict(obj.get("spec"))
    if spec is None:
        return
    meta = _dict(obj.get("metadata")) or {}
    cluster = _str(meta.get("name"))
    autoscaling = _bool(spec.get("enableInTreeAutoscaling")) is True
    v2 = autoscaler_v2_enabled(spec)
    head = _dict(spec.get("headGroupSpec"))
    if head is not None:
        _check_head(head, autoscaling=autoscaling, v2=v2, report=report)
    groups = _list(spec.get("workerGroupSpecs")) or []
    seen: dict[str, int] = {}
    for index, group in enumerate(groups):
        if _dict(group) is None:
            continue
        _check_worker_group(spec, index, group, cluster=cluster, autoscaling=autoscaling, v2=v2, report=report)
        name = _str(group.get("groupName"))
        if name:
            if name in seen:
                report.error(
                    f"spec.workerGroupSpecs[{index}].groupName",
                    CauseType.DUPLICATE,
                    f"worker group names must be unique; spec.workerGroupSpecs[{seen[name]}] already uses it",
                    name,
                )
            else:
                seen[name] = index
    _check_autoscaling(spec, report)
    _check_gcs_ft(spec, meta, report)
    _check_auth(spec, report)
    labels = _str_map(meta.get("labels"))
    origin = labels.get(c.RAY_ORIGINATED_FROM_CRD_LABEL)
    if _get(spec, "upgradeStrategy", "type") is not None and origin in (
        c.ORIGINATED_FROM_RAYJOB,
        c.ORIGINATED_FROM_RAYSERVICE,
    ):
        report.error(
            "spec.upgradeStrategy",
            CauseType.FORBIDDEN,
            f"upgradeStrategy cannot be set on a RayCluster created by a {origin}: set it on the {origin}",
        )
    for key, feature in _ALPHA_FIELDS.items():
        if key in spec:
            report.error(
                f"spec.{key}",
                CauseType.FORBIDDEN,
                f"{feature} is an alpha KubeRay feature this operator does not support: remove spec.{key}",
            )


def _check_status(obj: Mapping[str, Any], report: _Report) -> None:
    conditions = _list(_get(obj, "status", "conditions")) or []
    true_types = {_get(item, "type") for item in conditions if _get(item, "status") == "True"}
    if {c.ConditionType.RAY_CLUSTER_SUSPENDING, c.ConditionType.RAY_CLUSTER_SUSPENDED} <= true_types:
        report.error(
            "status.conditions",
            CauseType.INVALID,
            "RayClusterSuspending and RayClusterSuspended cannot both be True",
            [c.ConditionType.RAY_CLUSTER_SUSPENDING.value, c.ConditionType.RAY_CLUSTER_SUSPENDED.value],
        )


def _unknown_fields(model: BaseModel, path: str, report: _Report) -> None:
    for key in model.__pydantic_extra__ or {}:
        if path == "spec" and key in _ALPHA_FIELDS:
            continue
        if path == "spec.gcsFaultToleranceOptions" and key == "storage":
            continue
        report.warn(f"{path}.{key}" if path else key, "unknown field; the API server drops it")
    # ``vars(model)`` holds the declared fields only (extras live in __pydantic_extra__), in declaration order,
    # so warnings come out in a stable order. This walk runs on every admission: plain values are skipped by
    # an exact-type check first, because isinstance() against a pydantic model class is an ABC check.
    fields = type(model).model_fields
    for name, value in vars(model).items():
        if value is None or type(value) in _PLAIN_TYPES:
            continue
        alias = fields[name].alias or name
        child = f"{path}.{alias}" if path else alias
        if isinstance(value, BaseModel):
            _unknown_fields(value, child, report)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _unknown_fields(item, f"{child}[{index}]", report)


_PLAIN_TYPES = frozenset({str, int, float, bool, dict})


# --- update rules ------------------------------------------------------------------------------------------


def _effective_managed_by(obj: Mapping[str, Any]) -> Any:
    value = _get(obj, "spec", "managedBy")
    return c.MANAGED_BY_KUBERAY if value is None else value


def _effective_backend(obj: Mapping[str, Any]) -> Any:
    options = _get(obj, "spec", "gcsFaultToleranceOptions")
    if _dict(options) is None:
        return None
    backend = _get(options, "backend")
    return "redis" if backend is None else backend


def _check_update(new: Mapping[str, Any], old: Mapping[str, Any], report: _Report) -> None:
    if _effective_managed_by(new) != _effective_managed_by(old):
        report.error(
            "spec.managedBy",
            CauseType.INVALID,
            "field is immutable (delete and re-create the RayCluster to hand it to another manager)",
            _get(new, "spec", "managedBy"),
        )
    old_backend, new_backend = _effective_backend(old), _effective_backend(new)
    if old_backend is not None and new_backend is not None and old_backend != new_backend:
        report.error(
            "spec.gcsFaultToleranceOptions.backend",
            CauseType.INVALID,
            "field is immutable (switching backends would lose the GCS state; re-create the RayCluster instead)",
            new_backend,
        )
    if old_backend is None and new_backend is not None:
        report.warn(
            "spec.gcsFaultToleranceOptions",
            "GCS fault tolerance only takes effect when the head pod is re-created",
        )
    recreate = _get(new, "spec", "upgradeStrategy", "type") == "Recreate"
    if not recreate:
        changed = []
        if _get(new, "spec", "headGroupSpec", "template") != _get(old, "spec", "headGroupSpec", "template"):
            changed.append("spec.headGroupSpec.template")
        old_groups = {
            _get(g, "groupName"): _get(g, "template") for g in _list(_get(old, "spec", "workerGroupSpecs")) or []
        }
        for index, group in enumerate(_list(_get(new, "spec", "workerGroupSpecs")) or []):
            name = _get(group, "groupName")
            if name in old_groups and old_groups[name] != _get(group, "template"):
                changed.append(f"spec.workerGroupSpecs[{index}].template")
        for path in changed:
            report.warn(
                path,
                "changed, but running pods are not replaced; only pods created from now on use it: delete the "
                "pods or set spec.upgradeStrategy.type: Recreate",
            )
    for keys in (("headGroupSpec", "headService"), ("headGroupSpec", "serviceType"), ("headServiceAnnotations",)):
        if _get(new, "spec", *keys) != _get(old, "spec", *keys):
            report.warn(
                "spec." + ".".join(keys),
                "changed, but the head Service is only configured when it is created: delete the Service to apply",
            )


# --- entry point ---------------------------------------------------------------------------------------------


def validate(new: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> ValidationResult:
    """Every error and warning of a RayCluster object (``old`` is the stored object on UPDATE). Never raises."""
    report = _Report()
    try:
        _validate_into(new, old, report)
        if isinstance(old, Mapping) and report.errors:
            _ratchet(report, old)
    except Exception as exc:  # a bug here must not take a webhook or a reconcile loop down
        report.error(
            "", CauseType.INVALID, f"internal validation error ({type(exc).__name__}: {exc}); please report it"
        )
    return ValidationResult(errors=report.errors, warnings=report.warnings)


def _ratchet(report: _Report, old: Mapping[str, Any]) -> None:
    """On UPDATE, an error the stored object already had becomes a warning (like CRD validation ratcheting).

    Without this, a RayCluster stored before these rules applied (or created while webhooks were off)
    could not be updated at all, not even by the Ray autoscaler patching ``replicas``.
    """
    before = _Report()
    _validate_into(old, None, before)
    existing = {(error.path, error.type) for error in before.errors}
    kept = []
    for error in report.errors:
        if (error.path, error.type) in existing:
            report.warnings.append(f"{error.text} (already the case before this update; please fix it)")
        else:
            kept.append(error)
    report.errors = kept


def _validate_into(new: Mapping[str, Any], old: Mapping[str, Any] | None, report: _Report) -> None:
    if not isinstance(new, Mapping):
        report.error("", CauseType.TYPE_INVALID, "a RayCluster must be a JSON object", new)
        return
    parse_errors: list[FieldError] = []
    model: RayCluster | None = None
    try:
        model = RayCluster.model_validate(dict(new))
    except pydantic.ValidationError as exc:
        parse_errors = _parse_errors(exc)
    meta = new.get("metadata")
    if meta is not None and _dict(meta) is None:
        parse_errors = [e for e in parse_errors if e.path != "metadata"]
        report.error("metadata", CauseType.TYPE_INVALID, "metadata must be of type object", meta)
    rules = _Report()
    for key, expected in (("apiVersion", c.API_VERSION), ("kind", c.KIND)):
        value = new.get(key)
        if value is not None and value != expected:
            rules.errors.append(_not_supported(key, value, [expected]))
    _check_metadata(_dict(meta) or {}, rules)
    _check_spec(new, rules)
    _check_status(new, rules)
    if old is not None and isinstance(old, Mapping):
        _check_update(new, old, rules)
    if model is not None:
        _unknown_fields(model, "", rules)
    rule_paths = {error.path for error in rules.errors}
    report.errors.extend(error for error in parse_errors if error.path not in rule_paths)
    report.errors.extend(rules.errors)
    report.warnings.extend(rules.warnings)
