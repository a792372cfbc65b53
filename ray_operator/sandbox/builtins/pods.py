"""Pods: the defaults kube-apiserver adds, the immutability of a pod's spec, graceful deletion and binding.

An operator comparing the pod it wrote with the stored one sees ``restartPolicy``, ``dnsPolicy``,
container ``imagePullPolicy``, probe defaults, the service account and the default tolerations on a
real cluster (defaulting plus the serviceaccount and priority admission plugins), so the sandbox adds
them too; a new pod starts ``Pending`` with its QoS class. A pod's spec is immutable but for images
and a few fields (422 otherwise). A pod on a node that a kubelet runs is deleted gracefully: it is
marked with its grace period and the kubelet removes it. ``pods/binding`` is what the scheduler (here,
the kubelet) uses to set ``spec.nodeName`` and ``PodScheduled``.
Decided against: emulating the rest of pod validation (tolerations "additions only" included).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.strategy import StrategyHost
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.store import clone


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged image, otherwise ``IfNotPresent`` (digests included)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if isinstance(probe, dict):
        probe.setdefault("timeoutSeconds", 1)
        probe.setdefault("periodSeconds", 10)
        probe.setdefault("successThreshold", 1)
        probe.setdefault("failureThreshold", 3)
        for handler in ("httpGet",):
            if isinstance(probe.get(handler), dict):
                probe[handler].setdefault("scheme", "HTTP")
                probe[handler].setdefault("path", "/")


def _default_container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    if isinstance(container.get("image"), str) and "imagePullPolicy" not in container:
        container["imagePullPolicy"] = image_pull_policy(container["image"])
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in container.get("env") or ():
        value_from = env.get("valueFrom") if isinstance(env, dict) else None
        field_ref = value_from.get("fieldRef") if isinstance(value_from, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))


def default_pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec and the container defaults, in place."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    if "serviceAccount" in spec and "serviceAccountName" not in spec:
        spec["serviceAccountName"] = spec["serviceAccount"]
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or ():
            _default_container(container)
    for volume in spec.get("volumes") or ():
        if not isinstance(volume, dict):
            continue
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if not any(k for k in volume if k != "name"):
            volume["emptyDir"] = {}


def default_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """What kube-apiserver adds to a pod on create (admission plugins included: serviceaccount, priority)."""
    out = copy.deepcopy(pod)
    spec = out.setdefault("spec", {})
    if isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault(
            "tolerations",
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
        )
    return out


def qos_class(spec: dict[str, Any]) -> str:
    containers = [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if isinstance(c, dict)]
    requests_any = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


POD_UPDATE_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
    "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _mutable_cleared(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    out = copy.deepcopy(spec)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"):
        out.pop(key, None)
    for key in ("containers", "initContainers"):
        for container in out.get(key) or ():
            if isinstance(container, dict):
                container.pop("image", None)
    return out


def pod_update_causes(new: dict[str, Any], old: dict[str, Any]) -> list[errors.Cause]:
    """A pod's spec is immutable but for images and a few fields; anything else is a 422, as upstream."""
    if _mutable_cleared(new.get("spec")) == _mutable_cleared(old.get("spec")):
        return []
    return [errors.Cause(reason="FieldValueForbidden", field="spec", message=POD_UPDATE_FORBIDDEN)]


class PodStrategy(BuiltinStrategy):
    def defaults(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return default_pod(obj)

    def prepare_for_create(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        obj = default_pod(obj)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
        return obj

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        return pod_update_causes(obj, old) if subresource not in ("status", "resize") else []

    def grace_period(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], options: Mapping[str, Any]
    ) -> int:
        """Seconds of graceful termination for a pod on a node a (fake) kubelet runs; 0 means delete now."""
        if not host.graceful_pods:
            return 0
        if not (obj.get("spec") or {}).get("nodeName") or (obj.get("status") or {}).get("phase") in (
            "Succeeded",
            "Failed",
        ):
            return 0
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return max(int(grace), 0) if isinstance(grace, int) and not isinstance(grace, bool) else 30


def bind(host: StrategyHost, rt: ResourceType, namespace: str, name: str, body: Any) -> dict[str, Any]:
    """``pods/binding``: what the scheduler does; sets ``spec.nodeName`` and the PodScheduled condition."""
    pod = host.store.get(host.gr(rt), namespace, name)
    if pod is None:
        raise errors.not_found(rt.resource, rt.group, name)
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
    conditions = [c for c in (new.setdefault("status", {}).get("conditions") or ()) if c.get("type") != "PodScheduled"]
    conditions.append(
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": host.now()}
    )
    new["status"]["conditions"] = conditions
    host.store.commit(host.gr(rt), new)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
