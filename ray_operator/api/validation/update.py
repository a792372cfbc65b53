"""Update rules: immutable fields, warnings for changes that will not reach running pods, and ratcheting.

Why: an UPDATE is judged against the stored object. ``spec.managedBy`` and the GCS FT backend are
immutable (an unset value counts as its default, so defaulting is not a change; *adding* a foreign
``managedBy`` is refused too, unlike KubeRay's CEL rule, since the pods would be orphaned). Template
and head Service changes are accepted with a warning saying what it takes to apply them. Errors the
stored object already had are ratcheted into warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.revisioninputs import head_input
from ray_operator.api.rollingupdate import ROLLING_UPDATE
from ray_operator.api.validation.accessors import as_dict, as_list, get_in
from ray_operator.api.validation.errors import CauseType, FieldError, Report


def _effective_managed_by(obj: Mapping[str, Any]) -> Any:
    value = get_in(obj, "spec", "managedBy")
    return c.MANAGED_BY_KUBERAY if value is None else value


def _effective_backend(obj: Mapping[str, Any]) -> Any:
    options = get_in(obj, "spec", "gcsFaultToleranceOptions")
    if as_dict(options) is None:
        return None
    backend = get_in(options, "backend")
    return "redis" if backend is None else backend


def check_update(new: Mapping[str, Any], old: Mapping[str, Any], report: Report) -> None:
    if new.get("spec") == old.get("spec"):
        # Every rule below compares a part of the spec (or a function of it) between old and new, so
        # none can fire; metadata-only updates (finalizers, labels) are common and skip the walk.
        return
    if _effective_managed_by(new) != _effective_managed_by(old):
        report.error(
            "spec.managedBy",
            CauseType.INVALID,
            "field is immutable (delete and re-create the RayCluster to hand it to another manager)",
            get_in(new, "spec", "managedBy"),
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
    kind = get_in(new, "spec", "upgradeStrategy", "type")
    if kind == ROLLING_UPDATE:
        _warn_head_restart(new, old, report)
    if kind not in ("Recreate", ROLLING_UPDATE):
        changed = []
        if get_in(new, "spec", "headGroupSpec", "template") != get_in(old, "spec", "headGroupSpec", "template"):
            changed.append("spec.headGroupSpec.template")
        old_group_list = as_list(get_in(old, "spec", "workerGroupSpecs")) or []
        old_groups = {get_in(g, "groupName"): get_in(g, "template") for g in old_group_list}
        for index, group in enumerate(as_list(get_in(new, "spec", "workerGroupSpecs")) or []):
            name = get_in(group, "groupName")
            if name in old_groups and old_groups[name] != get_in(group, "template"):
                changed.append(f"spec.workerGroupSpecs[{index}].template")
        for path in changed:
            report.warn(
                path,
                "changed, but running pods are not replaced; only pods created from now on use it: delete the "
                "pods or set spec.upgradeStrategy.type: RollingUpdate (or Recreate)",
            )
    for keys in (("headGroupSpec", "headService"), ("headGroupSpec", "serviceType"), ("headServiceAnnotations",)):
        if get_in(new, "spec", *keys) != get_in(old, "spec", *keys):
            report.warn(
                "spec." + ".".join(keys),
                "changed, but the head Service is only configured when it is created: delete the Service to apply",
            )


HEAD_RESTART_WARNING = (
    "changing the head template restarts the whole cluster; enable gcsFaultToleranceOptions to keep workers"
)
"""What ``kubectl apply`` prints (after ``Warning:``) for a head change under RollingUpdate without GCS FT."""


def _warn_head_restart(new: Mapping[str, Any], old: Mapping[str, Any], report: Report) -> None:
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    if new_spec is None or old_spec is None or as_dict(new_spec.get("gcsFaultToleranceOptions")) is not None:
        return
    annotations = as_dict(get_in(new, "metadata", "annotations")) or {}
    if str(annotations.get(c.RAY_FT_ENABLED_ANNOTATION, "")).lower() == "true":
        return  # the deprecated switch turns GCS FT on too
    if head_input(new_spec) != head_input(old_spec):
        report.warnings.append(HEAD_RESTART_WARNING)  # no field prefix: the exact words, a whole-object effect


def ratchet(report: Report, before: list[FieldError]) -> None:
    """On UPDATE, an error the stored object already had becomes a warning (like CRD validation ratcheting).

    Without this, a RayCluster stored before these rules applied (or created while webhooks were off)
    could not be updated at all, not even by the Ray autoscaler patching ``replicas``. ``before`` are the
    errors of the stored object validated on its own.
    """
    existing = {(error.path, error.type) for error in before}
    kept = []
    for error in report.errors:
        if (error.path, error.type) in existing:
            report.warnings.append(f"{error.text} (already the case before this update; please fix it)")
        else:
            kept.append(error)
    report.errors = kept
