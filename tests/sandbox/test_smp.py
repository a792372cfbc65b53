"""Strategic merge patch on built-in kinds, with the patches kubectl and kubernetes_asyncio really send."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ray_operator.sandbox.errors import ApiError
from ray_operator.sandbox.schema.smp import strategic_merge_patch


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "head", "labels": {"app": "ray", "tier": "head"}, "finalizers": ["a"]},
        "spec": {
            "containers": [
                {
                    "name": "ray-head",
                    "image": "rayproject/ray:2.9.0",
                    "ports": [
                        {"containerPort": 6379, "name": "gcs"},
                        {"containerPort": 8265, "name": "dashboard"},
                    ],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "args": ["--block", "--head"],
                },
                {"name": "sidecar", "image": "busybox"},
            ],
            "volumes": [{"name": "logs", "emptyDir": {}}],
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
        },
    }


def patch_pod(patch: dict[str, Any], original: dict[str, Any] | None = None) -> dict[str, Any]:
    return strategic_merge_patch(original or pod(), patch, api_version="v1", kind="Pod")


def test_containers_merge_by_name_and_keep_the_others() -> None:
    out = patch_pod({"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.10.0"}]}})
    head, sidecar = out["spec"]["containers"]
    assert head["image"] == "rayproject/ray:2.10.0"
    assert head["ports"][0]["containerPort"] == 6379  # untouched fields survive
    assert sidecar == {"name": "sidecar", "image": "busybox"}


def test_new_container_goes_first_like_the_real_server() -> None:
    # Patch items come first unless a server item precedes them on the server (the documented
    # kubectl-patch example shows the added container before the existing one).
    out = patch_pod({"spec": {"containers": [{"name": "logger", "image": "fluent"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["logger", "ray-head", "sidecar"]
    out = patch_pod({"spec": {"containers": [{"name": "sidecar", "image": "b2"}, {"name": "logger", "image": "f"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["ray-head", "sidecar", "logger"]


def test_nested_ports_merge_by_container_port_and_env_by_name() -> None:
    out = patch_pod(
        {
            "spec": {
                "containers": [
                    {
                        "name": "ray-head",
                        "ports": [{"containerPort": 8265, "name": "dash"}, {"containerPort": 10001}],
                        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                    }
                ]
            }
        }
    )
    head = out["spec"]["containers"][0]
    assert head["ports"] == [
        {"containerPort": 6379, "name": "gcs"},
        {"containerPort": 8265, "name": "dash"},
        {"containerPort": 10001},
    ]
    assert head["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]


def test_list_without_patch_strategy_is_replaced() -> None:
    out = patch_pod({"spec": {"tolerations": [{"key": "tpu", "operator": "Exists"}]}})
    assert out["spec"]["tolerations"] == [{"key": "tpu", "operator": "Exists"}]
    out = patch_pod({"spec": {"containers": [{"name": "ray-head", "args": ["--x"]}]}})
    assert out["spec"]["containers"][0]["args"] == ["--x"]


def test_null_deletes_a_key_and_labels_merge() -> None:
    out = patch_pod({"metadata": {"labels": {"tier": None, "new": "yes"}}})
    assert out["metadata"]["labels"] == {"app": "ray", "new": "yes"}


def test_patch_delete_directive_removes_list_item() -> None:
    out = patch_pod({"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["ray-head"]


def test_patch_replace_directive_on_list_and_map() -> None:
    out = patch_pod({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}})
    assert out["spec"]["containers"] == [{"name": "only", "image": "x"}]
    out = patch_pod({"metadata": {"labels": {"$patch": "replace", "fresh": "1"}}})
    assert out["metadata"]["labels"] == {"fresh": "1"}


def test_patch_delete_directive_on_map_empties_it() -> None:
    out = patch_pod({"metadata": {"labels": {"$patch": "delete"}}})
    assert out["metadata"]["labels"] == {}


def test_finalizers_are_a_merged_primitive_set_and_delete_from_primitive_list() -> None:
    out = patch_pod({"metadata": {"finalizers": ["b", "a"]}})
    assert out["metadata"]["finalizers"] == ["b", "a"]  # de-duplicated, then in patch order
    out = patch_pod({"metadata": {"finalizers": ["c"]}})
    assert out["metadata"]["finalizers"] == ["c", "a"]
    out = patch_pod({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == []


def test_retain_keys_on_volumes_drops_the_old_volume_source() -> None:
    out = patch_pod(
        {
            "spec": {
                "volumes": [
                    {"name": "logs", "hostPath": {"path": "/var/log"}, "$retainKeys": ["hostPath", "name"]},
                ]
            }
        }
    )
    assert out["spec"]["volumes"] == [{"name": "logs", "hostPath": {"path": "/var/log"}}]


def test_set_element_order_from_kubectl_apply_on_a_service() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "head-svc"},
        "spec": {
            "ports": [
                {"name": "gcs", "port": 6379, "targetPort": 6379},
                {"name": "dashboard", "port": 8265, "targetPort": 8265},
            ],
            "selector": {"app": "ray"},
        },
    }
    # The body kubectl apply sent when a port was changed, one added and one removed (apiserver-emulator.md §2).
    patch = {
        "spec": {
            "$setElementOrder/ports": [{"port": 8265}, {"port": 10001}],
            "ports": [
                {"port": 8265, "targetPort": 8266},
                {"name": "client", "port": 10001},
                {"$patch": "delete", "port": 6379},
            ],
        }
    }
    out = strategic_merge_patch(svc, patch, api_version="v1", kind="Service")
    assert out["spec"]["ports"] == [
        {"name": "dashboard", "port": 8265, "targetPort": 8266},
        {"name": "client", "port": 10001},
    ]
    assert out["spec"]["selector"] == {"app": "ray"}


def test_set_element_order_reorders_and_keeps_server_only_items_in_place() -> None:
    out = patch_pod(
        {
            "spec": {
                "containers": [{"name": "extra", "image": "e"}, {"name": "ray-head", "image": "new"}],
                "$setElementOrder/containers": [{"name": "extra"}, {"name": "ray-head"}],
            }
        }
    )
    names = [c["name"] for c in out["spec"]["containers"]]
    assert names == ["extra", "ray-head", "sidecar"]
    assert out["spec"]["containers"][1]["image"] == "new"
    out = patch_pod(
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "ray-head"}],
                "containers": [{"name": "ray-head", "image": "new"}],
            }
        }
    )
    assert [c["name"] for c in out["spec"]["containers"]] == ["sidecar", "ray-head"]


def test_deployment_template_containers_merge_and_strategy_retain_keys() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {
                "spec": {"containers": [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]}]}
            },
        },
    }
    patch = {
        "spec": {
            "replicas": 3,
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}},
        }
    }
    out = strategic_merge_patch(deployment, patch, api_version="apps/v1", kind="Deployment")
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80}]}
    ]


def test_original_is_not_mutated() -> None:
    original = pod()
    snapshot = copy.deepcopy(original)
    patch_pod({"spec": {"containers": [{"name": "ray-head", "image": "x"}]}}, original)
    assert original == snapshot


def test_new_item_with_directives_inside_is_cleaned() -> None:
    out = patch_pod({"spec": {"containers": [{"name": "n", "image": "i", "env": [{"name": "X", "value": None}]}]}})
    added = next(c for c in out["spec"]["containers"] if c["name"] == "n")
    assert added == {"name": "n", "image": "i", "env": [{"name": "X"}]}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"spec": {"containers": [{"image": "x"}]}}, "map: map[image:x] does not contain declared merge key: name"),
        ({"metadata": {"$patch": "explode", "a": 1}}, "unknown patch type: explode in map: map[a:1]"),
        ({"metadata": {"labels": {"$patch": "merge"}}}, "unknown patch type: merge in map: map[]"),
        (
            {"spec": {"containers": [{"$patch": "merge", "name": "x"}]}},
            "merging lists cannot yet be specified in the patch",
        ),
        ({"spec": {"$retainKeys": "nope"}}, "invalid patch format of retainKeys"),
        ({"spec": {"$retainKeys": ["volumes"], "hostname": "h"}}, "invalid patch format of retainKeys"),
        ({"spec": {"$setElementOrder/containers": {"a": 1}}}, "invalid patch format of setElementOrder list"),
        ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "invalid patch format of primitive list"),
        (
            {
                "spec": {
                    "containers": [{"name": "a"}, {"name": "b"}],
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                }
            },
            "The order in patch list:\n[map[name:a] map[name:b]]\n doesn't match $setElementOrder list:",
        ),
        ({"spec": {"containers": [["nested"]]}}, "lists of lists are not supported"),
        ({"spec": {"$bogus": 1}}, "unknown patch directive: $bogus"),
    ],
)
def test_malformed_patch_is_a_bad_request(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as caught:
        patch_pod(patch)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    assert message in caught.value.message


def test_non_object_patch_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as caught:
        strategic_merge_patch(pod(), [1], api_version="v1", kind="Pod")  # type: ignore[arg-type]
    assert "must be a JSON object, got list" in caught.value.message


def test_unknown_kind_merges_maps_and_replaces_lists() -> None:
    out = strategic_merge_patch(
        {"spec": {"a": {"b": 1}, "l": [1, 2]}}, {"spec": {"a": {"c": 2}, "l": [3]}}, api_version="x.io/v1", kind="Thing"
    )
    assert out == {"spec": {"a": {"b": 1, "c": 2}, "l": [3]}}


def test_absurdly_deep_patch_is_a_bad_request() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(5000):
        cursor["a"] = {}
        cursor = cursor["a"]
    with pytest.raises(ApiError) as caught:
        patch_pod({"metadata": {"annotations": deep}})
    assert caught.value.code == 400
