"""The catalogue of built-in kinds: every type the emulator serves at start, and the strategy of each.

Discovery order follows the core group, then the built-in groups; each type records its short names,
categories (``kubectl get all``), subresources, whether it has a ``generation`` and whether its names
must be DNS labels. ``strategies()`` maps the kinds with behaviour of their own to their strategy;
the rest (ConfigMaps, RBAC objects...) are stored as sent after their JSON types are checked.
Decided against: reading the list from the vendored OpenAPI definitions (they do not say which
resources a server serves, nor their short names or categories).
"""

from __future__ import annotations

from ray_operator.sandbox.builtins.admissionregistration import WebhookConfigurationStrategy
from ray_operator.sandbox.builtins.crds import CrdStrategy, CustomResourceStrategy
from ray_operator.sandbox.builtins.events import EventsV1Strategy
from ray_operator.sandbox.builtins.leases import LeaseStrategy
from ray_operator.sandbox.builtins.namespaces import NamespaceStrategy
from ray_operator.sandbox.builtins.pods import PodStrategy
from ray_operator.sandbox.builtins.reviews import review_type
from ray_operator.sandbox.builtins.secrets import ConfigMapStrategy, SecretStrategy
from ray_operator.sandbox.builtins.services import ServiceStrategy
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.builtins.workloads import WorkloadStrategy
from ray_operator.sandbox.engine.strategy import Strategies
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
        _rt("", "v1", "pods", "Pod", short=("po",), categories=("all",), subresources=(*STATUS, "binding", "resize")),
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
        _rt("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",), subresources=("token",)),
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
        review_type("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
        review_type("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview"),
        review_type("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview"),
        review_type("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", namespaced=True),
        review_type("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
        review_type("authentication.k8s.io", "tokenreviews", "TokenReview"),
    ]


def strategies() -> Strategies:
    """The strategy of every request type: the kinds below have their own, other built-ins the default."""
    workload = WorkloadStrategy()
    return Strategies(
        builtin=BuiltinStrategy(),
        custom=CustomResourceStrategy(),
        kinds={
            ("", "pods"): PodStrategy(),
            ("", "services"): ServiceStrategy(),
            ("", "secrets"): SecretStrategy(),
            ("", "configmaps"): ConfigMapStrategy(),
            ("", "namespaces"): NamespaceStrategy(),
            ("apps", "deployments"): workload,
            ("apps", "statefulsets"): workload,
            ("apps", "replicasets"): workload,
            ("apps", "daemonsets"): workload,
            ("events.k8s.io", "events"): EventsV1Strategy(),
            ("coordination.k8s.io", "leases"): LeaseStrategy(),
            ("apiextensions.k8s.io", "customresourcedefinitions"): CrdStrategy(),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): WebhookConfigurationStrategy(
                mutating=True
            ),
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): WebhookConfigurationStrategy(
                mutating=False
            ),
        },
    )
