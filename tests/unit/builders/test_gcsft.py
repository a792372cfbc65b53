"""GCS fault tolerance (reference §2.11)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ray_operator.builders import gcsft, pods
from tests.unit.builders.helpers import CONFIG, UID, cluster, env_of, head, head_container


def redis(**options: Any) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        raw["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379", **options}

    return edit


def legacy(raw: dict[str, Any]) -> None:
    raw["metadata"]["annotations"] = {"ray.io/ft-enabled": "true"}
    head(raw)["rayStartParams"] = {"redis-password": "secret"}
    head_container(raw)["env"] = [{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}]


def head_ray(edit: Any) -> dict[str, Any]:
    result: dict[str, Any] = pods.build_head_pod(cluster=cluster(edit), config=CONFIG)["spec"]["containers"][0]
    return result


def test_ft_is_enabled_by_options_or_the_legacy_annotation() -> None:
    assert gcsft.ft_enabled(cluster(redis()))
    assert gcsft.ft_enabled(cluster(legacy))
    assert not gcsft.ft_enabled(cluster())
    assert not gcsft.ft_enabled(cluster(lambda raw: raw["metadata"].update(annotations={"ray.io/ft-enabled": "no"})))


def test_storage_namespace_precedence_options_then_annotation_then_uid() -> None:
    assert gcsft.storage_namespace(cluster(redis())) == UID

    def annotated(raw: dict[str, Any]) -> None:
        legacy(raw)
        raw["metadata"]["annotations"]["ray.io/external-storage-namespace"] = "from-annotation"

    assert gcsft.storage_namespace(cluster(annotated)) == "from-annotation"
    assert gcsft.storage_namespace(cluster(redis(externalStorageNamespace="from-options"))) == "from-options"


def test_head_env_and_params_from_the_options() -> None:
    ray = head_ray(
        redis(
            redisUsername={"value": "default"},
            redisPassword={"valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}}},
        )
    )
    env = env_of(ray)
    assert env["RAY_external_storage_namespace"] == {"name": "RAY_external_storage_namespace", "value": UID}
    assert env["RAY_REDIS_ADDRESS"] == {"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}
    assert env["REDIS_USERNAME"] == {"name": "REDIS_USERNAME", "value": "default"}
    assert env["REDIS_PASSWORD"] == {
        "name": "REDIS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}},
    }
    assert " --redis-password=$REDIS_PASSWORD " in ray["args"][0]
    assert " --redis-username=$REDIS_USERNAME " in ray["args"][0]
    names = [e["name"] for e in ray["env"]]
    assert names[:4] == ["RAY_external_storage_namespace", "RAY_REDIS_ADDRESS", "REDIS_USERNAME", "REDIS_PASSWORD"]


def test_no_credentials_means_no_credential_params() -> None:
    ray = head_ray(redis())
    assert "--redis-password" not in ray["args"][0]
    assert "REDIS_PASSWORD" not in env_of(ray)


def test_legacy_literal_redis_password_is_copied_to_env() -> None:
    env = env_of(head_ray(legacy))
    assert env["REDIS_PASSWORD"] == {"name": "REDIS_PASSWORD", "value": "secret"}
    assert env["RAY_REDIS_ADDRESS"]["value"] == "redis:6379"  # the user's, untouched


def test_user_storage_namespace_env_wins_but_the_annotation_states_the_computed_one() -> None:
    def edit(raw: dict[str, Any]) -> None:
        redis()(raw)
        head_container(raw)["env"] = [{"name": "RAY_external_storage_namespace", "value": "mine"}]

    pod = pods.build_head_pod(cluster=cluster(edit), config=CONFIG)
    assert env_of(pod["spec"]["containers"][0])["RAY_external_storage_namespace"]["value"] == "mine"
    assert pod["metadata"]["annotations"]["ray.io/external-storage-namespace"] == UID


def test_finalizer_needs_redis_ft_and_the_cleanup_switch() -> None:
    assert gcsft.needs_redis_cleanup_finalizer(cluster=cluster(redis()), config=CONFIG)
    assert gcsft.needs_redis_cleanup_finalizer(cluster=cluster(legacy), config=CONFIG)
    assert not gcsft.needs_redis_cleanup_finalizer(cluster=cluster(), config=CONFIG)
    off = replace(CONFIG, enable_gcs_ft_redis_cleanup=False)
    assert not gcsft.needs_redis_cleanup_finalizer(cluster=cluster(redis()), config=off)
    assert not gcsft.needs_redis_cleanup_finalizer(cluster=cluster(redis(backend="rocksdb")), config=CONFIG)


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 300), ("600", 600), ("+60", 60), ("0", 300), ("-5", 300), ("abc", 300), (" 5", 300)]
)
def test_deletion_timeout_from_the_annotation(value: str | None, seconds: int) -> None:
    def edit(raw: dict[str, Any]) -> None:
        if value is not None:
            raw["metadata"]["annotations"] = {"ray.io/gcs-ft-deletion-timeout": value}

    assert gcsft.deletion_timeout_seconds(cluster(edit)) == seconds


def cleanup_job(edit: Any) -> dict[str, Any]:
    built = cluster(edit)
    head_pod = pods.build_head_pod(cluster=built, config=CONFIG)
    return gcsft.build_redis_cleanup_job(cluster=built, head_pod=head_pod, config=CONFIG)


def test_cleanup_job_content() -> None:
    def edit(raw: dict[str, Any]) -> None:
        redis(redisPassword={"value": "pw"})(raw)
        raw["spec"]["enableInTreeAutoscaling"] = True

    job = cleanup_job(edit)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["name"] == "demo-redis-cleanup"
    assert job["metadata"]["labels"]["ray.io/node-type"] == "redis-cleanup"
    assert job["metadata"]["annotations"]["ray.io/external-storage-namespace"] == UID
    assert job["metadata"]["ownerReferences"][0]["uid"] == UID
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (0, 300)
    template = job["spec"]["template"]
    assert template["metadata"]["labels"]["ray.io/node-type"] == "redis-cleanup"
    assert "generateName" not in template["metadata"] and "ownerReferences" not in template["metadata"]
    spec = template["spec"]
    assert spec["restartPolicy"] == "Never"
    (ray,) = spec["containers"]  # the autoscaler sidecar is gone
    assert ray["name"] == "ray-head"
    assert ray["command"] == ["/bin/bash", "-c", "--"]
    assert "cleanup_redis_storage(" in ray["args"][0] and "username=" not in ray["args"][0]
    assert "use_ssl=parsed.scheme == 'rediss'" in ray["args"][0]
    assert "livenessProbe" not in ray and "readinessProbe" not in ray
    assert ray["resources"] == {
        "limits": {"cpu": "200m", "memory": "256Mi"},
        "requests": {"cpu": "200m", "memory": "256Mi"},
    }
    env = env_of(ray)
    assert env["RAY_redis_db_connect_retries"]["value"] == "120"
    assert env["RAY_redis_db_connect_wait_milliseconds"]["value"] == "500"
    assert env["REDIS_PASSWORD"]["value"] == "pw"


def test_cleanup_job_passes_the_username_only_when_the_env_has_one() -> None:
    job = cleanup_job(redis(redisUsername={"value": "u"}))
    assert (
        "username=os.getenv('REDIS_USERNAME', parsed.username)"
        in job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    )


def test_cleanup_job_finished_on_complete_failed_or_failure_target() -> None:
    def job(kind: str, status: str = "True") -> dict[str, Any]:
        return {"status": {"conditions": [{"type": kind, "status": status}]}}

    assert gcsft.redis_cleanup_job_finished(job("Complete"))
    assert gcsft.redis_cleanup_job_finished(job("Failed"))
    assert gcsft.redis_cleanup_job_finished(job("FailureTarget"))
    assert not gcsft.redis_cleanup_job_finished(job("Complete", "False"))
    assert not gcsft.redis_cleanup_job_finished({})
