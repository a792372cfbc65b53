"""The emulator's admission webhook chain: it calls Mutating/ValidatingWebhookConfigurations like kube-apiserver.

Why it exists: the operator's webhooks are only trustworthy if something calls them the way the real
API server does — over verified TLS for ``<service>.<namespace>.svc``, with a real ``AdmissionReview``
v1 body, enforcing the timeout, the failure policy and the dry-run side-effect rules, and turning
denials and call failures into the exact ``Status`` bodies kubectl prints (apiserver v1.32 texts:
``webhook/errors.ToStatusErr``, ``util/webhook.ErrCallingWebhook``, ``request.VerifyAdmissionResponse``).

Decisions (each where the emulator is simpler than kube-apiserver):

* Matching is pure (``webhook_matches``): rules, scope, namespaceSelector, objectSelector. The
  webhook configuration resources themselves are exempt, as upstream.
* ``matchPolicy: Equivalent`` (the default) needs the server's list of served versions
  (``served_versions``); conversion between them is an apiVersion rewrite (the CRD ``None`` strategy).
  Without that callable every webhook matches exactly. ``matchConditions`` run on the sandbox's CEL
  subset (``schema/cel``: no Kubernetes extension libraries, no ``authorizer``).
* Validating webhooks run concurrently; when several reject, upstream reports whichever error reached
  its channel first. Here the first in webhook order wins, so results are deterministic.
* ``reinvocationPolicy: IfNeeded``: one extra round, calling only IfNeeded webhooks that ran before a
  later webhook changed the object (upstream's ``webhookReinvokeContext``).
* Service endpoints come from an injected resolver ``(namespace, name, port) → (host, port)``; the TLS
  handshake still verifies the certificate for ``<name>.<namespace>.svc`` against ``caBundle``.
* Go's transport error texts are rebuilt from Python's (``x509: certificate is valid for …, not …``,
  ``dial tcp …: connect: connection refused``, ``context deadline exceeded``); the stable part is the
  ``failed calling webhook "<name>": failed to call webhook: Post "<url>"`` prefix.
* Denials follow v1.32's ``ToStatusErr``: no code, or one below 400, becomes 400 and the webhook's
  reason and details pass through (later servers default to 403 and prefix ``<resource> "<name>" is
  forbidden:``); controller-runtime webhooks send 403 Forbidden themselves, so kubectl shows the same.
* ``validate_webhook_configuration`` is upstream's create-time check of the configuration objects, for
  the server to run on writes of Mutating/ValidatingWebhookConfigurations.
* Warnings travel back as a list; an error raised after some webhooks warned carries them in
  ``AdmissionError.warnings`` so the server can still emit ``Warning`` headers, as upstream does.

Decided against: a JSON-schema model of the configurations (raw dicts are read defensively — a
malformed stored configuration becomes a call failure, never a crash) and per-call ClientSessions
(one session for the chain's life, pooled per SSL context and server name, which aiohttp keys connections
by, so admitted writes reuse a kept-alive connection instead of paying a TLS handshake each; the server
calls ``close()`` when it stops). A rotated caBundle gets a new SSL context, hence new connections; only
the 32 most recently used contexts are kept (``SslContexts``), so rotations do not pile up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import dataclasses
import errno
import ipaddress
import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jsonpatch
from cryptography import x509
from yarl import URL

from ray_operator.apimachinery.govalues import go_value
from ray_operator.apimachinery.names import DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN_RE
from ray_operator.apimachinery.selectors import SelectorError, label_selector_from_object
from ray_operator.sandbox import errors
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema import cel

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
KNOWN_REVIEW_VERSIONS = ("v1", "v1beta1")
DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 30
WARNING_TOTAL_RUNES = 4 * 1024
"""Upstream's warning recorder switches to truncating once this many runes were written."""
WARNING_ITEM_RUNES = 256
"""… and then cuts every warning to this many runes."""
MAX_ERROR_BODY = 2048
"""client-go keeps at most this much of an unexpected (non-Status) response body."""

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

_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


@dataclass(frozen=True, kw_only=True)
class AdmissionAttributes:
    """One request as admission sees it (``admission.Attributes``)."""

    operation: str
    """``CREATE`` | ``UPDATE`` | ``DELETE`` | ``CONNECT``."""
    rt: ResourceType
    sub_resource: str
    namespace: str
    """The request's namespace; for a Namespace object itself, its name (or ``""`` on create)."""
    name: str
    """Empty on CREATE with ``generateName``."""
    obj: dict[str, Any] | None
    old_obj: dict[str, Any] | None
    dry_run: bool
    options: dict[str, Any]
    """CreateOptions/UpdateOptions/DeleteOptions fields (``fieldManager``, ``dryRun``…)."""
    user_info: dict[str, Any]
    """``username``, ``uid``, ``groups``, ``extra``."""


class AdmissionError(errors.ApiError):
    """An admission failure; ``warnings`` were collected from webhooks before it happened."""

    def __init__(self, base: errors.ApiError, *, warnings: Iterable[str] = ()) -> None:
        super().__init__(
            code=base.code, reason=base.reason, message=base.message, details=base.details, headers=base.headers
        )
        self.warnings = list(warnings)


# --------------------------------------------------------------------------------------------
# Webhook records and matching (pure)


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
        return _str(self.spec.get("name")) or f"{self.configuration}[{self.index}]"

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
    configs.sort(key=lambda c: _str(_dict(c.get("metadata")).get("name")))
    hooks: list[Webhook] = []
    for config in configs:
        name = _str(_dict(config.get("metadata")).get("name"))
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
    labels = _dict(obj.get("metadata")).get("labels")
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
        ns_error = _internal_error(str(exc))
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
        obj_error = _internal_error(str(exc))
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
        expression = _str(condition.get("expression")) if isinstance(condition, Mapping) else ""
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


