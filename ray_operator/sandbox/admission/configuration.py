"""Upstream's create-time validation of Mutating/ValidatingWebhookConfiguration objects (admissionregistration).

The server runs ``validate_webhook_configuration`` on every write of a webhook configuration, so a
configuration the real server would refuse (a two-segment webhook name, a missing ``sideEffects``,
an ``http`` URL, a ``*`` next to other operations...) is refused here with the same field paths and
texts, instead of failing later, at call time, in a way no real cluster would.
Decided against: compiling ``matchConditions`` lazily (upstream rejects a rule that does not compile
at write time, so this does too) and checking object metadata here (the pipeline does that for all kinds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from yarl import URL

from ray_operator.apimachinery.govalues import go_value
from ray_operator.apimachinery.names import DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN_RE
from ray_operator.sandbox import errors
from ray_operator.sandbox.admission.attributes import OPERATIONS
from ray_operator.sandbox.admission.review import KNOWN_REVIEW_VERSIONS
from ray_operator.sandbox.schema import cel

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

    Object metadata is the caller's; ``matchConditions`` expressions are compiled with the sandbox's CEL subset
    but not type-checked.
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
