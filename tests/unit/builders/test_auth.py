"""Token authentication (reference §2.16)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ray_operator.builders import auth, pods
from tests.unit.builders.helpers import CONFIG, UID, cluster, env_of, worker_container

TOKEN = bytes(range(32))


def with_auth(**options: Any) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        raw["spec"]["rayVersion"] = "2.55.0"
        raw["spec"]["authOptions"] = options

    return cluster(edit)


def test_token_mode_generates_a_secret_named_after_the_cluster() -> None:
    secret = auth.build_auth_secret(cluster=with_auth(mode="token"), token_bytes=TOKEN)
    assert secret == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "demo",
            "namespace": "ray",
            "labels": {"ray.io/cluster": "demo"},
            "ownerReferences": [
                {
                    "apiVersion": "ray.io/v1",
                    "kind": "RayCluster",
                    "name": "demo",
                    "uid": UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "type": "Opaque",
        "stringData": {"auth_token": base64.b64encode(TOKEN).decode()},
    }


@pytest.mark.parametrize(
    "options",
    [{"mode": "disabled"}, {}, {"mode": "token", "secretName": "mine"}, {"mode": "token", "enableK8sTokenAuth": True}],
)
def test_no_secret_unless_the_pods_use_a_generated_one(options: dict[str, Any]) -> None:
    assert auth.build_auth_secret(cluster=with_auth(**options), token_bytes=TOKEN) is None
    assert auth.build_auth_secret(cluster=cluster(), token_bytes=TOKEN) is None


def test_token_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32"):
        auth.build_auth_secret(cluster=with_auth(mode="token"), token_bytes=b"short")


def test_env_in_ray_container_and_wait_gcs_ready() -> None:
    built = with_auth(mode="token", secretName="mine")
    pod = pods.build_worker_pod(cluster=built, group_name="small", config=CONFIG, replica_index=0)
    for container in (pod["spec"]["containers"][0], pod["spec"]["initContainers"][0]):
        env = env_of(container)
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "mine", "key": "auth_token"}}
    head_env = env_of(pods.build_head_pod(cluster=built, config=CONFIG)["spec"]["containers"][0])
    assert head_env["RAY_AUTH_MODE"]["value"] == "token"


def test_unset_mode_injects_nothing() -> None:
    pod = pods.build_worker_pod(cluster=with_auth(), group_name="small", config=CONFIG, replica_index=0)
    assert "RAY_AUTH_MODE" not in env_of(pod["spec"]["containers"][0])


def test_user_auth_env_wins() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["spec"]["rayVersion"] = "2.55.0"
        raw["spec"]["authOptions"] = {"mode": "token"}
        worker_container(raw)["env"] = [{"name": "RAY_AUTH_TOKEN", "value": "literal"}]

    pod = pods.build_worker_pod(cluster=cluster(edit), group_name="small", config=CONFIG, replica_index=0)
    assert env_of(pod["spec"]["containers"][0])["RAY_AUTH_TOKEN"] == {"name": "RAY_AUTH_TOKEN", "value": "literal"}


def test_kubernetes_token_auth_uses_a_projected_token_volume() -> None:
    built = with_auth(mode="token", enableK8sTokenAuth=True)
    pod = pods.build_worker_pod(cluster=built, group_name="small", config=CONFIG, replica_index=0)
    ray = pod["spec"]["containers"][0]
    env = env_of(ray)
    assert env["RAY_ENABLE_K8S_TOKEN_AUTH"]["value"] == "true"
    assert "RAY_AUTH_TOKEN" not in env
    assert {"name": "ray-token", "mountPath": "/var/run/secrets/ray.io/serviceaccount", "readOnly": True} in ray[
        "volumeMounts"
    ]
    assert {"name": "ray-token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}} in pod["spec"][
        "volumes"
    ]