def as_version(obj: dict[str, Any] | None, rt: ResourceType) -> dict[str, Any] | None:
    """``obj`` converted to ``rt``'s version (the CRD ``None`` conversion strategy: only apiVersion changes)."""
    if obj is None or obj.get("apiVersion") in (None, rt.api_version):
        return obj
    converted = dict(obj)
    converted["apiVersion"] = rt.api_version
    return converted


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


# --------------------------------------------------------------------------------------------
# Validation of the configuration objects themselves (pure; upstream's admissionregistration validation)

_URL_FORM = "; desired format: https://host[/path]"


def _go_value(value: Any) -> str:
    """``field.Error``'s printing of a configuration field; its lists are typed ``[]string`` in Go."""
    return go_value(value, slice_type="string")


def _required(path: str, detail: str = "") -> errors.Cause:
    return errors.Cause(
        reason="FieldValueRequired", field=path, message=f"Required value: {detail}" if detail else "Required value"
    )


def _invalid(path: str, value: Any, detail: str) -> errors.Cause:
    return errors.Cause(reason="FieldValueInvalid", field=path, message=f"Invalid value: {_go_value(value)}: {detail}")


def _not_supported(path: str, value: Any, supported: Iterable[str]) -> errors.Cause:
    listed = ", ".join(json.dumps(v) for v in sorted(supported))
    return errors.Cause(
        reason="FieldValueNotSupported",
        field=path,
        message=f"Unsupported value: {_go_value(value)}: supported values: {listed}",
    )


def validate_webhook_configuration(obj: Mapping[str, Any], *, mutating: bool) -> list[errors.Cause]:
    """Upstream's create-time validation of a Mutating/ValidatingWebhookConfiguration's ``webhooks``.

    Object metadata is the caller's; ``matchConditions`` expressions are not compiled.
    """
    causes: list[errors.Cause] = []
    hooks = obj.get("webhooks")
    if hooks is None:
        return causes
    if not isinstance(hooks, list):
        return [_invalid("webhooks", hooks, "must be a list of webhooks")]
    names: set[str] = set()
    for i, hook in enumerate(hooks):
        base = f"webhooks[{i}]"
        if not isinstance(hook, Mapping):
            causes.append(_invalid(base, hook, "must be an object"))
            continue
        causes.extend(_validate_webhook(hook, base, mutating=mutating))
        name = hook.get("name")
        if isinstance(name, str) and name:
            if name in names:
                causes.append(
                    errors.Cause(
                        reason="FieldValueDuplicate",
                        field=f"{base}.name",
                        message=f"Duplicate value: {json.dumps(name)}",
                    )
                )
            names.add(name)
    return causes


def _validate_webhook(hook: Mapping[str, Any], base: str, *, mutating: bool) -> list[errors.Cause]:
    causes: list[errors.Cause] = []
    name = hook.get("name")
    if not isinstance(name, str) or not name:
        causes.append(_required(f"{base}.name"))
    elif len(name) > 253:
        causes.append(_invalid(f"{base}.name", name, "must be no more than 253 characters"))
    elif not DNS1123_SUBDOMAIN_RE.match(name):
        causes.append(_invalid(f"{base}.name", name, DNS1123_SUBDOMAIN_MESSAGE))
    elif len(name.split(".")) < 3:
        causes.append(
            _invalid(f"{base}.name", name, "should be a domain with at least three segments separated by dots")
        )
    rules = hook.get("rules") or []
    for j, rule in enumerate(rules if isinstance(rules, list) else []):
        causes.extend(_validate_rule(rule, f"{base}.rules[{j}]"))
    for key, allowed in (
        ("failurePolicy", ("Fail", "Ignore")),
        ("matchPolicy", ("Equivalent", "Exact")),
        *((("reinvocationPolicy", ("IfNeeded", "Never")),) if mutating else ()),
    ):
        if key in hook and hook[key] is not None and hook[key] not in allowed:
            causes.append(_not_supported(f"{base}.{key}", hook[key], allowed))
    side_effects = hook.get("sideEffects")
    if side_effects is None:
        causes.append(_required(f"{base}.sideEffects", "must specify one of None, NoneOnDryRun"))
    elif side_effects not in ("None", "NoneOnDryRun"):
        causes.append(_not_supported(f"{base}.sideEffects", side_effects, ("None", "NoneOnDryRun")))
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 30):
        causes.append(_invalid(f"{base}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds"))
    for key in ("namespaceSelector", "objectSelector"):
        causes.extend(_validate_selector(hook.get(key), f"{base}.{key}"))
    causes.extend(_validate_client_config(hook.get("clientConfig"), f"{base}.clientConfig"))
    causes.extend(_validate_match_conditions(hook.get("matchConditions"), f"{base}.matchConditions"))
    causes.extend(_validate_review_versions(hook.get("admissionReviewVersions"), f"{base}.admissionReviewVersions"))
    return causes


