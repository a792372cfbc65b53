"""Name rules of a RayCluster: its own name (metadata) and its worker groups' names.

Why together: both become parts of child object names and label values, so both are checked with
the upstream DNS-1035/1123 rules and messages from ``apimachinery.names`` plus the length limits the
operator's derived names need (``<name>-serve-svc`` must stay a 63-character label).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.validation.accessors import as_str
from ray_operator.api.validation.errors import CauseType, Report
from ray_operator.apimachinery.names import (
    DNS1035_LABEL_MESSAGE,
    DNS1035_LABEL_RE,
    DNS1123_LABEL_MESSAGE,
    DNS1123_LABEL_RE,
)


def check_metadata(meta: Mapping[str, Any], report: Report) -> None:
    name = meta.get("name")
    if name is None or name == "":
        generate = as_str(meta.get("generateName"))
        if not generate:
            report.error("metadata.name", CauseType.REQUIRED, "name or generateName is required")
        elif len(generate) + 5 > c.MAX_RAYCLUSTER_NAME_LENGTH:
            report.warn(
                "metadata.generateName",
                f"generated names will be longer than {c.MAX_RAYCLUSTER_NAME_LENGTH} characters and refused; "
                f"use a prefix of at most {c.MAX_RAYCLUSTER_NAME_LENGTH - 5} characters",
            )
        return
    if not isinstance(name, str):
        report.error("metadata.name", CauseType.TYPE_INVALID, "name must be of type string", name)
        return
    if len(name) > c.MAX_RAYCLUSTER_NAME_LENGTH:
        report.error(
            "metadata.name",
            CauseType.TOO_LONG,
            f"RayCluster name should be no more than {c.MAX_RAYCLUSTER_NAME_LENGTH} characters "
            f"(the operator derives names such as '<name>{c.SERVE_SERVICE_SUFFIX}' that must fit in 63): "
            "choose a shorter name",
            name,
        )
    if not DNS1035_LABEL_RE.match(name):
        report.error(
            "metadata.name",
            CauseType.INVALID,
            f"RayCluster name should be a valid DNS1035 label: {DNS1035_LABEL_MESSAGE}",
            name,
        )


def check_group_name(path: str, name: Any, report: Report) -> None:
    if name is None or name == "":
        report.error(path, CauseType.REQUIRED, "give every worker group a unique name (a DNS-1123 label)")
        return
    if not isinstance(name, str):
        return
    if len(name) > c.MAX_LABEL_VALUE_LENGTH:
        report.error(
            path,
            CauseType.TOO_LONG,
            "may not be more than 63 characters: the group name is the value of the ray.io/group label",
            name,
        )
    if not DNS1123_LABEL_RE.match(name):
        report.error(
            path,
            CauseType.INVALID,
            f"the group name is used in pod names and the ray.io/group label: {DNS1123_LABEL_MESSAGE}",
            name,
        )
    if name == c.HEAD_GROUP_LABEL_VALUE:
        report.warn(
            path,
            f"'{c.HEAD_GROUP_LABEL_VALUE}' is the ray.io/group label value of the head pod; selectors on "
            "ray.io/group will match this group's workers and the head together: choose another name",
        )
