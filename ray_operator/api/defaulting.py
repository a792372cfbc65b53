"""Defaults of a RayCluster: what the mutating webhook writes, so the stored object says what will happen.

Why: KubeRay fills some values in its CRD schema (replicas, min/max, numOfHosts, priority) and
others silently inside the controller (``rayStartParams`` ``{}``). The Ray autoscaler JSON-patches
``replace /spec/workerGroupSpecs/i/scaleStrategy``, which fails when the field is absent. Writing
these defaults at admission makes ``kubectl get -o yaml`` show the real configuration and keeps the
autoscaler's patches working, including on objects created before our CRD schema defaults existed.

``apply_defaults(obj)`` is pure (returns a new dict, never mutates its input), idempotent, and never
raises: anything it does not understand (a spec that is not an object, a group that is a string,
a ``minReplicas`` of the wrong type) is left exactly as it is for validation to report.

The defaults, and why each one is safe:

* ``headGroupSpec.rayStartParams: {}`` and ``workerGroupSpecs[i].rayStartParams: {}`` when absent or
  null: KubeRay's controller does the same (``setDefaults``); an empty map means "no extra flags".
* ``workerGroupSpecs[i].minReplicas: 0`` and ``maxReplicas: 2147483647`` when absent or null:
  KubeRay's CRD schema defaults (``+kubebuilder:default``). They also make the "min and max must be
  set when autoscaling is off" rule pass the way it does on a KubeRay cluster.
* ``workerGroupSpecs[i].replicas: 0`` when absent or null: KubeRay's CRD schema default. Zero is then
  clamped to minReplicas, which is how "unset means minReplicas" works. Defaulting replicas to
  minReplicas instead was rejected: a later decrease of minReplicas would then keep the old count,
  where KubeRay scales down.
* ``workerGroupSpecs[i].numOfHosts: 1`` when absent or null: KubeRay's CRD schema default (one pod per
  replica). An explicit ``0`` is kept (KubeRay treats it as 1; validation warns).
* ``workerGroupSpecs[i].priority: 0`` when absent or null: KubeRay's CRD schema default; 0 is "no
  preference" and needs no Ray version or autoscaler v2.
* ``workerGroupSpecs[i].scaleStrategy: {}`` when absent or null: the autoscaler's JSON patch
  ``replace`` needs the field to exist; an empty strategy deletes nothing.
* ``upgradeStrategy.rollingUpdate`` ``{maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 600}``, field by
  field, when ``upgradeStrategy.type`` is ``RollingUpdate`` (and nothing under another type, where the field
  is refused): the stored object then says how fast it rolls. A group's ``rollingUpdate`` override is not
  defaulted: an unset field there means "the cluster's value".
* ``gcsFaultToleranceOptions.backend: redis`` when the options exist without a backend: redis is the
  only backend an unset value can mean, and writing it shows which one runs. Validation treats an
  unset backend as redis when checking immutability, so this is not a change of backend.

The defaults are computed with structural sharing (``apply_defaults_shared``: only the dicts on the
way to a default are new, the rest is the input's), which is all the mutating webhook needs: it diffs
the result against the request, and a shared sub-object is skipped by identity. ``apply_defaults``
then copies that result as a plain walk of the JSON tree (new dicts and lists, scalars shared), not
``copy.deepcopy``: an admission object is parsed JSON, so the memo table and per-type dispatch of
``deepcopy`` buy nothing and cost about three quarters of the function's time.
Values that are not dicts or lists (strings, numbers, booleans, None) are immutable and are shared.
The input must be a tree, as parsed JSON always is: a structure that contains itself (possible only
from Python code or YAML anchors) is not supported.

Not defaulted on purpose: ``serviceType`` (unset and ``ClusterIP`` behave alike, no need),
``authOptions.mode`` (KubeRay's documentation and code disagree about what unset means),
``upgradeStrategy.type``, ``enableInTreeAutoscaling``, anything in pod templates (the builders add probes,
env and volumes to the pods, not to the stored template), and ``status``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api import rollingupdate as ru

__all__ = ["apply_defaults", "apply_defaults_shared"]


def _copy_json(value: Any) -> Any:
    """A copy of a JSON tree: every dict and list is new, leaves are shared (they are immutable).

    Iterative, not recursive: a request body nested a few hundred levels deep (valid JSON, and no
    RayCluster) must not hit Python's recursion limit inside a webhook. As fast as the recursive form.
    """
    if isinstance(value, dict):
        root: Any = {}
    elif isinstance(value, list):
        root = []
    else:
        return value
    stack: list[tuple[Any, Any]] = [(value, root)]
    push = stack.append
    while stack:
        source, target = stack.pop()
        copy: Any
        if isinstance(source, dict):
            for key, item in source.items():
                if isinstance(item, dict):
                    copy = {}
                    push((item, copy))
                elif isinstance(item, list):
                    copy = []
                    push((item, copy))
                else:
                    copy = item
                target[key] = copy
        else:
            for item in source:
                if isinstance(item, dict):
                    copy = {}
                    push((item, copy))
                elif isinstance(item, list):
                    copy = []
                    push((item, copy))
                else:
                    copy = item
                target.append(copy)
    return root


_Defaults = tuple[tuple[str, Callable[[], Any]], ...]
"""(key, factory) pairs: a factory, so every result gets its own new ``{}``."""

_HEAD_DEFAULTS: _Defaults = (("rayStartParams", dict),)
_GROUP_DEFAULTS: _Defaults = (
    ("rayStartParams", dict),
    ("replicas", lambda: 0),
    ("minReplicas", lambda: 0),
    ("maxReplicas", lambda: c.DEFAULT_MAX_REPLICAS),
    ("numOfHosts", lambda: c.DEFAULT_NUM_OF_HOSTS),
    ("priority", lambda: 0),
    ("scaleStrategy", dict),
)
_GCS_FT_DEFAULTS: _Defaults = (("backend", lambda: "redis"),)
_ROLLING_DEFAULTS: _Defaults = (
    ("maxSurge", lambda: ru.DEFAULT_MAX_SURGE),
    ("maxUnavailable", lambda: ru.DEFAULT_MAX_UNAVAILABLE),
    ("progressDeadlineSeconds", lambda: ru.DEFAULT_PROGRESS_DEADLINE_SECONDS),
)


def _with(target: dict[str, Any], defaults: _Defaults) -> dict[str, Any]:
    """``target`` itself when no key is missing (absent or null), else a shallow copy with the defaults.

    A null key is replaced where it stands and an absent one appended, as assigning into a copy would.
    """
    missing = {key: make() for key, make in defaults if target.get(key) is None}
    return target | missing if missing else target


def _defaulted_spec(spec: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    head = spec.get("headGroupSpec")
    if isinstance(head, dict) and (new_head := _with(head, _HEAD_DEFAULTS)) is not head:
        changes["headGroupSpec"] = new_head
    groups = spec.get("workerGroupSpecs")
    if isinstance(groups, list):
        new_groups = [_with(group, _GROUP_DEFAULTS) if isinstance(group, dict) else group for group in groups]
        if any(new is not old for new, old in zip(new_groups, groups, strict=True)):
            changes["workerGroupSpecs"] = new_groups
    options = spec.get("gcsFaultToleranceOptions")
    if isinstance(options, dict) and (new_options := _with(options, _GCS_FT_DEFAULTS)) is not options:
        changes["gcsFaultToleranceOptions"] = new_options
    strategy = spec.get("upgradeStrategy")
    if isinstance(strategy, dict) and strategy.get("type") == ru.ROLLING_UPDATE:
        rolling = strategy.get("rollingUpdate")
        base = {} if rolling is None else rolling
        if isinstance(base, dict) and (new_rolling := _with(base, _ROLLING_DEFAULTS)) is not rolling:
            changes["upgradeStrategy"] = strategy | {"rollingUpdate": new_rolling}
    return spec | changes if changes else spec


def apply_defaults_shared(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The defaulted object, sharing with ``obj`` every dict and list defaulting leaves unchanged.

    Only the dicts on the way to a default are new (the object, ``spec``, the group that lacked a
    field...), and ``obj`` itself comes back when nothing is missing. Nothing is mutated, but the
    result must be treated as read-only: a change to a shared part would change ``obj`` too. For the
    mutating webhook, which only diffs the result against the request: the diff then skips every
    shared sub-object by identity instead of comparing it, and the whole-tree copy is never made.
    """
    if not isinstance(obj, Mapping):
        return {}
    source = obj if isinstance(obj, dict) else dict(obj)
    spec = source.get("spec")
    if not isinstance(spec, dict):
        return source
    new_spec = _defaulted_spec(spec)
    return source if new_spec is spec else source | {"spec": new_spec}


def apply_defaults(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A defaulted copy of a RayCluster object, sharing no dict or list with ``obj`` (defaults: module docstring)."""
    result: dict[str, Any] = _copy_json(apply_defaults_shared(obj))
    return result