def _validate_rule(rule: Any, base: str) -> list[errors.Cause]:
    if not isinstance(rule, Mapping):
        return [_invalid(base, rule, "must be an object")]
    causes: list[errors.Cause] = []
    operations = rule.get("operations") or []
    if not operations:
        causes.append(_required(f"{base}.operations"))
    elif isinstance(operations, list):
        if len(operations) > 1 and "*" in operations:
            causes.append(
                _invalid(f"{base}.operations", operations, "if '*' is present, must not specify other operations")
            )
        for k, op in enumerate(operations):
            if op not in ("*", *OPERATIONS):
                causes.append(_not_supported(f"{base}.operations[{k}]", op, ("*", *OPERATIONS)))
    for key, what in (("apiGroups", "API groups"), ("apiVersions", "API versions")):
        values = rule.get(key) or []
        if not values:
            causes.append(_required(f"{base}.{key}"))
        elif isinstance(values, list) and len(values) > 1 and "*" in values:
            causes.append(_invalid(f"{base}.{key}", values, f"if '*' is present, must not specify other {what}"))
    versions = rule.get("apiVersions")
    for k, version in enumerate(versions if isinstance(versions, list) else []):
        if version == "":
            causes.append(_required(f"{base}.apiVersions[{k}]"))
    causes.extend(_validate_resources(rule.get("resources"), f"{base}.resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in ("*", "Cluster", "Namespaced"):
        causes.append(_not_supported(f"{base}.scope", scope, ("*", "Cluster", "Namespaced")))
    return causes


def _validate_resources(resources: Any, base: str) -> list[errors.Cause]:
    if not resources:
        return [_required(base)]
    if not isinstance(resources, list):
        return [_invalid(base, resources, "must be a list of resources")]
    causes: list[errors.Cause] = []
    wildcard_sub: set[str] = set()
    wildcard_res: set[str] = set()
    double = single = plain = False
    for i, entry in enumerate(resources):
        if not isinstance(entry, str) or not entry:
            causes.append(_required(f"{base}[{i}]"))
            continue
        double = double or entry == "*/*"
        single = single or entry == "*"
        res, sep, sub = entry.partition("/")
        if not sep:
            plain = entry != "*"
            continue
        if res in wildcard_sub:
            causes.append(_invalid(f"{base}[{i}]", entry, f"if '{res}/*' is present, must not specify {entry}"))
        if sub in wildcard_res:
            causes.append(_invalid(f"{base}[{i}]", entry, f"if '*/{sub}' is present, must not specify {entry}"))
        if sub == "*":
            wildcard_sub.add(res)
        if res == "*":
            wildcard_res.add(sub)
    if len(resources) > 1 and double:
        causes.append(_invalid(base, resources, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        causes.append(
            _invalid(base, resources, "if '*' is present, must not specify other resources without subresources")
        )
    return causes


def _validate_selector(selector: Any, base: str) -> list[errors.Cause]:
    if selector is None:
        return []
    if not isinstance(selector, Mapping):
        return [_invalid(base, selector, "must be a label selector")]
    causes: list[errors.Cause] = []
    expressions = selector.get("matchExpressions") or []
    for i, expr in enumerate(expressions if isinstance(expressions, list) else []):
        path = f"{base}.matchExpressions[{i}]"
        if not isinstance(expr, Mapping):
            causes.append(_invalid(path, expr, "must be a label selector requirement"))
            continue
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                causes.append(_required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    errors.Cause(
                        reason="FieldValueForbidden",
                        field=f"{path}.values",
                        message="Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            causes.append(_invalid(f"{path}.operator", op, "not a valid selector operator"))
    return causes


def _validate_client_config(config: Any, base: str) -> list[errors.Cause]:
    config = config if isinstance(config, Mapping) else {}
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [_required(base, "exactly one of url or service is required")]
    causes: list[errors.Cause] = []
    if url is not None:
        path = f"{base}.url"
        try:
            parsed = URL(str(url))
        except ValueError as exc:
            return [_required(path, f"url must be a valid URL: {exc}{_URL_FORM}")]
        if parsed.scheme != "https":
            causes.append(_invalid(path, parsed.scheme, "'https' is the only allowed URL scheme" + _URL_FORM))
        if not parsed.host:
            causes.append(_invalid(path, "", "host must be provided" + _URL_FORM))
        if parsed.raw_user or parsed.raw_password:
            causes.append(_invalid(path, parsed.raw_user or "", "user information is not permitted in the URL"))
        if parsed.raw_fragment:
            causes.append(_invalid(path, parsed.raw_fragment, "fragments are not permitted in the URL"))
        if parsed.raw_query_string:
            causes.append(_invalid(path, parsed.raw_query_string, "query parameters are not permitted in the URL"))
        return causes
    svc = service if isinstance(service, Mapping) else {}
    path = f"{base}.service"
    if not svc.get("name"):
        causes.append(_required(f"{path}.name", "service name is required"))
    if not svc.get("namespace"):
        causes.append(_required(f"{path}.namespace", "service namespace is required"))
    port = svc.get("port", 443)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        causes.append(_invalid(f"{path}.port", port, "port is not valid: must be between 1 and 65535, inclusive"))
    url_path = svc.get("path")
    if isinstance(url_path, str) and url_path not in ("", "/"):
        if url_path == "//":
            causes.append(_invalid(f"{path}.path", url_path, "segment[0] may not be empty"))
            return causes
        if not url_path.startswith("/"):
            causes.append(_invalid(f"{path}.path", url_path, "must start with a '/'"))
        steps = url_path[1:].removesuffix("/").split("/")
        for i, step in enumerate(steps):
            if not step:
                causes.append(_invalid(f"{path}.path", url_path, f"segment[{i}] may not be empty"))
            elif not DNS1123_SUBDOMAIN_RE.match(step):
                causes.append(_invalid(f"{path}.path", url_path, f"segment[{i}]: {DNS1123_SUBDOMAIN_MESSAGE}"))
    return causes


def _validate_match_conditions(conditions: Any, base: str) -> list[errors.Cause]:
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        return [_invalid(base, conditions, "must be a list of match conditions")]
    causes: list[errors.Cause] = []
    if len(conditions) > 64:
        causes.append(
            errors.Cause(
                reason="FieldValueTooMany",
                field=base,
                message=f"Too many: {len(conditions)}: must have at most 64 items",
            )
        )
    names: set[str] = set()
    for i, condition in enumerate(conditions):
        path = f"{base}[{i}]"
        if not isinstance(condition, Mapping):
            causes.append(_invalid(path, condition, "must be an object"))
            continue
        name, expression = condition.get("name"), condition.get("expression")
        if not isinstance(name, str) or not name:
            causes.append(_required(f"{path}.name"))
        elif name in names:
            causes.append(
                errors.Cause(
                    reason="FieldValueDuplicate", field=f"{path}.name", message=f"Duplicate value: {json.dumps(name)}"
                )
            )
        else:
            names.add(name)
        if not isinstance(expression, str) or not expression:
            causes.append(_required(f"{path}.expression"))
            continue
        try:
            cel.compile_rule(expression)
        except cel.CelError as exc:
            causes.append(_invalid(f"{path}.expression", expression, f"compilation failed: {exc}"))
    return causes


def _validate_review_versions(versions: Any, base: str) -> list[errors.Cause]:
    if not versions or not isinstance(versions, list):
        return [_required(base, "must specify one of v1, v1beta1")]
    causes: list[errors.Cause] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if version in seen:
            causes.append(_invalid(f"{base}[{i}]", version, "duplicate version"))
            continue
        seen.add(str(version))
    if not seen & set(KNOWN_REVIEW_VERSIONS):
        causes.append(_invalid(base, versions, "must include at least one of v1, v1beta1"))
    return causes


# --------------------------------------------------------------------------------------------
# AdmissionReview construction and response verification (pure)


def build_review(
    attrs: AdmissionAttributes,
    obj: dict[str, Any] | None,
    *,
    uid: str,
    version: str,
    as_rt: ResourceType | None = None,
) -> dict[str, Any]:
    """The ``AdmissionReview`` body kube-apiserver POSTs (``CreateV1AdmissionReview``).

    ``as_rt`` is the version the webhook asked for (matchPolicy Equivalent); ``requestKind`` and
    ``requestResource`` keep the version of the request.
    """
    rt = as_rt or attrs.rt
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    resource = {"group": rt.group, "version": rt.version, "resource": rt.resource}
    requested = attrs.rt
    request_kind = {"group": requested.group, "version": requested.version, "kind": requested.kind}
    request_resource = {"group": requested.group, "version": requested.version, "resource": requested.resource}
    user = {"username": _str(attrs.user_info.get("username"))}
    for key in ("uid", "groups", "extra"):
        if attrs.user_info.get(key):
            user[key] = attrs.user_info[key]
    request: dict[str, Any] = {"uid": uid, "kind": kind, "resource": resource}
    if attrs.sub_resource:
        request["subResource"] = attrs.sub_resource
    request["requestKind"] = request_kind
    request["requestResource"] = request_resource
    if attrs.sub_resource:
        request["requestSubResource"] = attrs.sub_resource
    if attrs.name:
        request["name"] = attrs.name
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    request["operation"] = attrs.operation
    request["userInfo"] = user
    request["object"] = as_version(obj, rt)
    request["oldObject"] = as_version(attrs.old_obj, rt)
    request["dryRun"] = attrs.dry_run
    request["options"] = _options(attrs)
    return {"kind": "AdmissionReview", "apiVersion": f"admission.k8s.io/{version}", "request": request}


def _options(attrs: AdmissionAttributes) -> dict[str, Any] | None:
    kind = _OPTIONS_KIND.get(attrs.operation)
    if kind is None:
        return _public(attrs.options) or None
    options = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    options.update(_public(attrs.options))
    return options


def _public(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as sent on the wire: no kind/apiVersion override, no server-internal ``_`` keys."""
    return {k: v for k, v in options.items() if k not in ("kind", "apiVersion") and not k.startswith("_")}


@dataclass(frozen=True, kw_only=True)
class ReviewResult:
    allowed: bool
    patch: bytes | None
    patch_type: str
    status: dict[str, Any] | None
    warnings: list[str]
    audit_annotations: dict[str, str]


class InvalidResponse(ValueError):
    """``VerifyAdmissionResponse`` failed; the text is upstream's."""


def verify_response(review: Any, *, uid: str, mutating: bool, version: str) -> ReviewResult:
    """Check a decoded response body exactly as ``VerifyAdmissionResponse`` does."""
    if not isinstance(review, Mapping):
        raise InvalidResponse("webhook response was absent")
    response = review.get("response")
    if not isinstance(response, Mapping):
        raise InvalidResponse("webhook response was absent")
    raw_patch = response.get("patch")
    patch_type = response.get("patchType")
    if version == "v1":
        got_uid = _str(response.get("uid"))
        if got_uid != uid:
            raise InvalidResponse(f'expected response.uid="{uid}", got "{got_uid}"')
        got_gv = _str(review.get("apiVersion"))
        group, _, ver = got_gv.rpartition("/")
        got = f"{group}/{ver}, Kind={_str(review.get('kind'))}"
        if got != "admission.k8s.io/v1, Kind=AdmissionReview":
            raise InvalidResponse(f"expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {got}")
        if mutating:
            if raw_patch and patch_type is None:
                raise InvalidResponse("webhook returned response.patch but not response.patchType")
            if not raw_patch and patch_type is not None:
                raise InvalidResponse("webhook returned response.patchType but not response.patch")
            if patch_type is not None and not _str(patch_type):
                raise InvalidResponse(f'webhook returned invalid response.patchType of "{_str(patch_type)}"')
        else:
            if raw_patch:
                raise InvalidResponse("validating webhook may not return response.patch")
            if patch_type is not None:
                raise InvalidResponse("validating webhook may not return response.patchType")
    else:  # v1beta1: neither uid nor kind were checked, and the patch type is pinned to JSONPatch
        patch_type = "JSONPatch" if (mutating and raw_patch) else None
    patch: bytes | None = None
    if mutating and raw_patch:
        if not isinstance(raw_patch, str):
            raise InvalidResponse(
                "json: cannot unmarshal non-string into Go struct field response.patch of type []byte"
            )
        try:
            patch = base64.b64decode(raw_patch, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidResponse(f"illegal base64 data in response.patch: {exc}") from None
    status = response.get("status")
    warnings = response.get("warnings")
    annotations = response.get("auditAnnotations")
    return ReviewResult(
        allowed=response.get("allowed") is True,
        patch=patch,
        patch_type=_str(patch_type),
        status=dict(status) if isinstance(status, Mapping) else None,
        warnings=[w for w in warnings if isinstance(w, str)] if isinstance(warnings, list) else [],
        audit_annotations={str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, Mapping) else {},
    )


# --------------------------------------------------------------------------------------------
# Error bodies (pure)


def denial_error(webhook_name: str, status: Mapping[str, Any] | None) -> errors.ApiError:
    """``ToStatusErr``: a webhook's ``allowed: false`` as the API error the client sees."""
    result = dict(status or {})
    code = result.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code < 400:
        code = 400
    denied_by = f'admission webhook "{webhook_name}" denied the request'
    message, reason = _str(result.get("message")), _str(result.get("reason"))
    if message:
        text = f"{denied_by}: {message}"
    elif reason:
        text = f"{denied_by}: {reason}"
    else:
        text = f"{denied_by} without explanation"
    details = result.get("details")
    return errors.ApiError(
        code=code, reason=reason, message=text, details=dict(details) if isinstance(details, Mapping) else None
    )


def _internal_error(inner: str) -> errors.ApiError:
    """``apierrors.NewInternalError``: 500 with the inner text as the single cause."""
    return errors.ApiError(
        code=500,
        reason="InternalError",
        message=f"Internal error occurred: {inner}",
        details={"causes": [{"message": inner}]},
    )


def call_failure_error(webhook_name: str, reason: str) -> errors.ApiError:
    """``ErrCallingWebhook`` under ``failurePolicy: Fail``."""
    return _internal_error(f'failed calling webhook "{webhook_name}": {reason}')


def dry_run_unsupported(webhook_name: str) -> errors.ApiError:
    return errors.bad_request(f'admission webhook "{webhook_name}" does not support dry run')


def limit_warnings(texts: Iterable[str]) -> list[str]:
    """Upstream's warning recorder: drop empty and duplicate texts; past 4 KiB runes cut each to 256."""
    seen: set[str] = set()
    ordered: list[str] = []
    for text in texts:
        if not text or text in seen or any(ord(c) < 0x20 and c != "\t" for c in text) or "\x7f" in text:
            continue
        seen.add(text)
        ordered.append(text)
    if sum(len(t) for t in ordered) <= WARNING_TOTAL_RUNES:
        return ordered
    out: list[str] = []
    written = 0
    for text in ordered:
        if written >= WARNING_TOTAL_RUNES:
            break
        cut = text[:WARNING_ITEM_RUNES]
        out.append(cut)
        written += len(cut)
    return out


# --------------------------------------------------------------------------------------------
# Endpoints and Go-style transport error texts


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    url: str
    """What upstream prints in ``Post "<url>"`` (without the timeout query)."""
    connect_host: str
    connect_port: int
    server_hostname: str
    host_header: str
    """``Host`` as Go sends it: the URL's host and port as written (``<svc>.<ns>.svc:443`` for services)."""
    path_qs: str
    """Path and query sent on the wire (the timeout added later)."""
    unresolved: str | None = None
    """Why the service has no address (the dial error upstream would report), or ``None``."""


class _ConfigError(ValueError):
    """The clientConfig cannot produce a REST client (``could not get REST client: …``)."""


def resolve_endpoint(
    client_config: Any, *, resolve_service: Callable[[str, str, int], tuple[str, int] | None]
) -> Endpoint:
    """Where to connect for a webhook's ``clientConfig``; raises ``_ConfigError`` if it names no endpoint."""
    if not isinstance(client_config, Mapping):
        raise _ConfigError("webhook has no clientConfig")
    service = client_config.get("service")
    url = client_config.get("url")
    if isinstance(service, Mapping):
        name, namespace = _str(service.get("name")), _str(service.get("namespace"))
        if not name or not namespace:
            raise _ConfigError("service name and namespace are required")
        port = service.get("port")
        port = port if isinstance(port, int) and not isinstance(port, bool) else 443
        path = _str(service.get("path")) or "/"
        host = f"{name}.{namespace}.svc"
        display = f"https://{host}:{port}{path}"
        resolved = resolve_service(namespace, name, port)
        return Endpoint(
            url=display,
            connect_host=resolved[0] if resolved else "",
            connect_port=resolved[1] if resolved else 0,
            unresolved=None if resolved else f'service "{name}" not found',
            server_hostname=host,
            host_header=f"{host}:{port}",
            path_qs=path,
        )
    if isinstance(url, str) and url:
        try:
            parsed = URL(url)
        except ValueError as exc:
            raise _ConfigError(f"invalid url {url!r}: {exc}") from None
        if parsed.scheme != "https" or not parsed.host:
            raise _ConfigError(f'unsupported scheme in url "{url}": only https is allowed')
        path_qs = parsed.raw_path_qs or "/"
        return Endpoint(
            url=url,
            connect_host=parsed.host,
            connect_port=parsed.port or 443,
            server_hostname=parsed.host,
            host_header=parsed.raw_authority,
            path_qs=path_qs,
        )
    raise _ConfigError("exactly one of url or service is required in clientConfig")


def _go_x509_text(exc: ssl.SSLCertVerificationError, peer_cert: x509.Certificate | None, host: str) -> str:
    code = getattr(exc, "verify_code", None)
    if code in (62, 64) and peer_cert is not None:  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        return _hostname_error(peer_cert, host)
    if code in (9, 10):  # not yet valid / expired
        text = "x509: certificate has expired or is not yet valid"
        if peer_cert is None:
            return text
        now = datetime.now(UTC).replace(microsecond=0)
        if code == 10:
            limit = peer_cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
            return f"{text}: current time {now.strftime('%Y-%m-%dT%H:%M:%SZ')} is after {limit}"
        limit = peer_cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{text}: current time {now.strftime('%Y-%m-%dT%H:%M:%SZ')} is before {limit}"
    if code in (2, 18, 19, 20, 21):
        return "x509: certificate signed by unknown authority"
    return f"x509: {getattr(exc, 'verify_message', None) or exc}"


def _hostname_error(cert: x509.Certificate, host: str) -> str:
    """Go's ``x509.HostnameError`` text."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is None:
        common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if common and str(common[0].value).lower() == host.lower():
            return "x509: certificate relies on legacy Common Name field, use SANs instead"
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    try:
        ipaddress.ip_address(host)
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        if not ips:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        valid = ", ".join(ips)
    except ValueError:
        valid = ", ".join(san.get_values_for_type(x509.DNSName))
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


async def _peer_certificate(host: str, port: int, server_hostname: str, seconds: float) -> x509.Certificate | None:
    """The server's leaf certificate, fetched without verification, only to word an error message."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(seconds):
            _, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_hostname)
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return x509.load_der_x509_certificate(der) if der else None
    except (OSError, TimeoutError, ValueError, ssl.SSLError):
        return None
    finally:
        if writer is not None:
            writer.close()


def _go_dial_text(exc: OSError | None, host: str, port: int) -> str:
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc is None:
        return f"dial tcp {addr}: connect: connection refused"
    number = exc.errno
    if number == errno.ECONNREFUSED:
        return f"dial tcp {addr}: connect: connection refused"
    if number in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"dial tcp {addr}: connect: no route to host"
    if isinstance(exc, OSError) and exc.strerror and "Name or service not known" in exc.strerror:
        return f"dial tcp: lookup {host}: no such host"
    return f"dial tcp {addr}: {exc.strerror or exc}"


def _generic_response_text(code: int, body: bytes, content_type: str) -> str:
    """client-go's text for a non-2xx webhook answer (``NewGenericServerResponse``)."""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, Mapping) and decoded.get("kind") == "Status" and _str(decoded.get("message")):
        return _str(decoded.get("message"))
    server_message = (
        body[:MAX_ERROR_BODY].decode("utf-8", "replace").strip() if content_type.startswith("text/") else ""
    )
    fixed = {
        400: "the server rejected our request for an unknown reason",
        401: "the server has asked for the client to provide credentials",
        403: server_message,
        404: "the server could not find the requested resource",
        405: "the server does not allow this method on the requested resource",
        422: "the server rejected our request due to an error in our request",
        429: "the server has received too many requests and has asked us to try again later",
        503: "the server is currently unable to handle the request",
        504: "the server was unable to return a response in the time allotted, but may still be processing the request",
    }
    if code in fixed:
        return fixed[code]
    if code >= 500:
        return f'an error on the server ("{server_message}") has prevented the request from succeeding'
    return f"the server responded with the status code {code} but did not return more information"


# --------------------------------------------------------------------------------------------
# JSON patch application


def decode_patch(raw_patch: bytes) -> list[Any]:
    """The RFC 6902 operations of a webhook's patch; ``_CallFailure`` if undecodable (upstream's text)."""
    try:
        ops = json.loads(raw_patch)
    except ValueError as exc:
        raise _CallFailure(f"received undecodable patch in webhook response: {exc}") from None
    if not isinstance(ops, list):
        raise _CallFailure(
            "received undecodable patch in webhook response: json: cannot unmarshal object into Go value of type "
            "jsonpatch.Patch"
        )
    return ops


def apply_json_patch(obj: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply RFC 6902 operations to a copy of ``obj``; a patch that does not apply is a 500, as upstream."""
    try:
        patched = jsonpatch.JsonPatch(ops).apply(obj)  # not in place: jsonpatch copies the document itself
    except jsonpatch.JsonPatchTestFailed as exc:
        raise _internal_error(f"testing value failed: {exc}") from None
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as exc:
        raise _internal_error(_patch_failure_text(ops, exc)) from None
    if not isinstance(patched, dict):
        raise _internal_error("patched object is not a JSON object")
    return patched


def _patch_failure_text(ops: list[Any], exc: Exception) -> str:
    for op in ops:
        if isinstance(op, Mapping) and isinstance(op.get("path"), str) and op["path"] in str(exc):
            return f'{_str(op.get("op"))} operation does not apply: doc is missing path: "{op["path"]}": missing value'
    return f"jsonpatch failed to apply: {exc}"


# --------------------------------------------------------------------------------------------
# The chain


class _CallFailure(Exception):
    """``ErrCallingWebhook``: subject to the failure policy. ``str`` is the reason text."""


class _Rejection(Exception):
    def __init__(self, error: errors.ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class SslContexts:
    """The client SSL context per caBundle, the few most recently used kept (LRU).

    Building a context parses the bundle, and aiohttp pools connections per context object, so reusing
    one keeps connections alive; bounding the cache keeps a caBundle rotated every few minutes (as
    cert-manager-style rotation does) from growing it for the life of the process.
    """

    def __init__(self, *, max_size: int = 32) -> None:
        self._max_size = max(1, max_size)
        self._cache: collections.OrderedDict[bytes, ssl.SSLContext] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._cache)

    def for_bundle(self, ca_bundle: Any) -> ssl.SSLContext:
        """The context trusting ``ca_bundle`` (base64 PEM; empty or absent means the system roots)."""
        pem = b""
        if isinstance(ca_bundle, str) and ca_bundle:
            try:
                pem = base64.b64decode(ca_bundle, validate=True)
            except (binascii.Error, ValueError):
                raise _ConfigError("caBundle is not valid base64") from None
        cached = self._cache.get(pem)
        if cached is not None:
            self._cache.move_to_end(pem)
            return cached
        try:
            ctx = ssl.create_default_context(cadata=pem.decode("ascii")) if pem else ssl.create_default_context()
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            raise _ConfigError(f"unable to load root certificates: {exc}") from None
        ctx.hostname_checks_common_name = False
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cache[pem] = ctx
        while len(self._cache) > self._max_size:
            self._cache.popitem(last=False)
        return ctx


class AdmissionChain:
    """Runs the mutating then (separately) the validating webhooks of one request."""

    def __init__(
        self,
        *,
        resolve_service: Callable[[str, str, int], tuple[str, int] | None],
        get_namespace: Callable[[str], dict[str, Any] | None],
        log: list[dict[str, Any]],
        served_versions: Callable[[str, str], Iterable[str]] | None = None,
    ) -> None:
        """``served_versions(group, resource)`` (optional) lists the versions served, for matchPolicy Equivalent
        (without it every webhook matches exactly). Pruning and defaulting of a patched custom resource are
        the caller's: the engine re-applies them once the whole mutating chain has run."""
        self._served_versions = served_versions
        self._resolve_service = resolve_service
        self._get_namespace = get_namespace
        self._log = log
        self._session: aiohttp.ClientSession | None = None
        self._ssl_contexts = SslContexts()

    async def close(self) -> None:
        """Close the pooled connections; the owner calls this once it admits no more requests."""
        session, self._session = self._session, None  # a request starting meanwhile gets a fresh session
        if session is not None:
            await session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
        return self._session

    # ---- mutating ------------------------------------------------------------------------

    async def mutate(
        self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """Call the matching mutating webhooks serially; return the final object and the warnings.

        ``attrs.obj`` is left as it is; when no webhook changes it, it is what comes back."""
        return await self._mutate(attrs, configurations)

    async def _mutate(
        self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, list[str]]:
        obj = attrs.obj  # never modified: every patch is applied to a copy
        warnings: list[str] = []
        if is_exempt(attrs.rt):
            return obj, warnings
        hooks = ordered_webhooks(configurations, mutating=True)
        invoked_reinvocable: list[str] = []
        to_reinvoke: set[str] = set()
        changed_any = False
        try:
            for hook in hooks:
                current = _with_object(attrs, obj)
                as_rt = self._match(hook, current)
                if as_rt is None:
                    continue
                obj, changed = await self._mutate_one(hook, current, warnings, round_=0, as_rt=as_rt)
                if changed:
                    changed_any = True
                    to_reinvoke.update(invoked_reinvocable)
                if hook.reinvoke_if_needed:
                    invoked_reinvocable.append(hook.uid)
            if changed_any and to_reinvoke:
                for hook in hooks:
                    if hook.uid not in to_reinvoke:
                        continue
                    current = _with_object(attrs, obj)
                    as_rt = self._match(hook, current)
                    if as_rt is None:
                        continue
                    obj, _ = await self._mutate_one(hook, current, warnings, round_=1, as_rt=as_rt)
        except errors.ApiError as exc:
            raise AdmissionError(exc, warnings=limit_warnings(warnings)) from None
        return obj, limit_warnings(warnings)

    def _match(self, hook: Webhook, attrs: AdmissionAttributes) -> ResourceType | None:
        return match_webhook(hook, attrs, get_namespace=self._get_namespace, served_versions=self._served_versions)

    async def _mutate_one(
        self, hook: Webhook, attrs: AdmissionAttributes, warnings: list[str], *, round_: int, as_rt: ResourceType
    ) -> tuple[dict[str, Any] | None, bool]:
        obj = attrs.obj
        started = time.monotonic()
        entry = self._log_entry(hook, attrs, round_=round_)
        try:
            result = await self._call(hook, attrs, entry, as_rt)
            warnings.extend(result.warnings)
            if not result.allowed:
                raise _Rejection(denial_error(hook.name, result.status))
            if not result.patch:
                return obj, False
            ops = decode_patch(result.patch)
            if not ops:
                return obj, False
            if obj is None:
                raise _internal_error(
                    f'admission webhook "{hook.name}" attempted to modify the object, '
                    "which is not supported for this operation"
                )
            if result.patch_type != "JSONPatch":
                raise _CallFailure(f'unsupported patch type "{result.patch_type}"')
            patched = as_version(apply_json_patch(as_version(obj, as_rt) or obj, ops), attrs.rt) or obj
            changed = patched != obj
            entry["patched"] = changed
            return patched, changed
        except _CallFailure as exc:
            entry["error"] = str(exc)
            if hook.fail_open:
                entry["failed_open"] = True
                return obj, False
            raise call_failure_error(hook.name, str(exc)) from None
        except _Rejection as exc:
            entry["allowed"] = False
            entry["error"] = exc.error.message
            raise exc.error from None
        except errors.ApiError as exc:
            entry["error"] = exc.message
            raise
        finally:
            entry["duration"] = time.monotonic() - started

    # ---- validating ----------------------------------------------------------------------

    async def validate(self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]) -> list[str]:
        """Call the matching validating webhooks concurrently; return the warnings or raise the first error."""
        return await self._validate(attrs, configurations)

    async def _validate(self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]) -> list[str]:
        if is_exempt(attrs.rt):
            return []
        matched = [(h, self._match(h, attrs)) for h in ordered_webhooks(configurations, mutating=False)]
        hooks = [(h, as_rt) for h, as_rt in matched if as_rt is not None]
        if not hooks:
            return []
        results = await asyncio.gather(*(self._validate_one(h, attrs, as_rt) for h, as_rt in hooks))
        warnings = [w for found, _ in results for w in found]
        for _, error in results:
            if error is not None:
                raise AdmissionError(error, warnings=limit_warnings(warnings))
        return limit_warnings(warnings)

    async def _validate_one(
        self, hook: Webhook, attrs: AdmissionAttributes, as_rt: ResourceType
    ) -> tuple[list[str], errors.ApiError | None]:
        started = time.monotonic()
        entry = self._log_entry(hook, attrs, round_=0)
        try:
            result = await self._call(hook, attrs, entry, as_rt)
            if result.allowed:
                return result.warnings, None
            error = denial_error(hook.name, result.status)
            entry["allowed"] = False
            entry["error"] = error.message
            return result.warnings, error
        except _CallFailure as exc:
            entry["error"] = str(exc)
            if hook.fail_open:
                entry["failed_open"] = True
                return [], None
            return [], call_failure_error(hook.name, str(exc))
        except errors.ApiError as exc:
            entry["error"] = exc.message
            return [], exc
        finally:
            entry["duration"] = time.monotonic() - started

    # ---- one call ------------------------------------------------------------------------

    def _log_entry(self, hook: Webhook, attrs: AdmissionAttributes, *, round_: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(),
            "webhook": hook.name,
            "configuration": hook.configuration,
            "type": "mutating" if hook.mutating else "validating",
            "round": round_,
            "operation": attrs.operation,
            "resource": attrs.rt.group_resource,
            "sub_resource": attrs.sub_resource,
            "namespace": attrs.namespace,
            "name": attrs.name,
            "dry_run": attrs.dry_run,
            "uid": None,
            "allowed": None,
            "patched": False,
            "duration": 0.0,
            "error": None,
        }
        self._log.append(entry)
        return entry

    async def _call(
        self, hook: Webhook, attrs: AdmissionAttributes, entry: dict[str, Any], as_rt: ResourceType
    ) -> ReviewResult:
        """POST one AdmissionReview; raises ``_CallFailure`` or ``ApiError`` (dry-run refusal)."""
        if attrs.dry_run:
            if hook.side_effects is None:
                raise _CallFailure("Webhook SideEffects is nil")
            if hook.side_effects not in ("None", "NoneOnDryRun"):
                raise dry_run_unsupported(hook.name)
        version = next((v for v in hook.review_versions if v in KNOWN_REVIEW_VERSIONS), None)
        if version is None:
            raise _CallFailure(
                "could not create admission objects: "
                "webhook does not accept known AdmissionReview versions (v1, v1beta1)"
            )
        uid = str(uuid.uuid4())
        entry["uid"] = uid
        try:
            endpoint = resolve_endpoint(hook.spec.get("clientConfig"), resolve_service=self._resolve_service)
            ctx = self._ssl_contexts.for_bundle(_dict(hook.spec.get("clientConfig")).get("caBundle"))
        except _ConfigError as exc:
            raise _CallFailure(f"could not get REST client: {exc}") from None
        timeout = hook.timeout_seconds
        sep = "&" if "?" in endpoint.path_qs else "?"
        display = f"{endpoint.url}{'&' if '?' in endpoint.url else '?'}timeout={timeout}s"
        if endpoint.unresolved:
            raise _CallFailure(f'failed to call webhook: Post "{display}": {endpoint.unresolved}')
        target = f"https://{_host_port(endpoint.connect_host, endpoint.connect_port)}{endpoint.path_qs}"
        target += f"{sep}timeout={timeout}s"
        body = json.dumps(build_review(attrs, attrs.obj, uid=uid, version=version, as_rt=as_rt)).encode()
        try:
            async with asyncio.timeout(timeout):
                async with self._client().post(
                    target,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "Accept": "application/json, */*",
                        "Host": endpoint.host_header,
                        "User-Agent": "kube-apiserver-admission",
                    },
                    ssl=ctx,
                    server_hostname=endpoint.server_hostname,
                    allow_redirects=False,
                ) as response:
                    raw = await response.read()
                    status_code = response.status
                    content_type = response.headers.get("Content-Type", "")
        except TimeoutError:
            raise _CallFailure(f'failed to call webhook: Post "{display}": context deadline exceeded') from None
        except aiohttp.ClientConnectorCertificateError as exc:
            cert_error = exc.certificate_error
            peer = None
            if isinstance(cert_error, ssl.SSLCertVerificationError) and getattr(cert_error, "verify_code", 0) in (
                9,
                10,
                62,
                64,
            ):
                peer = await _peer_certificate(
                    endpoint.connect_host, endpoint.connect_port, endpoint.server_hostname, timeout
                )
            text = (
                _go_x509_text(cert_error, peer, endpoint.server_hostname)
                if isinstance(cert_error, ssl.SSLCertVerificationError)
                else str(cert_error)
            )
            raise _CallFailure(
                f'failed to call webhook: Post "{display}": tls: failed to verify certificate: {text}'
            ) from None
        except aiohttp.ClientSSLError as exc:
            raise _CallFailure(f'failed to call webhook: Post "{display}": remote error: tls: {exc}') from None
        except aiohttp.ClientConnectorError as exc:
            text = _go_dial_text(exc.os_error, endpoint.connect_host, endpoint.connect_port)
            raise _CallFailure(f'failed to call webhook: Post "{display}": {text}') from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise _CallFailure(f'failed to call webhook: Post "{display}": EOF ({exc})') from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise _CallFailure(f'failed to call webhook: Post "{display}": {exc}') from None
        if not 200 <= status_code < 300:
            raise _CallFailure(f"failed to call webhook: {_generic_response_text(status_code, raw, content_type)}")
        try:
            review = json.loads(raw)
        except ValueError as exc:
            raise _CallFailure(f"failed to call webhook: couldn't get version/kind; json parse error: {exc}") from None
        try:
            result = verify_response(review, uid=uid, mutating=hook.mutating, version=version)
        except InvalidResponse as exc:
            raise _CallFailure(f"received invalid webhook response: {exc}") from None
        entry["allowed"] = result.allowed
        entry["warnings"] = list(result.warnings)
        if result.audit_annotations:
            entry["audit_annotations"] = {f"{hook.name}/{k}": v for k, v in result.audit_annotations.items()}
        return result


# --------------------------------------------------------------------------------------------
# small helpers


def _with_object(attrs: AdmissionAttributes, obj: dict[str, Any] | None) -> AdmissionAttributes:
    if obj is attrs.obj:
        return attrs
    return AdmissionAttributes(
        operation=attrs.operation,
        rt=attrs.rt,
        sub_resource=attrs.sub_resource,
        namespace=attrs.namespace,
        name=attrs.name,
        obj=obj,
        old_obj=attrs.old_obj,
        dry_run=attrs.dry_run,
        options=attrs.options,
        user_info=attrs.user_info,
    )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
