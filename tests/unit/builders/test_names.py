"""Names, identifiers and owner references of children (reference §2.2, §2.5, §2.6)."""

from __future__ import annotations

import pytest

from ray_operator.builders import names
from tests.unit.builders.helpers import UID, cluster


def test_head_generate_name_is_cluster_head_dash() -> None:
    assert names.head_pod_name_prefix("demo", deterministic=False) == "demo-head-"


def test_deterministic_head_name_has_no_trailing_dash() -> None:
    assert names.head_pod_name_prefix("demo", deterministic=True) == "demo-head"


def test_worker_generate_name_joins_cluster_group_and_worker() -> None:
    assert names.worker_pod_name_prefix("demo", "gpu") == "demo-gpu-worker-"


def test_pod_name_prefix_keeps_first_50_characters_and_lowercases() -> None:
    long_name = "A" * 30 + "b" * 30
    assert names.head_pod_name_prefix(long_name, deterministic=False) == ("a" * 30 + "b" * 20) + "-head-"
    # The worker prefix is cut after joining cluster and group, before "-worker-".
    assert names.worker_pod_name_prefix("c" * 40, "Group-Name") == "c" * 40 + "-group-nam" + "-worker-"


def test_check_name_keeps_the_last_50_characters() -> None:
    assert names.check_name("x" * 10 + "y" * 50) == "y" * 50


@pytest.mark.parametrize(("raw", "expected"), [("1abc", "rabc"), ("-abc", "rabc"), ("_abc", "rabc"), ("abc", "abc")])
def test_check_name_replaces_a_leading_digit_or_punctuation(raw: str, expected: str) -> None:
    assert names.check_name(raw) == expected


def test_check_label_keeps_the_last_63_and_allows_a_leading_digit() -> None:
    assert names.check_label("a" + "b" * 63) == "b" * 63
    assert names.check_label("1abc") == "1abc"
    assert names.check_label(".abc") == "rabc"


def test_owner_reference_is_a_blocking_controller_reference() -> None:
    ref = names.cluster_ref(cluster())
    assert names.owner_reference(ref) == {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": "demo",
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_cluster_ref_refuses_a_cluster_without_uid() -> None:
    with pytest.raises(ValueError, match=r"metadata\.uid"):
        names.cluster_ref(cluster(lambda raw: raw["metadata"].pop("uid")))


def test_owned_by_needs_a_controller_reference_with_the_cluster_uid() -> None:
    ref = names.cluster_ref(cluster())
    mine = {"metadata": {"ownerReferences": [names.owner_reference(ref)]}}
    not_controller = {"metadata": {"ownerReferences": [{**names.owner_reference(ref), "controller": False}]}}
    other_uid = {"metadata": {"ownerReferences": [{**names.owner_reference(ref), "uid": "other"}]}}
    assert names.owned_by(mine, ref)
    assert not names.owned_by(not_controller, ref)
    assert not names.owned_by(other_uid, ref)
    assert not names.owned_by({"metadata": {}}, ref)


def test_head_service_name_and_fqdn_follow_a_custom_head_service_name() -> None:
    plain = cluster()
    assert names.head_service_name(plain) == "demo-head-svc"
    custom = cluster(lambda raw: raw["spec"]["headGroupSpec"].update(headService={"metadata": {"name": "my-svc"}}))
    assert names.head_fqdn(custom, namespace="ray", cluster_domain="corp.local") == "my-svc.ray.svc.corp.local"
    assert names.ray_ip_from_fqdn("my-svc.ray.svc.corp.local") == "my-svc"
