"""The review handlers as pure functions: what a user sees in kubectl follows from these fields."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

import jsonpatch
import pytest

from tests.webhook.conftest import FAKE_RULES, fake_defaults, review
from webhook.handlers import invalid_status, mutate_request, validate_request
from webhook.review import AdmissionRequest
from webhook.rules import Rules


def req(obj: Mapping[str, Any] | None, **kw: Any) -> AdmissionRequest:
    return AdmissionRequest.model_validate(review(obj, **kw)["request"])


def rc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "demo"}, "spec": spec}


def test_valid_create_is_allowed_without_status() -> None:
    r = validate_request(req(rc(ok=1)), rules=FAKE_RULES)
    assert r.allowed and r.status is None and r.patch is None


def test_denial_is_a_422_invalid_with_one_cause_per_field() -> None:
    request = req(rc(badA=1, badB="x"))
    r = validate_request(request, rules=FAKE_RULES)
    assert not r.allowed and r.uid == request.uid
    assert r.status is not None and r.status.details is not None
    assert (r.status.code, r.status.reason, r.status.status) == (422, "Invalid", "Failure")
    assert (r.status.details.name, r.status.details.group, r.status.details.kind) == ("demo", "ray.io", "RayCluster")
    assert [(c.field, c.reason) for c in r.status.details.causes] == [
        ("spec.badA", "FieldValueInvalid"),
        ("spec.badB", "FieldValueInvalid"),
    ]
    assert r.status.message == (
        'RayCluster.ray.io "demo" is invalid: '
        "[spec.badA: Invalid value: 1: must not be set, spec.badB: Invalid value: 'x': must not be set]"
    )


def test_single_error_message_has_no_brackets() -> None:
    r = validate_request(req(rc(badA=1)), rules=FAKE_RULES)
    assert r.status is not None
    assert r.status.message == 'RayCluster.ray.io "demo" is invalid: spec.badA: Invalid value: 1: must not be set'


def test_warnings_are_returned_on_allow_and_deny() -> None:
    assert validate_request(req(rc(warn="old")), rules=FAKE_RULES).warnings == ["spec.warn: old"]
    denied = validate_request(req(rc(warn="old", badA=1)), rules=FAKE_RULES)
    assert not denied.allowed and denied.warnings == ["spec.warn: old"]


def test_update_validates_against_the_old_object() -> None:
    old, new = rc(fixed="a"), rc(fixed="b")
    r = validate_request(req(new, operation="UPDATE", old=old), rules=FAKE_RULES)
    assert not r.allowed and r.status is not None and r.status.details is not None
    assert r.status.details.causes[0].field == "spec.fixed"
    assert validate_request(req(old, operation="UPDATE", old=old), rules=FAKE_RULES).allowed


def test_delete_is_allowed_without_calling_the_rules() -> None:
    def explode(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> Any:
        raise AssertionError("must not validate a DELETE")

    rules = Rules(validate=explode, apply_defaults=fake_defaults)
    assert validate_request(req(None, operation="DELETE", old=rc()), rules=rules).allowed


def test_unknown_kind_is_allowed_with_a_warning() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    for handler in (validate_request, mutate_request):
        r = handler(req(pod, kind="Pod", group="", resource="pods"), rules=FAKE_RULES)
        assert r.allowed and r.patch is None
        assert r.warnings and "does not handle pods" in r.warnings[0]


def test_create_without_object_is_a_bad_request_not_a_crash() -> None:
    r = validate_request(req(None), rules=FAKE_RULES)
    assert not r.allowed and r.status is not None and r.status.code == 400
    assert "request.object" in r.status.message


def test_a_failing_rule_becomes_an_internal_error_denial() -> None:
    def broken(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> Any:
        raise KeyError("spec")

    r = validate_request(req(rc()), rules=Rules(validate=broken, apply_defaults=fake_defaults))
    assert not r.allowed and r.status is not None
    assert r.status.code == 500 and r.status.reason == "InternalError" and "KeyError" in r.status.message


def _patched(obj: dict[str, Any], patch_b64: str) -> Any:
    ops = json.loads(base64.b64decode(patch_b64))
    return jsonpatch.apply_patch(copy.deepcopy(obj), ops)


def test_mutate_answers_a_patch_that_yields_the_defaulted_object() -> None:
    obj = rc(x=1)
    r = mutate_request(req(obj), rules=FAKE_RULES)
    assert r.allowed and r.patch_type == "JSONPatch" and r.patch is not None
    assert _patched(obj, r.patch) == fake_defaults(obj)
    ops = json.loads(base64.b64decode(r.patch))
    assert {op["path"] for op in ops} == {"/spec/replicas", "/metadata/labels"}


def test_mutate_without_changes_sends_no_patch() -> None:
    r = mutate_request(req(fake_defaults(rc())), rules=FAKE_RULES)
    assert r.allowed and r.patch is None and r.patch_type is None


def test_mutate_lets_an_object_the_defaulting_cannot_handle_through() -> None:
    def broken(obj: Mapping[str, Any]) -> dict[str, Any]:
        raise TypeError("spec is a string")

    r = mutate_request(req(rc()), rules=Rules(validate=FAKE_RULES.validate, apply_defaults=broken))
    assert r.allowed and r.patch is None


def test_dry_run_gets_the_same_answer() -> None:
    obj = rc(badA=1)
    real = validate_request(req(obj), rules=FAKE_RULES)
    dry = validate_request(req(obj, dry_run=True), rules=FAKE_RULES)
    assert real.status == dry.status and real.allowed == dry.allowed


@pytest.mark.parametrize("name", ["", "x"])
def test_invalid_status_without_causes(name: str) -> None:
    status = invalid_status(name=name, errors=[])
    assert status.message == f'RayCluster.ray.io "{name}" is invalid'


def test_an_unparseable_spec_is_denied_with_the_field_path_by_the_real_rules() -> None:
    from webhook.rules import raycluster_rules

    r = validate_request(req(rc(workerGroupSpecs="three groups")), rules=raycluster_rules())
    assert not r.allowed and r.status is not None and r.status.details is not None
    assert r.status.code == 422
    causes = {c.field: c.message for c in r.status.details.causes}
    assert "must be of type array" in causes["spec.workerGroupSpecs"]  # the parse error's own path, not a parent
    assert "spec.workerGroupSpecs: " in r.status.message


def test_the_real_defaulting_answers_a_patch_that_yields_its_result() -> None:
    from ray_operator.api.defaulting import apply_defaults
    from webhook.rules import raycluster_rules

    obj = rc(
        headGroupSpec={
            "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "r"}]}},
        },
        workerGroupSpecs=[
            {
                "groupName": "w",
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "w", "image": "r"}]}},
            }
        ],
    )
    r = mutate_request(req(obj), rules=raycluster_rules())
    assert r.allowed and r.patch is not None
    assert _patched(obj, r.patch) == apply_defaults(obj)
    again = mutate_request(req(apply_defaults(obj)), rules=raycluster_rules())
    assert again.patch is None  # idempotent: a defaulted object needs no patch
