"""``authOptions`` rules (C25): token authentication needs a Ray version that has it.

Why a module: the version gates (token auth, Kubernetes token auth) and their combinations are the
one area where a rule depends on ``rayVersion`` and two option fields together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.validation.accessors import as_bool, as_dict, as_str
from ray_operator.api.validation.errors import CauseType, Report
from ray_operator.api.validation.rayversion import format_version, parse_ray_version


def check_auth(spec: Mapping[str, Any], report: Report) -> None:
    options = as_dict(spec.get("authOptions"))
    if options is None:
        return
    mode = options.get("mode")
    k8s_auth = as_bool(options.get("enableK8sTokenAuth")) is True
    version_raw = spec.get("rayVersion")
    version = parse_ray_version(version_raw)
    if mode is None:
        report.warn(
            "spec.authOptions.mode",
            "is not set, so authentication stays disabled: set mode: token to enable it, or mode: disabled",
        )
    if mode == "token":
        minimum = format_version(c.MIN_RAY_VERSION_TOKEN_AUTH)
        if version_raw is None or version_raw == "":
            report.error(
                "spec.rayVersion",
                CauseType.REQUIRED,
                f"authOptions.mode token needs rayVersion (at least {minimum}): set it to the image's Ray version",
            )
        elif version is None:
            report.error(
                "spec.rayVersion",
                CauseType.INVALID,
                f"authOptions.mode token needs a parsable rayVersion such as '{minimum}'",
                version_raw,
            )
        elif version < c.MIN_RAY_VERSION_TOKEN_AUTH:
            report.error(
                "spec.rayVersion",
                CauseType.INVALID,
                f"authOptions.mode token needs Ray {minimum} or later: upgrade Ray or disable authentication",
                version_raw,
            )
    if k8s_auth:
        if mode != "token":
            report.error(
                "spec.authOptions.enableK8sTokenAuth",
                CauseType.FORBIDDEN,
                "Kubernetes token authentication needs authOptions.mode: token",
            )
        if as_str(options.get("secretName")):
            report.error(
                "spec.authOptions.secretName",
                CauseType.FORBIDDEN,
                "cannot be combined with enableK8sTokenAuth: remove one of them",
            )
        minimum = format_version(c.MIN_RAY_VERSION_K8S_TOKEN_AUTH)
        if mode == "token" and version is not None and version < c.MIN_RAY_VERSION_K8S_TOKEN_AUTH:
            report.error(
                "spec.authOptions.enableK8sTokenAuth",
                CauseType.FORBIDDEN,
                f"Kubernetes token authentication needs Ray {minimum} or later (rayVersion is {version_raw!r})",
            )
