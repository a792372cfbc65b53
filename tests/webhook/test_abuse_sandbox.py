"""The largest RayCluster the API server can store still gets through the operator's webhooks.

An UPDATE review carries the object and the old object, each up to etcd's 1.5 MiB: a label patch of
a 1.56 MB RayCluster used to fail with ``failed calling webhook ... 413`` (the webhook took 3 MiB,
and the emulator sent reviews with spaces, 11% larger than kube-apiserver's compact JSON). Here the
emulator and the operator's webhook server run as in ``ray-operator sandbox``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client

from ray_operator.devstack import operator_settings
from ray_operator.sandbox import limits
from tests.integration.conftest import StackFactory, start_operator

__all__ = ["start_operator"]  # the fixture, used by name below

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "ray_v1_raycluster.mini.yaml"


async def test_a_label_patch_of_a_raycluster_near_the_etcd_limit_is_admitted(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    await start_operator(settings=operator_settings(kubeconfig=kubeconfig_path, mode="webhook"))
    cluster: dict[str, Any] = copy.deepcopy(yaml.safe_load(SAMPLE.read_text()))
    cluster["metadata"] = {"name": "large", "namespace": "default"}
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    head.setdefault("env", []).append({"name": "LARGE", "value": ""})
    # As large as etcd stores, leaving room for the metadata the server adds (managedFields, labels).
    head["env"][-1]["value"] = "x" * (limits.MAX_OBJECT_BYTES - len(compact(cluster)) - 700)
    custom = client.CustomObjectsApi(api_client)
    await custom.create_namespaced_custom_object("ray.io", "v1", "default", "rayclusters", cluster)
    patched = await custom.patch_namespaced_custom_object(
        "ray.io",
        "v1",
        "default",
        "rayclusters",
        "large",
        {"metadata": {"labels": {"team": "ml"}}},
        _content_type="application/merge-patch+json",
    )
    assert patched["metadata"]["labels"]["team"] == "ml"
    # The UPDATE review (object + oldObject + the request's own fields, over 500 bytes) is over the
    # 3 MiB the webhook used to accept.
    assert 2 * len(compact(patched)) + 500 > 3 * 1024 * 1024


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
