"""GCS fault-tolerance rules (C14-C18): Redis settings in one place, the rocksdb backend refused.

Why: KubeRay accepts the Redis address and password in four places (options, rayStartParams, env vars,
annotations) and silently prefers one; here only ``spec.gcsFaultToleranceOptions`` is accepted when
the options are used, and the deprecated ``ray.io/ft-enabled`` annotation gets a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.validation.accessors import as_dict, containers_of, env_entries, get_in, str_map
from ray_operator.api.validation.errors import CauseType, Report


def check_gcs_ft(spec: Mapping[str, Any], meta: Mapping[str, Any], report: Report) -> None:
    annotations = str_map(meta.get("annotations"))
    raw_options = spec.get("gcsFaultToleranceOptions")
    options = as_dict(raw_options)
    head_params = str_map(get_in(spec, "headGroupSpec", "rayStartParams"))
    head_containers = containers_of(get_in(spec, "headGroupSpec", "template"))
    head_env = list(env_entries(head_containers[0])) if head_containers else []
    env_path = "spec.headGroupSpec.template.spec.containers[0].env"
    params_path = "spec.headGroupSpec.rayStartParams"
    ft_annotation = annotations.get(c.RAY_FT_ENABLED_ANNOTATION)
    if ft_annotation:
        report.warn(
            f"metadata.annotations[{c.RAY_FT_ENABLED_ANNOTATION}]",
            "is deprecated: use spec.gcsFaultToleranceOptions (redisAddress, redisPassword) instead",
        )
    # C14
    if ft_annotation and raw_options is not None:
        report.error(
            f"metadata.annotations[{c.RAY_FT_ENABLED_ANNOTATION}]",
            CauseType.FORBIDDEN,
            "cannot be used together with spec.gcsFaultToleranceOptions: remove the annotation",
        )
    # C18
    if head_params.get(c.PARAM_REDIS_USERNAME):
        report.error(
            f"{params_path}[{c.PARAM_REDIS_USERNAME}]",
            CauseType.FORBIDDEN,
            "set the Redis username with spec.gcsFaultToleranceOptions.redisUsername",
        )
    for index, name, _ in head_env:
        if name == c.ENV_REDIS_USERNAME:
            report.error(
                f"{env_path}[{index}]",
                CauseType.FORBIDDEN,
                f"{name}: set the Redis username with spec.gcsFaultToleranceOptions.redisUsername",
            )
    if options is None:
        # C15
        if (ft_annotation or "").lower() != "true":
            for index, name, _ in head_env:
                if name == c.ENV_RAY_REDIS_ADDRESS:
                    report.error(
                        f"{env_path}[{index}]",
                        CauseType.FORBIDDEN,
                        f"{name} implicitly enables GCS fault tolerance: set "
                        "spec.gcsFaultToleranceOptions.redisAddress instead",
                    )
        return
    # C16
    if head_params.get(c.PARAM_REDIS_PASSWORD):
        report.error(
            f"{params_path}[{c.PARAM_REDIS_PASSWORD}]",
            CauseType.FORBIDDEN,
            "set the Redis password with spec.gcsFaultToleranceOptions.redisPassword",
        )
    for index, name, _ in head_env:
        if name == c.ENV_REDIS_PASSWORD:
            report.error(
                f"{env_path}[{index}]",
                CauseType.FORBIDDEN,
                f"{name}: set the Redis password with spec.gcsFaultToleranceOptions.redisPassword",
            )
        elif name == c.ENV_RAY_REDIS_ADDRESS:
            report.error(
                f"{env_path}[{index}]",
                CauseType.FORBIDDEN,
                f"{name}: set the Redis address with spec.gcsFaultToleranceOptions.redisAddress",
            )
    if annotations.get(c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION):
        report.error(
            f"metadata.annotations[{c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION}]",
            CauseType.FORBIDDEN,
            "set the storage namespace with spec.gcsFaultToleranceOptions.externalStorageNamespace",
        )
    # C17
    backend = options.get("backend")
    if backend == "rocksdb":
        report.error(
            "spec.gcsFaultToleranceOptions.backend",
            CauseType.FORBIDDEN,
            "the embedded rocksdb backend is an alpha KubeRay feature this operator does not support: use redis",
        )
        return
    if options.get("storage") is not None:
        report.error(
            "spec.gcsFaultToleranceOptions.storage",
            CauseType.FORBIDDEN,
            "storage is only used by the rocksdb backend: remove it",
        )
    if options.get("redisAddress") in (None, ""):
        report.error(
            "spec.gcsFaultToleranceOptions.redisAddress",
            CauseType.REQUIRED,
            "the redis backend needs the Redis address, e.g. 'redis:6379' or 'redis://redis:6379'",
        )
