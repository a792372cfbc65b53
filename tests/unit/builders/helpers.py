"""Small RayCluster factories for the builder tests.

``cluster(...)`` starts from a minimal valid RayCluster (one head, one worker group), applies the
keyword overrides to the raw dict, runs the real defaulting and parses the model — the same path the
reconciler's input takes — so tests state only what they are about.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ray_operator.api.defaulting import apply_defaults
from ray_operator.api.models import RayCluster
from ray_operator.builders.config import BuildConfig

CONFIG = BuildConfig(operator_version="0.1.0")
NAME = "demo"
NAMESPACE = "ray"
UID = "11111111-2222-3333-4444-555555555555"
FQDN = f"{NAME}-head-svc.{NAMESPACE}.svc.cluster.local"


def base() -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "uid": UID, "generation": 1},
        "spec": {
            "rayVersion": "2.52.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "ray-head",
                                "image": "rayproject/ray:2.52.0",
                                "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                            }
                        ]
                    }
                },
            },
            "workerGroupSpecs": [
                {
                    "groupName": "small",
                    "replicas": 1,
                    "minReplicas": 0,
                    "maxReplicas": 5,
                    "rayStartParams": {},
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "ray-worker",
                                    "image": "rayproject/ray:2.52.0",
                                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                                }
                            ]
                        }
                    },
                }
            ],
        },
    }


def cluster(edit: Callable[[dict[str, Any]], None] | None = None) -> RayCluster:
    """The base cluster after ``edit(raw_dict)``, defaulted and parsed."""
    raw = base()
    if edit is not None:
        edit(raw)
    return RayCluster.model_validate(apply_defaults(raw))


def head(raw: dict[str, Any]) -> dict[str, Any]:
    """The head group of a raw cluster dict."""
    result: dict[str, Any] = raw["spec"]["headGroupSpec"]
    return result


def head_container(raw: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = raw["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    return result


def worker(raw: dict[str, Any], index: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = raw["spec"]["workerGroupSpecs"][index]
    return result


def worker_container(raw: dict[str, Any], index: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = raw["spec"]["workerGroupSpecs"][index]["template"]["spec"]["containers"][0]
    return result


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """Env entries by name (asserting there are no duplicates)."""
    entries = container.get("env") or []
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"duplicate env names: {names}"
    return {e["name"]: e for e in entries}


def env_names(container: dict[str, Any]) -> list[str]:
    return [e["name"] for e in container.get("env") or []]


def deep(value: Any) -> Any:
    return copy.deepcopy(value)
