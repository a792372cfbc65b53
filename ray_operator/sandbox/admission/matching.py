"""Which webhooks a request calls, and in what order (upstream's ``ShouldCallHook``), as pure functions.

Webhooks are called in upstream's order: configurations sorted by name, then list order. A webhook
is called when one of its ``rules`` matches (operation, group, version, resource and sub-resource,
scope), its ``namespaceSelector`` and ``objectSelector`` select the request, and its
``matchConditions`` hold. The webhook configuration resources themselves are exempt, as upstream.
Selector errors count only when a rule matched, as upstream orders the checks.

* ``matchPolicy: Equivalent`` (the default) needs the server's list of served versions
  (``served_versions``); conversion between them is an apiVersion rewrite (the CRD ``None``
  strategy). Without that callable every webhook matches exactly.
* ``matchConditions`` run on the sandbox's CEL subset (``schema/cel``: no Kubernetes extension
  libraries, no ``authorizer``); an evaluation error follows the failure policy (Fail → 403).

Decided against: caching match results per configuration (configurations change with every write of
them, and matching a few webhooks costs microseconds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.apimachinery.selectors import SelectorError, label_selector_from_object
from ray_operator.sandbox import errors
from ray_operator.sandbox.admission.attributes import AdmissionAttributes, as_mapping, as_str, as_version
from ray_operator.sandbox.admission.review import build_review, internal_error
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema import cel

DEFAULT_TIMEOUT_SECONDS = 10


MAX_TIMEOUT_SECONDS = 30


_EXEMPT_KINDS = frozenset(
    {
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    }
)


@dataclass(frozen=True, kw_only=True)
class Webhook:
    """One entry of ``webhooks[]`` with its configuration's name and position (its identity)."""

    configuration: str
    index: int
    spec: Mapping[str, Any]
    mutating: bool

    @property
    def uid(self) -> str:
        return f"{self.configuration}/{self.name}/{self.index}"

    @property
    def name(self) -> str:
        return as_str(self.spec.get("name")) or f"{self.configuration}[{self.index}]"

    @property
    def fail_open(self) -> bool:
        """``failurePolicy: Ignore``; the v1 default is ``Fail``."""
        return self.spec.get("failurePolicy") == "Ignore"

    @property
    def side_effects(self) -> str | None:
        value = self.spec.get("sideEffects")
        return value if isinstance(value, str) else None

    @property
    def timeout_seconds(self) -> int:
        value = self.spec.get("timeoutSeconds")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return min(value, MAX_TIMEOUT_SECONDS)
        return DEFAULT_TIMEOUT_SECONDS

    @property
    def review_versions(self) -> list[str]:
        value = self.spec.get("admissionReviewVersions")
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    @property
    def reinvoke_if_needed(self) -> bool:
        return self.mutating and self.spec.get("reinvocationPolicy") == "IfNeeded"


def ordered_webhooks(configurations: Iterable[Mapping[str, Any]], *, mutating: bool) -> list[Webhook]:
    """Webhooks in upstream's call order: configurations sorted by name, then list order."""
    configs = [c for c in configurations if isinstance(c, Mapping)]
    configs.sort(key=lambda c: as_str(as_mapping(c.get("metadata")).get("name")))
    hooks: list[Webhook] = []
    for config in configs:
        name = as_str(as_mapping(config.get("metadata")).get("name"))
        items = config.get("webhooks")
        if not isinstance(items, list):
            continue
        for index, spec in enumerate(items):
            if isinstance(spec, Mapping):
                hooks.append(Webhook(configuration=name, index=index, spec=spec, mutating=mutating))
    return hooks


def is_exempt(rt: ResourceType) -> bool:
    """Webhooks are never called for the admission configuration resources themselves."""
    return rt.group == "admissionregistration.k8s.io" and rt.kind in _EXEMPT_KINDS


def _is_namespace_resource(rt: ResourceType) -> bool:
    return rt.group == "" and rt.resource == "namespaces"


def _exact_or_wildcard(items: Any, requested: str) -> bool:
    return isinstance(items, list) and any(item == "*" or item == requested for item in items)


def rule_matches(rule: Mapping[str, Any], attrs: AdmissionAttributes) -> bool:
    """One ``rules[]`` entry (RuleWithOperations) against the request."""
    rt = attrs.rt
    scope = rule.get("scope") or "*"
    is_ns = _is_namespace_resource(rt)
    if scope == "Namespaced":
        if is_ns or not attrs.namespace:
            return False
    elif scope == "Cluster":
        if not (is_ns or not attrs.namespace):
            return False
    elif scope != "*":
        return False
    if not _exact_or_wildcard(rule.get("operations"), attrs.operation):
        return False
    if not _exact_or_wildcard(rule.get("apiGroups"), rt.group):
        return False
    if not _exact_or_wildcard(rule.get("apiVersions"), rt.version):
        return False
    resources = rule.get("resources")
    if not isinstance(resources, list):
        return False
    for entry in resources:
        if not isinstance(entry, str):
            continue
        res, _, sub = entry.partition("/")
        if (res == "*" or res == rt.resource) and (sub == "*" or sub == attrs.sub_resource):
            return True
    return False


def _selects(selector: Any, labels: Mapping[str, Any] | None) -> bool:
    """A ``metav1.LabelSelector`` against a label map; ``SelectorError`` when the selector is malformed."""
    return label_selector_from_object(selector).matches({str(k): str(v) for k, v in (labels or {}).items()})


