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

The copy is a plain walk of the JSON tree (new dicts and lists, scalars shared), not
``copy.deepcopy``: an admission object is parsed JSON, so the memo table and per-type dispatch of
``deepcopy`` buy nothing and cost about three quarters of the function's time on every request.
Values that are not dicts or lists (strings, numbers, booleans, None) are immutable and are shared.
The input must be a tree, as parsed JSON always is: a structure that contains itself (possible only
from Python code or YAML anchors) is not supported.

Not defaulted on purpose: ``serviceType`` (unset and ``ClusterIP`` behave alike, no need),
``authOptions.mode`` (KubeRay's documentation and code disagree about what unset means),
``upgradeStrategy.type``, ``enableInTreeAutoscaling``, anything in pod templates (the builders add probes,
env and volumes to the pods, not to the stored template), and ``status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api import rollingupdate as ru

__all__ = ["apply_defaults"]


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


def _set_if_missing(target: dict[str, Any], key: str, value: Any) -> None:
    if target.get(key) is None:
        target[key] = value


def _default_worker_group(group: dict[str, Any]) -> None:
    _set_if_missing(group, "rayStartParams", {})
    _set_if_missing(group, "replicas", 0)
    _set_if_missing(group, "minReplicas", 0)
    _set_if_missing(group, "maxReplicas", c.DEFAULT_MAX_REPLICAS)
    _set_if_missing(group, "numOfHosts", c.DEFAULT_NUM_OF_HOSTS)
    _set_if_missing(group, "priority", 0)
    _set_if_missing(group, "scaleStrategy", {})


def apply_defaults(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A defaulted copy of a RayCluster object, sharing no dict or list with ``obj`` (defaults: module docstring)."""
    if not isinstance(obj, Mapping):
        return {}
    result: dict[str, Any] = _copy_json(obj if isinstance(obj, dict) else dict(obj))
    spec = result.get("spec")
    if not isinstance(spec, dict):
        return result
    head = spec.get("headGroupSpec")
    if isinstance(head, dict):
        _set_if_missing(head, "rayStartParams", {})
    groups = spec.get("workerGroupSpecs")
    if isinstance(groups, list):
        for group in groups:
            if isinstance(group, dict):
                _default_worker_group(group)
    options = spec.get("gcsFaultToleranceOptions")
    if isinstance(options, dict):
        _set_if_missing(options, "backend", "redis")
    strategy = spec.get("upgradeStrategy")
    if isinstance(strategy, dict) and strategy.get("type") == ru.ROLLING_UPDATE:
        _set_if_missing(strategy, "rollingUpdate", {})
        rolling = strategy["rollingUpdate"]
        if isinstance(rolling, dict):
            _set_if_missing(rolling, "maxSurge", ru.DEFAULT_MAX_SURGE)
            _set_if_missing(rolling, "maxUnavailable", ru.DEFAULT_MAX_UNAVAILABLE)
            _set_if_missing(rolling, "progressDeadlineSeconds", ru.DEFAULT_PROGRESS_DEADLINE_SECONDS)
    return result
