"""Leases as kube-apiserver serves them: MicroTime parsed with Go's layout, nulls omitted, ValidateLease, 409s.

A leader elector that passes against a lenient emulator and then gets 400 on every real cluster is the
failure these tests exist to prevent.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ray_operator.kube.client import ApiError, request_json

LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
MICRO = "2026-12-02T15:00:00.123456Z"


def lease(**spec: Any) -> dict[str, Any]:
    base = {"holderIdentity": "a", "leaseDurationSeconds": 15, "acquireTime": MICRO, "renewTime": MICRO}
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l"},
        "spec": {**base, **spec},
    }


async def create(api_client: Any, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = (await request_json(api_client, "POST", LEASES, timeout=5, body=body)).body
    return created


@pytest.mark.parametrize(
    ("value", "tail"),
    [
        ("garbage", 'cannot parse "garbage" as "2006"'),
        ("2026-12-02T15:00:00Z", 'cannot parse "Z" as ".000000"'),
        ("2026-12-02T15:00:00.123Z", 'cannot parse ".123Z" as ".000000"'),
    ],
)
async def test_a_micro_time_without_six_fraction_digits_is_a_400_with_gos_message(
    api_client: Any, value: str, tail: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await create(api_client, lease(renewTime=value))
    assert caught.value.code == 400
    assert caught.value.message == (
        f'Lease in version "v1" cannot be handled as a Lease: parsing time "{value}" as '
        f'"2006-01-02T15:04:05.000000Z07:00": {tail}'
    )


async def test_micro_times_are_served_in_utc_and_null_fields_are_omitted(api_client: Any) -> None:
    created = await create(api_client, lease(renewTime="2026-12-02T16:00:00.000001+01:00", holderIdentity=None))
    assert created["spec"]["renewTime"] == "2026-12-02T15:00:00.000001Z"
    assert "holderIdentity" not in created["spec"]


async def test_lease_spec_validation_and_optimistic_concurrency(api_client: Any) -> None:
    with pytest.raises(ApiError) as caught:
        await create(api_client, lease(leaseDurationSeconds=0, leaseTransitions=-1))
    assert caught.value.code == 422
    assert caught.value.message == (
        'Lease.coordination.k8s.io "l" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater '
        "than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]"
    )
    created = await create(api_client, lease())
    update = copy.deepcopy(created)
    update["spec"]["holderIdentity"] = "b"
    await request_json(api_client, "PUT", f"{LEASES}/l", timeout=5, body=update)
    with pytest.raises(ApiError) as conflict:  # the same resourceVersion again: someone else already moved it
        await request_json(api_client, "PUT", f"{LEASES}/l", timeout=5, body=update)
    assert conflict.value.code == 409