def _labels(obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(obj, Mapping):
        return None
    labels = as_mapping(obj.get("metadata")).get("labels")
    return labels if isinstance(labels, dict) else {}


def webhook_matches(
    hook: Webhook,
    attrs: AdmissionAttributes,
    *,
    get_namespace: Callable[[str], dict[str, Any] | None],
    served_versions: Callable[[str, str], Iterable[str]] | None = None,
) -> bool:
    """Whether upstream's ``ShouldCallHook`` would call ``hook``; raises ``ApiError`` like it does."""
    return match_webhook(hook, attrs, get_namespace=get_namespace, served_versions=served_versions) is not None


def match_webhook(
    hook: Webhook,
    attrs: AdmissionAttributes,
    *,
    get_namespace: Callable[[str], dict[str, Any] | None],
    served_versions: Callable[[str, str], Iterable[str]] | None = None,
) -> ResourceType | None:
    """The resource version ``hook`` is called with (``None``: not called); raises ``ApiError`` like upstream.

    Order as upstream: selectors first, but their errors only count when a rule matched. Under
    ``matchPolicy: Equivalent`` (the default) a request through another served version of the same
    resource matches a rule naming that version, and the webhook sees the object in that version.
    """
    ns_error: errors.ApiError | None = None
    obj_error: errors.ApiError | None = None
    try:
        if not _namespace_selector_matches(hook.spec.get("namespaceSelector"), attrs, get_namespace=get_namespace):
            return None
    except SelectorError as exc:
        ns_error = internal_error(str(exc))
    except errors.ApiError as exc:
        ns_error = exc
    try:
        selector = hook.spec.get("objectSelector")
        if not label_selector_from_object(selector).empty and not (
            (attrs.obj is not None and _selects(selector, _labels(attrs.obj)))
            or (attrs.old_obj is not None and _selects(selector, _labels(attrs.old_obj)))
        ):
            return None
    except SelectorError as exc:
        obj_error = internal_error(str(exc))
    raw_rules = hook.spec.get("rules")
    rules = [r for r in raw_rules if isinstance(r, Mapping)] if isinstance(raw_rules, list) else []
    as_rt: ResourceType | None = attrs.rt if any(rule_matches(r, attrs) for r in rules) else None
    if as_rt is None and served_versions is not None and hook.spec.get("matchPolicy", "Equivalent") == "Equivalent":
        for version in served_versions(attrs.rt.group, attrs.rt.resource):
            if version == attrs.rt.version:
                continue
            candidate = dataclasses.replace(attrs.rt, version=version)
            if any(rule_matches(r, dataclasses.replace(attrs, rt=candidate)) for r in rules):
                as_rt = candidate
                break
    if as_rt is None:
        return None
    if ns_error is not None:
        raise ns_error
    if obj_error is not None:
        raise obj_error
    if not match_conditions_hold(hook, attrs, as_rt):
        return None
    return as_rt


def match_conditions_hold(hook: Webhook, attrs: AdmissionAttributes, as_rt: ResourceType) -> bool:
    """``matchConditions``: any false skips the webhook; errors follow the failure policy (Fail → 403).

    Evaluated with the sandbox's CEL subset over ``object``, ``oldObject`` and ``request``;
    ``authorizer`` is not available and counts as an evaluation error.
    """
    conditions = hook.spec.get("matchConditions")
    if not isinstance(conditions, list) or not conditions:
        return True
    variables = {
        "object": as_version(attrs.obj, as_rt),
        "oldObject": as_version(attrs.old_obj, as_rt),
        "request": build_review(attrs, attrs.obj, uid="", version="v1", as_rt=as_rt)["request"],
    }
    failures: list[str] = []
    for condition in conditions:
        expression = as_str(condition.get("expression")) if isinstance(condition, Mapping) else ""
        try:
            result = cel.evaluate(cel.compile_rule(expression), variables)
        except cel.CelError as exc:
            failures.append(f"expression '{expression}' resulted in error: {exc}")
            continue
        if result is False:
            return False
        if result is not True:
            failures.append(f"expression '{expression}' resulted in error: no such overload")
    if not failures:
        return True
    if hook.fail_open:
        return False
    text = failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]"
    rt = attrs.rt
    details: dict[str, Any] = {"name": attrs.name, "kind": rt.resource}
    if rt.group:
        details["group"] = rt.group
    raise errors.forbidden(f'{rt.group_resource} "{attrs.name}" is forbidden: {text}', details)


def _namespace_selector_matches(
    selector: Any, attrs: AdmissionAttributes, *, get_namespace: Callable[[str], dict[str, Any] | None]
) -> bool:
    is_ns = _is_namespace_resource(attrs.rt)
    if not attrs.namespace and not is_ns:
        return True  # cluster-scoped objects other than namespaces are never exempted
    if label_selector_from_object(selector).empty:
        return True
    if is_ns and not attrs.sub_resource and attrs.operation in ("CREATE", "UPDATE"):
        labels = _labels(attrs.obj) or {}
    else:
        ns_name = attrs.namespace or attrs.name
        namespace = get_namespace(ns_name)
        if namespace is None:
            raise errors.not_found("namespaces", "", ns_name)
        labels = _labels(namespace) or {}
    return _selects(selector, labels)
