"""The built-in resource types the emulator serves, and the defaulting the real API server applies to them.

Operators that compare desired with actual state must tolerate what kube-apiserver adds on write
(pod ``restartPolicy``, container ``imagePullPolicy``, service ``clusterIP``...), so the emulator adds
the same values; a test that passes here then passes against a real cluster. Only storage is
emulated for most kinds (no deployment or job controller). Defaulting here is pure: functions take the
object and return a defaulted copy; cluster IPs come from an allocator the caller passes in.
Decided against: validating built-ins semantically (only their JSON types are checked, in ``schema/decoding.py``),
and defaulting Jobs (their generated selector and labels need the uid; they are stored as sent).
"""

from __future__ import annotations

import base64
import copy
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.resources import ResourceType

STATUS = ("status",)


def _rt(
    group: str,
    version: str,
    resource: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    subresources: tuple[str, ...] = (),
    generation: bool = False,
    dns_label_name: str = "",  # "1123" or "1035" when names must be a DNS label, else a subdomain
    return_deleted: bool = True,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        list_kind=f"{kind}List",
        short_names=short,
        categories=categories,
        subresources=subresources,
        extra={"generation": generation, "dns_label_name": dns_label_name, "return_deleted": return_deleted},
    )


def _workload(group: str, resource: str, kind: str, *, short: tuple[str, ...] = ()) -> ResourceType:
    """A controller-managed workload: listed under ``all``, with a status subresource and a generation."""
    return _rt(group, "v1", resource, kind, short=short, categories=("all",), subresources=STATUS, generation=True)


