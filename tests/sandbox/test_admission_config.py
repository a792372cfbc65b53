"""Validation of the webhook configuration objects themselves: manifest bugs are caught at apply time."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ray_operator.sandbox.admission.configuration import validate_webhook_configuration

KUBERAY_VALIDATING: dict[str, Any] = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "validating-webhook-configuration"},
    "webhooks": [
        {
            "admissionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {"name": "webhook-service", "namespace": "system", "path": "/validate-ray-io-v1-raycluster"}
            },
            "failurePolicy": "Fail",
            "name": "vraycluster.kb.io",
            "rules": [
                {
                    "apiGroups": ["ray.io"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["rayclusters"],
                }
            ],
            "sideEffects": "None",
        }
    ],
}


def with_hook(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(KUBERAY_VALIDATING)
    hook = obj["webhooks"][0]
    for key, value in changes.items():
        if value is None:
            hook.pop(key, None)
        else:
            hook[key] = value
    return obj


def test_kuberay_manifest_is_valid() -> None:
    assert validate_webhook_configuration(KUBERAY_VALIDATING, mutating=False) == []
    mutating = with_hook(name="mraycluster.kb.io", reinvocationPolicy="IfNeeded", timeoutSeconds=30)
    assert validate_webhook_configuration(mutating, mutating=True) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"name": "vraycluster"},
            "webhooks[0].name",
            "should be a domain with at least three segments separated by dots",
        ),
        ({"name": "Bad_Name.kb.io"}, "webhooks[0].name", "a lowercase RFC 1123 subdomain"),
        ({"sideEffects": None}, "webhooks[0].sideEffects", "Required value: must specify one of None, NoneOnDryRun"),
        (
            {"sideEffects": "Some"},
            "webhooks[0].sideEffects",
            'Unsupported value: "Some": supported values: "None", "NoneOnDryRun"',
        ),
        (
            {"timeoutSeconds": 31},
            "webhooks[0].timeoutSeconds",
            "Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        ),
        (
            {"failurePolicy": "Retry"},
            "webhooks[0].failurePolicy",
            'Unsupported value: "Retry": supported values: "Fail", "Ignore"',
        ),
        (
            {"admissionReviewVersions": None},
            "webhooks[0].admissionReviewVersions",
            "Required value: must specify one of v1, v1beta1",
        ),
        (
            {"admissionReviewVersions": ["v2"]},
            "webhooks[0].admissionReviewVersions",
            "must include at least one of v1, v1beta1",
        ),
        ({"clientConfig": {}}, "webhooks[0].clientConfig", "Required value: exactly one of url or service is required"),
        (
            {"clientConfig": {"url": "http://example.com/x"}},
            "webhooks[0].clientConfig.url",
            "'https' is the only allowed URL scheme",
        ),
        (
            {"clientConfig": {"url": "https://h/x#frag"}},
            "webhooks[0].clientConfig.url",
            "fragments are not permitted in the URL",
        ),
        (
            {"clientConfig": {"service": {"name": "s", "namespace": "n", "path": "validate"}}},
            "webhooks[0].clientConfig.service.path",
            "must start with a '/'",
        ),
        (
            {
                "rules": [
                    {"apiGroups": ["*", "ray.io"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["x"]}
                ]
            },
            "webhooks[0].rules[0].apiGroups",
            "if '*' is present, must not specify other API groups",
        ),
        (
            {"rules": [{"apiGroups": ["ray.io"], "apiVersions": ["v1"], "operations": ["PATCH"], "resources": ["x"]}]},
            "webhooks[0].rules[0].operations[0]",
            'Unsupported value: "PATCH"',
        ),
        (
            {
                "rules": [
                    {"apiGroups": ["ray.io"], "apiVersions": ["v1"], "operations": ["*"], "resources": ["*", "pods"]}
                ]
            },
            "webhooks[0].rules[0].resources",
            "if '*' is present, must not specify other resources without subresources",
        ),
        (
            {"objectSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
            "webhooks[0].objectSelector.matchExpressions[0].values",
            "must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            {"matchConditions": [{"name": "c", "expression": "object.metadata.name =="}]},
            "webhooks[0].matchConditions[0].expression",
            "compilation failed: ",
        ),
        (
            {"matchConditions": [{"expression": "true"}]},
            "webhooks[0].matchConditions[0].name",
            "Required value",
        ),
    ],
)
def test_manifest_bugs_name_the_field(changes: dict[str, Any], field: str, message: str) -> None:
    causes = validate_webhook_configuration(with_hook(**changes), mutating=False)
    assert any(c.field == field and message in c.message for c in causes), causes


def test_duplicate_webhook_names_are_refused() -> None:
    obj = copy.deepcopy(KUBERAY_VALIDATING)
    obj["webhooks"].append(copy.deepcopy(obj["webhooks"][0]))
    [cause] = validate_webhook_configuration(obj, mutating=False)
    assert (cause.reason, cause.field, cause.message) == (
        "FieldValueDuplicate",
        "webhooks[1].name",
        'Duplicate value: "vraycluster.kb.io"',
    )


def test_reinvocation_policy_is_only_checked_on_mutating_webhooks() -> None:
    obj = with_hook(reinvocationPolicy="Always")
    assert validate_webhook_configuration(obj, mutating=False) == []
    [cause] = validate_webhook_configuration(obj, mutating=True)
    assert cause.field == "webhooks[0].reinvocationPolicy" and cause.reason == "FieldValueNotSupported"