def builtin_resource_types() -> list[ResourceType]:
    """Every built-in type served at start, in discovery order."""
    return [
        _rt(
            "",
            "v1",
            "namespaces",
            "Namespace",
            namespaced=False,
            short=("ns",),
            subresources=STATUS,
            dns_label_name="1123",
        ),
        _rt("", "v1", "pods", "Pod", short=("po",), categories=("all",), subresources=(*STATUS, "binding")),
        _rt(
            "",
            "v1",
            "services",
            "Service",
            short=("svc",),
            categories=("all",),
            subresources=STATUS,
            dns_label_name="1035",
        ),
        _rt("", "v1", "configmaps", "ConfigMap", short=("cm",)),
        _rt("", "v1", "secrets", "Secret"),
        _rt("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
        _rt("", "v1", "events", "Event", short=("ev",)),
        _rt("", "v1", "endpoints", "Endpoints", short=("ep",)),
        _rt("", "v1", "nodes", "Node", namespaced=False, short=("no",), subresources=STATUS),
        _workload("apps", "deployments", "Deployment", short=("deploy",)),
        _workload("apps", "statefulsets", "StatefulSet", short=("sts",)),
        _workload("apps", "replicasets", "ReplicaSet", short=("rs",)),
        _workload("apps", "daemonsets", "DaemonSet", short=("ds",)),
        _workload("batch", "jobs", "Job"),
        _rt(
            "policy",
            "v1",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            short=("pdb",),
            subresources=STATUS,
            generation=True,
        ),
        _rt("coordination.k8s.io", "v1", "leases", "Lease"),
        ResourceType(
            group="events.k8s.io",
            version="v1",
            resource="events",
            kind="Event",
            singular="event",
            namespaced=True,
            list_kind="EventList",
            short_names=("ev",),
            extra={"storage_gr": ("", "events"), "convert": "events.k8s.io/v1", "return_deleted": True},
        ),
        _rt("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), subresources=STATUS, generation=True),
        _rt("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",), generation=True),
        _rt("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
        _rt("rbac.authorization.k8s.io", "v1", "roles", "Role"),
        _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
        _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
        _rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
        _rt(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            namespaced=False,
            short=("crd", "crds"),
            categories=("api-extensions",),
            subresources=STATUS,
            generation=True,
        ),
        _rt(
            "admissionregistration.k8s.io",
            "v1",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            namespaced=False,
            categories=("api-extensions",),
            generation=True,
        ),
        _rt(
            "admissionregistration.k8s.io",
            "v1",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            namespaced=False,
            categories=("api-extensions",),
            generation=True,
        ),
        _review("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
        _review("authorization.k8s.io", "selfsubjectrulesreview", "SelfSubjectRulesReview"),
        _review("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
    ]


def _review(group: str, resource: str, kind: str) -> ResourceType:
    """A create-only, never stored review type (``kubectl auth can-i`` / ``whoami``); RBAC is not emulated."""
    return ResourceType(
        group=group,
        version="v1",
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=False,
        list_kind=f"{kind}List",
        verbs=("create",),
        extra={"review": True},
    )


def review_response(rt: ResourceType, body: Any, user: dict[str, Any]) -> dict[str, Any]:
    """Everything is allowed: the sandbox's only user is a cluster admin."""
    spec = body.get("spec") if isinstance(body, dict) and isinstance(body.get("spec"), dict) else {}
    out: dict[str, Any] = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"creationTimestamp": None}}
    if rt.kind == "SelfSubjectReview":
        out["status"] = {"userInfo": {k: v for k, v in user.items() if v}}
    elif rt.kind == "SelfSubjectRulesReview":
        out["spec"] = spec
        out["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    else:
        out["spec"] = spec
        out["status"] = {"allowed": True, "reason": "the sandbox allows every request"}
    return out


INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


# ------------------------------------------------------------------------------------------ defaulting


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


def _default_template(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


_ROLLING_UPDATE_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "Deployment": ("strategy", {"maxUnavailable": "25%", "maxSurge": "25%"}),
    "StatefulSet": ("updateStrategy", {"partition": 0}),
    "DaemonSet": ("updateStrategy", {"maxUnavailable": 1, "maxSurge": 0}),
}
"""Kind → (its update-strategy field, the ``rollingUpdate`` defaults when the type is RollingUpdate)."""


def _set_default(target: dict[str, Any], key: str, value: Any) -> Any:
    """``setdefault`` that also replaces JSON null: kube-apiserver decodes null as an unset field."""
    if target.get(key) is None:
        target[key] = value
    return target[key]


def default_workload(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """apps/v1 defaulting (SetDefaults_Deployment, _StatefulSet, _ReplicaSet, _DaemonSet) and the pod template's.

    An operator comparing a Deployment it wrote with the stored one sees these fields on a real cluster,
    so the sandbox adds them too. Values already set are kept; a field sent as null is defaulted as if absent.
    """
    out = copy.deepcopy(obj)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        _set_default(spec, "replicas", 1)
    if kind in _ROLLING_UPDATE_DEFAULTS:
        field, rolling_defaults = _ROLLING_UPDATE_DEFAULTS[kind]
        strategy = _set_default(spec, field, {})
        if isinstance(strategy, dict):
            _set_default(strategy, "type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = _set_default(strategy, "rollingUpdate", {})
                if isinstance(rolling, dict):
                    for key, value in rolling_defaults.items():
                        _set_default(rolling, key, value)
        _set_default(spec, "revisionHistoryLimit", 10)
    if kind == "Deployment":
        _set_default(spec, "progressDeadlineSeconds", 600)
    elif kind == "StatefulSet":
        _set_default(spec, "podManagementPolicy", "OrderedReady")
        _set_default(spec, "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    _default_template(spec)
    return out


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet")


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


def allocate_ip(used: Iterable[str], *, cidr: str = "10.96.0.0/12") -> str:
    taken = set(used)
    network = ipaddress.ip_network(cidr)
    for offset, host in enumerate(network.hosts()):
        if offset < 9:
            continue  # the low addresses are kept for the kubernetes and DNS services
        if str(host) not in taken:
            return str(host)
    raise errors.internal(f"range is full: no IP address left in {cidr}")


def default_service(
    svc: dict[str, Any],
    *,
    old: dict[str, Any] | None,
    used_ips: Callable[[], Iterable[str]],
    used_node_ports: Callable[[], Iterable[int]],
) -> dict[str, Any]:
    """Service defaulting and IP/nodePort allocation; ``spec.clusterIP`` is immutable once set."""
    out = copy.deepcopy(svc)
    spec = out.setdefault("spec", {})
    if not isinstance(spec, dict):
        return out
    old_spec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if spec["type"] != "ExternalName":
        if old_spec.get("clusterIP") and not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        if old_spec.get("clusterIP") and spec.get("clusterIP") != old_spec["clusterIP"]:
            raise errors.invalid(
                "Service",
                "",
                str((out.get("metadata") or {}).get("name", "")),
                [
                    errors.Cause(
                        reason="FieldValueInvalid",
                        field="spec.clusterIPs[0]",
                        message=f'Invalid value: []string{{"{spec.get("clusterIP")}"}}: may not change once set',
                    )
                ],
            )
        if not spec.get("clusterIP"):
            spec["clusterIP"] = allocate_ip(used_ips())
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        taken = set(used_node_ports())
        old_ports = {p.get("port"): p.get("nodePort") for p in old_spec.get("ports") or () if isinstance(p, dict)}
        for port in spec.get("ports") or ():
            if isinstance(port, dict) and not port.get("nodePort"):
                port["nodePort"] = old_ports.get(port.get("port")) or next(
                    n for n in range(30000, 32768) if n not in taken
                )
                taken.add(port["nodePort"])
    out.setdefault("status", {"loadBalancer": {}})
    return out


def prepare_secret(secret: dict[str, Any]) -> dict[str, Any]:
    """Merge ``stringData`` into base64 ``data`` and default ``type: Opaque``."""
    out = copy.deepcopy(secret)
    out.setdefault("type", "Opaque")
    string_data = out.pop("stringData", None)
    if isinstance(string_data, dict):
        data = out.setdefault("data", {}) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        out["data"] = data
    return out


def default_namespace(ns: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(ns)
    meta = out.setdefault("metadata", {})
    meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
    out.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    out.setdefault("status", {}).setdefault("phase", "Active")
    return out


# core/v1 field ↔ events.k8s.io/v1 field; one store holds both views, in the core form.
_EVENT_FIELDS = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("related", "related"),
    ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
    ("action", "action"),
    ("reason", "reason"),
    ("type", "type"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)


def event_to_core(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Event", "metadata": copy.deepcopy(event.get("metadata") or {})}
    for core, new in _EVENT_FIELDS:
        if new in event and event[new] is not None:
            out[core] = copy.deepcopy(event[new])
    return out


def event_from_core(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": copy.deepcopy(event.get("metadata") or {}),
    }
    for core, new in _EVENT_FIELDS:
        if core in event and event[core] is not None:
            out[new] = copy.deepcopy(event[core])
    return out


def validate_new_event(event: dict[str, Any]) -> list[errors.Cause]:
    """The required fields of an events.k8s.io/v1 Event on create (core/v1 events stay lenient)."""
    causes = []
    for name in ("eventTime", "reportingController", "reportingInstance", "action", "reason"):
        if not event.get(name):
            causes.append(errors.Cause(reason="FieldValueRequired", field=name, message="Required value"))
    if event.get("type") not in ("Normal", "Warning"):
        causes.append(
            errors.Cause(
                reason="FieldValueNotSupported",
                field="type",
                message=f'Unsupported value: "{event.get("type", "")}": supported values: "Normal", "Warning"',
            )
        )
    note = event.get("note")
    if isinstance(note, str) and len(note.encode()) > 1024:
        causes.append(
            errors.Cause(reason="FieldValueTooLong", field="note", message="Too long: may not be more than 1024 bytes")
        )
    return causes


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
