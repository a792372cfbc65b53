"""Every validation rule fires with its exact field path and cause, and a valid neighbour passes."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ray_operator.api.validation import (
    CauseType,
    FieldError,
    ValidationResult,
    parse_ray_version,
    validate,
)

DATA = Path(__file__).parent / "data" / "raycluster"
ALPHA_SAMPLES = {
    "embedded-gcs-ft": "spec.gcsFaultToleranceOptions.backend",
    "mtls": "spec.tlsOptions",
    "network-policy-deny-all": "spec.networkPolicy",
    "historyserver": "spec.historyServerOptions",
}

Obj = dict[str, Any]


def container(name: str = "ray", image: str = "rayproject/ray:2.52.0", **extra: Any) -> Obj:
    return {"name": name, "image": image, **extra}


def cluster() -> Obj:
    """A valid cluster: one head, one worker group."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {
            "rayVersion": "2.52.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [container("ray-head")]}},
            },
            "workerGroupSpecs": [
                {
                    "groupName": "cpu",
                    "replicas": 1,
                    "minReplicas": 0,
                    "maxReplicas": 4,
                    "rayStartParams": {},
                    "template": {"spec": {"containers": [container("ray-worker")]}},
                }
            ],
        },
    }


def head(obj: Obj) -> Obj:
    result: Obj = obj["spec"]["headGroupSpec"]
    return result


def group(obj: Obj, index: int = 0) -> Obj:
    result: Obj = obj["spec"]["workerGroupSpecs"][index]
    return result


def head_container(obj: Obj) -> Obj:
    result: Obj = head(obj)["template"]["spec"]["containers"][0]
    return result


def autoscaling(obj: Obj, version: str | None = None) -> Obj:
    obj["spec"]["enableInTreeAutoscaling"] = True
    if version:
        obj["spec"]["autoscalerOptions"] = {"version": version}
    return obj


def with_ft(obj: Obj) -> Obj:
    obj["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    return obj


def apply(mutation: Callable[[Obj], Any]) -> Obj:
    obj = cluster()
    mutation(obj)
    return obj


def errors_at(result: ValidationResult, path: str) -> list[FieldError]:
    return [error for error in result.errors if error.path == path]


def test_base_cluster_is_valid_without_warnings() -> None:
    result = validate(cluster())
    assert result.ok, [e.text for e in result.errors]
    assert result.warnings == []


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda p: p.stem)
def test_kuberay_samples(path: Path) -> None:
    result = validate(yaml.safe_load(path.read_text()))
    if path.stem in ALPHA_SAMPLES:
        assert [(e.path, e.type) for e in result.errors] == [(ALPHA_SAMPLES[path.stem], CauseType.FORBIDDEN)]
    else:
        assert result.ok, [e.text for e in result.errors]


# (id, mutation, expected path, expected cause)
RULES: list[tuple[str, Callable[[Obj], Any], str, CauseType]] = [
    # metadata (W1, W2)
    ("W1 C1 name too long", lambda o: o["metadata"].update(name="a" * 54), "metadata.name", CauseType.TOO_LONG),
    ("W2 C1 name not DNS-1035", lambda o: o["metadata"].update(name="1demo"), "metadata.name", CauseType.INVALID),
    ("W2 C1 name uppercase", lambda o: o["metadata"].update(name="Demo"), "metadata.name", CauseType.INVALID),
    ("name missing", lambda o: o["metadata"].pop("name"), "metadata.name", CauseType.REQUIRED),
    ("name not a string", lambda o: o["metadata"].update(name=5), "metadata.name", CauseType.TYPE_INVALID),
    # group names (W3 and DNS-1123)
    (
        "W3 duplicate group",
        lambda o: o["spec"]["workerGroupSpecs"].append(copy.deepcopy(group(o))),
        "spec.workerGroupSpecs[1].groupName",
        CauseType.DUPLICATE,
    ),
    (
        "empty group name",
        lambda o: group(o).update(groupName=""),
        "spec.workerGroupSpecs[0].groupName",
        CauseType.REQUIRED,
    ),
    (
        "missing group name",
        lambda o: group(o).pop("groupName"),
        "spec.workerGroupSpecs[0].groupName",
        CauseType.REQUIRED,
    ),
    (
        "group name not DNS-1123",
        lambda o: group(o).update(groupName="Small_Group"),
        "spec.workerGroupSpecs[0].groupName",
        CauseType.INVALID,
    ),
    (
        "group name too long",
        lambda o: group(o).update(groupName="g" * 64),
        "spec.workerGroupSpecs[0].groupName",
        CauseType.TOO_LONG,
    ),
    # containers (C5, C6)
    (
        "C5 head without containers",
        lambda o: head(o)["template"]["spec"].update(containers=[]),
        "spec.headGroupSpec.template.spec.containers",
        CauseType.REQUIRED,
    ),
    (
        "C5 head template without spec",
        lambda o: head(o).update(template={}),
        "spec.headGroupSpec.template.spec.containers",
        CauseType.REQUIRED,
    ),
    (
        "C6 worker without containers",
        lambda o: group(o)["template"]["spec"].pop("containers"),
        "spec.workerGroupSpecs[0].template.spec.containers",
        CauseType.REQUIRED,
    ),
    (
        "ray container without image",
        lambda o: head_container(o).pop("image"),
        "spec.headGroupSpec.template.spec.containers[0].image",
        CauseType.REQUIRED,
    ),
    (
        "container without name",
        lambda o: group(o)["template"]["spec"]["containers"].append({"image": "busybox"}),
        "spec.workerGroupSpecs[0].template.spec.containers[1].name",
        CauseType.REQUIRED,
    ),
    # replicas (C7-C9)
    (
        "C7 min missing",
        lambda o: group(o).pop("minReplicas"),
        "spec.workerGroupSpecs[0].minReplicas",
        CauseType.REQUIRED,
    ),
    (
        "C7 max missing",
        lambda o: group(o).pop("maxReplicas"),
        "spec.workerGroupSpecs[0].maxReplicas",
        CauseType.REQUIRED,
    ),
    (
        "C8 negative min",
        lambda o: group(o).update(minReplicas=-1),
        "spec.workerGroupSpecs[0].minReplicas",
        CauseType.INVALID,
    ),
    (
        "C8 negative max",
        lambda o: group(o).update(maxReplicas=-1),
        "spec.workerGroupSpecs[0].maxReplicas",
        CauseType.INVALID,
    ),
    (
        "C9 min above max",
        lambda o: group(o).update(minReplicas=5),
        "spec.workerGroupSpecs[0].minReplicas",
        CauseType.INVALID,
    ),
    # group resources and labels (C10, C11)
    (
        "C10 resources with num-cpus",
        lambda o: head(o).update(resources={"CPU": "0"}, rayStartParams={"num-cpus": "0"}),
        "spec.headGroupSpec.rayStartParams[num-cpus]",
        CauseType.FORBIDDEN,
    ),
    (
        "C10 worker resources with resources param",
        lambda o: group(o).update(resources={"TPU": "4"}, rayStartParams={"resources": '{"TPU": 4}'}),
        "spec.workerGroupSpecs[0].rayStartParams[resources]",
        CauseType.FORBIDDEN,
    ),
    (
        "group resource not a quantity",
        lambda o: group(o).update(resources={"GPU": "one"}),
        "spec.workerGroupSpecs[0].resources[GPU]",
        CauseType.INVALID,
    ),
    (
        "C11 labels in rayStartParams",
        lambda o: group(o).update(rayStartParams={"labels": "a=b"}),
        "spec.workerGroupSpecs[0].rayStartParams[labels]",
        CauseType.FORBIDDEN,
    ),
    (
        "C11 bad label key",
        lambda o: head(o).update(labels={"-bad": "x"}),
        "spec.headGroupSpec.labels",
        CauseType.INVALID,
    ),
    (
        "C11 bad label value",
        lambda o: group(o).update(labels={"ray.io/zone": "not ok!"}),
        "spec.workerGroupSpecs[0].labels[ray.io/zone]",
        CauseType.INVALID,
    ),
    # autoscaler v2 (C12, C13)
    (
        "C12 idle timeout without v2",
        lambda o: group(o).update(idleTimeoutSeconds=30),
        "spec.workerGroupSpecs[0].idleTimeoutSeconds",
        CauseType.FORBIDDEN,
    ),
    (
        "C12 negative idle timeout",
        lambda o: (autoscaling(o, "v2"), group(o).update(idleTimeoutSeconds=-1)),
        "spec.workerGroupSpecs[0].idleTimeoutSeconds",
        CauseType.INVALID,
    ),
    (
        "C13 priority without v2",
        lambda o: (o["spec"].update(rayVersion="2.56.0"), group(o).update(priority=1)),
        "spec.workerGroupSpecs[0].priority",
        CauseType.FORBIDDEN,
    ),
    (
        "C13 priority with old Ray",
        lambda o: (autoscaling(o, "v2"), group(o).update(priority=1)),
        "spec.workerGroupSpecs[0].priority",
        CauseType.FORBIDDEN,
    ),
    # GCS fault tolerance (C14-C18)
    (
        "C14 annotation and options",
        lambda o: (with_ft(o), o["metadata"].update(annotations={"ray.io/ft-enabled": "true"})),
        "metadata.annotations[ray.io/ft-enabled]",
        CauseType.FORBIDDEN,
    ),
    (
        "C15 RAY_REDIS_ADDRESS without FT",
        lambda o: head_container(o).update(env=[{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}]),
        "spec.headGroupSpec.template.spec.containers[0].env[0]",
        CauseType.FORBIDDEN,
    ),
    (
        "C16 redis-password param",
        lambda o: (with_ft(o), head(o).update(rayStartParams={"redis-password": "x"})),
        "spec.headGroupSpec.rayStartParams[redis-password]",
        CauseType.FORBIDDEN,
    ),
    (
        "C16 REDIS_PASSWORD env",
        lambda o: (with_ft(o), head_container(o).update(env=[{"name": "A", "value": "1"}, {"name": "REDIS_PASSWORD"}])),
        "spec.headGroupSpec.template.spec.containers[0].env[1]",
        CauseType.FORBIDDEN,
    ),
    (
        "C16 RAY_REDIS_ADDRESS env",
        lambda o: (with_ft(o), head_container(o).update(env=[{"name": "RAY_REDIS_ADDRESS", "value": "r:1"}])),
        "spec.headGroupSpec.template.spec.containers[0].env[0]",
        CauseType.FORBIDDEN,
    ),
    (
        "C16 storage namespace annotation",
        lambda o: (with_ft(o), o["metadata"].update(annotations={"ray.io/external-storage-namespace": "ns"})),
        "metadata.annotations[ray.io/external-storage-namespace]",
        CauseType.FORBIDDEN,
    ),
    (
        "C17 rocksdb backend",
        lambda o: o["spec"].update(gcsFaultToleranceOptions={"backend": "rocksdb"}),
        "spec.gcsFaultToleranceOptions.backend",
        CauseType.FORBIDDEN,
    ),
    (
        "C17 redis with storage",
        lambda o: (with_ft(o), o["spec"]["gcsFaultToleranceOptions"].update(storage={"size": "1Gi"})),
        "spec.gcsFaultToleranceOptions.storage",
        CauseType.FORBIDDEN,
    ),
    (
        "redis without address",
        lambda o: o["spec"].update(gcsFaultToleranceOptions={"backend": "redis"}),
        "spec.gcsFaultToleranceOptions.redisAddress",
        CauseType.REQUIRED,
    ),
    (
        "C18 redis-username param",
        lambda o: head(o).update(rayStartParams={"redis-username": "u"}),
        "spec.headGroupSpec.rayStartParams[redis-username]",
        CauseType.FORBIDDEN,
    ),
    (
        "C18 REDIS_USERNAME env",
        lambda o: head_container(o).update(env=[{"name": "REDIS_USERNAME", "value": "u"}]),
        "spec.headGroupSpec.template.spec.containers[0].env[0]",
        CauseType.FORBIDDEN,
    ),
    # autoscaling (C20-C23)
    (
        "C20 v2 env without autoscaling",
        lambda o: head_container(o).update(env=[{"name": "RAY_enable_autoscaler_v2", "value": "true"}]),
        "spec.headGroupSpec.template.spec.containers[0].env[0]",
        CauseType.INVALID,
    ),
    (
        "C21 suspended group with autoscaling",
        lambda o: (autoscaling(o), group(o).update(suspend=True)),
        "spec.workerGroupSpecs[0].suspend",
        CauseType.FORBIDDEN,
    ),
    (
        "C21 version and env together",
        lambda o: (
            autoscaling(o, "v1"),
            head_container(o).update(env=[{"name": "RAY_enable_autoscaler_v2", "value": "1"}]),
        ),
        "spec.autoscalerOptions.version",
        CauseType.FORBIDDEN,
    ),
    (
        "C21 v2 worker restartPolicy",
        lambda o: (autoscaling(o, "v2"), group(o)["template"]["spec"].update(restartPolicy="OnFailure")),
        "spec.workerGroupSpecs[0].template.spec.restartPolicy",
        CauseType.INVALID,
    ),
    (
        "C21 v2 head restartPolicy",
        lambda o: (autoscaling(o, "v2"), head(o)["template"]["spec"].update(restartPolicy="Always")),
        "spec.headGroupSpec.template.spec.restartPolicy",
        CauseType.INVALID,
    ),
    (
        "C22 negative autoscaler idle timeout",
        lambda o: (autoscaling(o), o["spec"].update(autoscalerOptions={"idleTimeoutSeconds": -5})),
        "spec.autoscalerOptions.idleTimeoutSeconds",
        CauseType.INVALID,
    ),
    (
        "C23 reserved autoscaler env",
        lambda o: (
            autoscaling(o),
            o["spec"].update(autoscalerOptions={"env": [{"name": "KUBERAY_GEN_AUTOSCALER_START_CMD", "value": "x"}]}),
        ),
        "spec.autoscalerOptions.env[0].name",
        CauseType.FORBIDDEN,
    ),
    # upgrade strategy (C3, C4)
    (
        "C3 unknown upgrade type",
        lambda o: o["spec"].update(upgradeStrategy={"type": "Rolling"}),
        "spec.upgradeStrategy.type",
        CauseType.NOT_SUPPORTED,
    ),
    (
        "C4 upgrade strategy on RayJob cluster",
        lambda o: (
            o["spec"].update(upgradeStrategy={"type": "Recreate"}),
            o["metadata"].update(labels={"ray.io/originated-from-crd": "RayJob"}),
        ),
        "spec.upgradeStrategy",
        CauseType.FORBIDDEN,
    ),
    # authentication (C25)
    (
        "C25 token without rayVersion",
        lambda o: (o["spec"].pop("rayVersion"), o["spec"].update(authOptions={"mode": "token"})),
        "spec.rayVersion",
        CauseType.REQUIRED,
    ),
    (
        "C25 token with unparsable rayVersion",
        lambda o: o["spec"].update(rayVersion="nightly", authOptions={"mode": "token"}),
        "spec.rayVersion",
        CauseType.INVALID,
    ),
    (
        "C25 token with old Ray",
        lambda o: o["spec"].update(rayVersion="2.51.1", authOptions={"mode": "token"}),
        "spec.rayVersion",
        CauseType.INVALID,
    ),
    (
        "C25 k8s auth without token mode",
        lambda o: o["spec"].update(rayVersion="2.55.0", authOptions={"enableK8sTokenAuth": True}),
        "spec.authOptions.enableK8sTokenAuth",
        CauseType.FORBIDDEN,
    ),
    (
        "C25 k8s auth with old Ray",
        lambda o: o["spec"].update(authOptions={"mode": "token", "enableK8sTokenAuth": True}),
        "spec.authOptions.enableK8sTokenAuth",
        CauseType.FORBIDDEN,
    ),
    (
        "C25 k8s auth with secretName",
        lambda o: o["spec"].update(
            rayVersion="2.55.0", authOptions={"mode": "token", "enableK8sTokenAuth": True, "secretName": "s"}
        ),
        "spec.authOptions.secretName",
        CauseType.FORBIDDEN,
    ),
    # status (C2)
    (
        "C2 suspending and suspended",
        lambda o: o.update(
            status={
                "conditions": [
                    {
                        "type": t,
                        "status": "True",
                        "reason": t,
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                    for t in ("RayClusterSuspending", "RayClusterSuspended")
                ]
            }
        ),
        "status.conditions",
        CauseType.INVALID,
    ),
    # others
    (
        "head Service name not DNS-1035",
        lambda o: head(o).update(headService={"metadata": {"name": "My.Service"}}),
        "spec.headGroupSpec.headService.metadata.name",
        CauseType.INVALID,
    ),
    (
        "alpha networkPolicy",
        lambda o: o["spec"].update(networkPolicy={"mode": "DenyAll"}),
        "spec.networkPolicy",
        CauseType.FORBIDDEN,
    ),
    (
        "rayStartParams key with dashes",
        lambda o: group(o).update(rayStartParams={"--num-cpus": "1"}),
        "spec.workerGroupSpecs[0].rayStartParams[--num-cpus]",
        CauseType.INVALID,
    ),
    (
        "head port not a number",
        lambda o: head(o).update(rayStartParams={"port": "gcs"}),
        "spec.headGroupSpec.rayStartParams[port]",
        CauseType.INVALID,
    ),
    (
        "dashboard port out of range",
        lambda o: head(o).update(rayStartParams={"dashboard-port": "70000"}),
        "spec.headGroupSpec.rayStartParams[dashboard-port]",
        CauseType.INVALID,
    ),
    ("wrong apiVersion", lambda o: o.update(apiVersion="ray.io/v1alpha1"), "apiVersion", CauseType.NOT_SUPPORTED),
    ("wrong kind", lambda o: o.update(kind="RayJob"), "kind", CauseType.NOT_SUPPORTED),
    # parse errors
    ("spec missing", lambda o: o.pop("spec"), "spec", CauseType.REQUIRED),
    ("headGroupSpec missing", lambda o: o["spec"].pop("headGroupSpec"), "spec.headGroupSpec", CauseType.REQUIRED),
    (
        "worker template missing",
        lambda o: group(o).pop("template"),
        "spec.workerGroupSpecs[0].template",
        CauseType.REQUIRED,
    ),
    (
        "replicas a string",
        lambda o: group(o).update(replicas="2"),
        "spec.workerGroupSpecs[0].replicas",
        CauseType.TYPE_INVALID,
    ),
    (
        "rayStartParams value an integer",
        lambda o: head(o).update(rayStartParams={"num-cpus": 1}),
        "spec.headGroupSpec.rayStartParams[num-cpus]",
        CauseType.TYPE_INVALID,
    ),
    (
        "serviceType unknown",
        lambda o: head(o).update(serviceType="Headless"),
        "spec.headGroupSpec.serviceType",
        CauseType.NOT_SUPPORTED,
    ),
    ("managedBy unknown", lambda o: o["spec"].update(managedBy="me"), "spec.managedBy", CauseType.NOT_SUPPORTED),
    (
        "workerGroupSpecs an object",
        lambda o: o["spec"].update(workerGroupSpecs={}),
        "spec.workerGroupSpecs",
        CauseType.TYPE_INVALID,
    ),
    (
        "maxReplicas beyond int32",
        lambda o: group(o).update(maxReplicas=2**31),
        "spec.workerGroupSpecs[0].maxReplicas",
        CauseType.INVALID,
    ),
    (
        "status state unknown",
        lambda o: o.update(status={"state": "exploded"}),
        "status.state",
        CauseType.NOT_SUPPORTED,
    ),
]


@pytest.mark.parametrize(("mutation", "path", "cause"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_rule_fires_with_path_and_cause(mutation: Callable[[Obj], Any], path: str, cause: CauseType) -> None:
    result = validate(apply(mutation))
    assert not result.ok
    found = errors_at(result, path)
    assert [error.type for error in found] == [cause], [e.text for e in result.errors]
    assert all(error.detail for error in found if error.type is not CauseType.DUPLICATE)


# Valid neighbours: close to a rule's trigger, but fine.
NEIGHBOURS: list[tuple[str, Callable[[Obj], Any]]] = [
    ("W1 C1 name of exactly 53 characters", lambda o: o["metadata"].update(name="a" * 53)),
    ("generateName instead of name", lambda o: (o["metadata"].pop("name"), o["metadata"].update(generateName="demo-"))),
    (
        "W3 two distinct groups",
        lambda o: o["spec"]["workerGroupSpecs"].append({**copy.deepcopy(group(o)), "groupName": "gpu"}),
    ),
    ("group name of 63 characters", lambda o: group(o).update(groupName="g" * 63)),
    ("head-only cluster", lambda o: o["spec"].pop("workerGroupSpecs")),
    (
        "C7 autoscaling without min and max",
        lambda o: (autoscaling(o), group(o).pop("minReplicas"), group(o).pop("maxReplicas")),
    ),
    ("C9 min equal to max", lambda o: group(o).update(minReplicas=4)),
    ("C8 zero replicas everywhere", lambda o: group(o).update(replicas=0, minReplicas=0, maxReplicas=0)),
    ("C10 resources alone", lambda o: head(o).update(resources={"CPU": "0", "custom": "2"})),
    ("C10 rayStartParams resources alone", lambda o: head(o).update(rayStartParams={"num-cpus": "0"})),
    ("C11 valid group labels", lambda o: group(o).update(labels={"ray.io/market-type": "spot", "cpu-family": ""})),
    ("C12 idle timeout with v2 option", lambda o: (autoscaling(o, "v2"), group(o).update(idleTimeoutSeconds=0))),
    (
        "C12 idle timeout with v2 env",
        lambda o: (
            autoscaling(o),
            head_container(o).update(env=[{"name": "RAY_enable_autoscaler_v2", "value": "true"}]),
            group(o).update(idleTimeoutSeconds=30),
        ),
    ),
    (
        "C13 priority with v2 and Ray 2.56",
        lambda o: (autoscaling(o, "v2"), o["spec"].update(rayVersion="2.56.0"), group(o).update(priority=3)),
    ),
    ("C13 priority zero anywhere", lambda o: group(o).update(priority=0)),
    ("C17 FT options with address", with_ft),
    (
        "C16 C18 FT options with credentials",
        lambda o: (
            with_ft(o),
            o["spec"]["gcsFaultToleranceOptions"].update(redisPassword={"value": "p"}, redisUsername={"value": "u"}),
        ),
    ),
    (
        "C15 legacy FT annotation with env",
        lambda o: (
            o["metadata"].update(annotations={"ray.io/ft-enabled": "true"}),
            head_container(o).update(env=[{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}]),
        ),
    ),
    (
        "C20 v2 env false without autoscaling",
        lambda o: head_container(o).update(env=[{"name": "RAY_enable_autoscaler_v2", "value": "false"}]),
    ),
    ("C19 C21 suspended group without autoscaling", lambda o: group(o).update(suspend=True)),
    (
        "C21 v2 with restartPolicy Never",
        lambda o: (autoscaling(o, "v2"), group(o)["template"]["spec"].update(restartPolicy="Never")),
    ),
    ("C4 upgrade strategy on a plain cluster", lambda o: o["spec"].update(upgradeStrategy={"type": "Recreate"})),
    ("C3 upgrade strategy None type", lambda o: o["spec"].update(upgradeStrategy={"type": "None"})),
    ("C25 token auth on Ray 2.52", lambda o: o["spec"].update(authOptions={"mode": "token"})),
    (
        "C25 k8s token auth on Ray 2.55",
        lambda o: o["spec"].update(rayVersion="2.55.0", authOptions={"mode": "token", "enableK8sTokenAuth": True}),
    ),
    ("custom head port", lambda o: head(o).update(rayStartParams={"port": "6380", "dashboard-port": "8266"})),
    (
        "C14 empty FT annotation next to options",
        lambda o: (with_ft(o), o["metadata"].update(annotations={"ray.io/ft-enabled": ""})),
    ),
    (
        "C16 empty redis-password param with options",
        lambda o: (with_ft(o), head(o).update(rayStartParams={"redis-password": ""})),
    ),
    (
        "C10 empty num-cpus next to resources",
        lambda o: head(o).update(resources={"CPU": "1"}, rayStartParams={"num-cpus": ""}),
    ),
    (
        "C22 C23 autoscaler options with idle 0 and other env",
        lambda o: (
            autoscaling(o),
            o["spec"].update(autoscalerOptions={"idleTimeoutSeconds": 0, "env": [{"name": "RAY_LOG", "value": "1"}]}),
        ),
    ),
    (
        "C2 only RayClusterSuspending true",
        lambda o: o.update(
            status={
                "conditions": [
                    {
                        "type": "RayClusterSuspending",
                        "status": "True",
                        "reason": "RayClusterSuspending",
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    },
                    {
                        "type": "RayClusterSuspended",
                        "status": "False",
                        "reason": "RayClusterSuspended",
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    },
                ]
            }
        ),
    ),
    ("C25 auth disabled", lambda o: o["spec"].update(authOptions={"mode": "disabled"})),
    ("managedBy multikueue", lambda o: o["spec"].update(managedBy="kueue.x-k8s.io/multikueue")),
    ("suspended cluster", lambda o: o["spec"].update(suspend=True)),
    ("custom head Service name", lambda o: head(o).update(headService={"metadata": {"name": "my-head"}, "spec": {}})),
    (
        "C5 sidecar after the Ray container",
        lambda o: head(o)["template"]["spec"]["containers"].append(container("fluent-bit", "fluent/fluent-bit:3")),
    ),
    ("W2 C1 name with digits and hyphens", lambda o: o["metadata"].update(name="ray-cluster-2")),
    (
        "C6 worker with a sidecar",
        lambda o: group(o)["template"]["spec"]["containers"].append(container("fluent-bit", "fluent/fluent-bit:3")),
    ),
    (
        "C4 RayJob-created cluster without upgradeStrategy",
        lambda o: o["metadata"].update(labels={"ray.io/originated-from-crd": "RayJob"}),
    ),
    (
        "C16 storage namespace in the options",
        lambda o: (with_ft(o), o["spec"]["gcsFaultToleranceOptions"].update(externalStorageNamespace="old-uid")),
    ),
    (
        "C15 C16 legacy FT with password env and param",
        lambda o: (
            o["metadata"].update(annotations={"ray.io/ft-enabled": "true"}),
            head(o).update(rayStartParams={"redis-password": "$REDIS_PASSWORD"}),
            head_container(o).update(
                env=[{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}, {"name": "REDIS_PASSWORD", "value": "p"}]
            ),
        ),
    ),
    (
        "C17 explicit redis backend",
        lambda o: o["spec"].update(gcsFaultToleranceOptions={"backend": "redis", "redisAddress": "redis://redis:6379"}),
    ),
    ("C21 autoscaler version without the env", lambda o: autoscaling(o, "v1")),
]

# Rules of reference kuberay-raycluster.md §3.2 and §3.4 that every firing test and valid neighbour must cover
# (tagged by number in the ids above). C24, C26 and C27 are alpha-gated features refused as a whole.
REFERENCE_RULES = {"W1", "W2", "W3", *(f"C{number}" for number in range(1, 24)), "C25"}
CANNOT_FIRE = {
    "C19": "a suspended worker group needs KubeRay's RayJobDeletionPolicy gate, which is Beta and on by default",
}


def _rule_tags(ids: list[str]) -> set[str]:
    return {tag for text in ids for tag in re.findall(r"\b([WC]\d+)\b", text)}


def test_every_reference_rule_has_a_firing_test() -> None:
    assert REFERENCE_RULES - CANNOT_FIRE.keys() - _rule_tags([r[0] for r in RULES]) == set()


def test_every_reference_rule_has_a_valid_neighbour() -> None:
    assert REFERENCE_RULES - _rule_tags([n[0] for n in NEIGHBOURS]) == set()


@pytest.mark.parametrize("mutation", [n[1] for n in NEIGHBOURS], ids=[n[0] for n in NEIGHBOURS])
def test_valid_neighbour_passes(mutation: Callable[[Obj], Any]) -> None:
    result = validate(apply(mutation))
    assert result.ok, [e.text for e in result.errors]


def test_every_error_is_reported_not_just_the_first() -> None:
    obj = cluster()
    obj["metadata"]["name"] = "Bad_Name"
    group(obj).update(minReplicas=5, maxReplicas=2, replicas="x")
    head(obj)["template"]["spec"]["containers"] = []
    obj["spec"]["managedBy"] = "me"
    result = validate(obj)
    assert {e.path for e in result.errors} == {
        "metadata.name",
        "spec.workerGroupSpecs[0].minReplicas",
        "spec.workerGroupSpecs[0].replicas",
        "spec.headGroupSpec.template.spec.containers",
        "spec.managedBy",
    }


def test_kuberay_messages_name_the_group() -> None:
    result = validate(apply(lambda o: group(o).update(minReplicas=5)))
    assert result.errors[0].text == (
        "spec.workerGroupSpecs[0].minReplicas: Invalid value: 5: worker group cpu has minReplicas 5 greater "
        "than maxReplicas 4: lower minReplicas or raise maxReplicas"
    )
    result = validate(apply(lambda o: o["metadata"].update(name="a" * 60)))
    assert result.errors[0].message.startswith("Too long: RayCluster name should be no more than 53 characters")
    result = validate(apply(lambda o: o["metadata"].update(name="1demo")))
    assert result.errors[0].text.startswith(
        'metadata.name: Invalid value: "1demo": RayCluster name should be a valid DNS1035 label: '
    )
    result = validate(apply(lambda o: o["spec"]["workerGroupSpecs"].append(copy.deepcopy(group(o)))))
    assert result.errors[0].text.startswith(
        'spec.workerGroupSpecs[1].groupName: Duplicate value: "cpu": worker group names must be unique'
    )


def test_quantity_of_the_wrong_type_is_one_error() -> None:
    result = validate(apply(lambda o: o.update(status={"desiredCPU": [1]})))
    assert [e.text for e in result.errors] == [
        'status.desiredCPU: Invalid value: "array": desiredCPU must be of type integer or string'
    ]


def test_not_supported_lists_the_allowed_values() -> None:
    result = validate(apply(lambda o: o["spec"].update(upgradeStrategy={"type": "Rolling"})))
    assert result.errors[0].text == (
        'spec.upgradeStrategy.type: Unsupported value: "Rolling": supported values: "Recreate", "RollingUpdate", "None"'
    )


# --- update rules ------------------------------------------------------------------------------------------


def test_update_managed_by_is_immutable() -> None:
    old = apply(lambda o: o["spec"].update(managedBy="ray.io/kuberay-operator"))
    new = apply(lambda o: o["spec"].update(managedBy="kueue.x-k8s.io/multikueue"))
    result = validate(new, old)
    [error] = result.errors
    assert (error.path, error.type, error.value) == ("spec.managedBy", CauseType.INVALID, "kueue.x-k8s.io/multikueue")
    assert "field is immutable" in error.message
    assert validate(new).ok  # the same object is fine on create


def test_update_managed_by_handover_by_adding_it_is_refused() -> None:
    result = validate(apply(lambda o: o["spec"].update(managedBy="kueue.x-k8s.io/multikueue")), cluster())
    assert [(e.path, e.type) for e in result.errors] == [("spec.managedBy", CauseType.INVALID)]


def test_update_writing_the_default_managed_by_is_not_a_change() -> None:
    new = apply(lambda o: o["spec"].update(managedBy="ray.io/kuberay-operator"))
    assert validate(new, cluster()).ok
    assert validate(cluster(), new).ok


def test_update_backend_is_immutable() -> None:
    old = apply(lambda o: o["spec"].update(gcsFaultToleranceOptions={"backend": "redis", "redisAddress": "r:6379"}))
    new = apply(lambda o: o["spec"].update(gcsFaultToleranceOptions={"backend": "rocksdb"}))
    result = validate(new, old)
    assert [(e.path, e.type) for e in result.errors] == [
        ("spec.gcsFaultToleranceOptions.backend", CauseType.FORBIDDEN),  # rocksdb itself
        ("spec.gcsFaultToleranceOptions.backend", CauseType.INVALID),  # the change
    ]
    assert "field is immutable" in result.errors[1].message


def test_update_unset_backend_means_redis() -> None:
    old = apply(with_ft)
    new = apply(lambda o: o["spec"].update(gcsFaultToleranceOptions={"backend": "redis", "redisAddress": "r:6379"}))
    assert validate(new, old).ok
    assert validate(old, new).ok


def test_update_other_fields_may_change() -> None:
    old = cluster()
    new = apply(lambda o: (group(o).update(replicas=3, maxReplicas=10), o["spec"].update(suspend=True)))
    result = validate(new, old)
    assert result.ok and result.warnings == []


def test_update_template_change_warns_unless_recreate() -> None:
    old = cluster()
    new = apply(lambda o: head_container(o).update(image="rayproject/ray:2.53.0"))
    result = validate(new, old)
    assert result.ok
    assert any(w.startswith("spec.headGroupSpec.template:") and "Recreate" in w for w in result.warnings)
    new["spec"]["upgradeStrategy"] = {"type": "Recreate"}
    assert not any(w.startswith("spec.headGroupSpec.template:") for w in validate(new, old).warnings)


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        (lambda o: head(o).update(serviceType="NodePort"), "spec.headGroupSpec.serviceType"),
        (lambda o: head(o).update(headService={"metadata": {"name": "other"}}), "spec.headGroupSpec.headService"),
        (lambda o: o["spec"].update(headServiceAnnotations={"a": "b"}), "spec.headServiceAnnotations"),
    ],
    ids=["serviceType", "headService", "headServiceAnnotations"],
)
def test_update_of_head_service_settings_warns_that_the_service_is_not_changed(
    mutation: Callable[[Obj], Any], path: str
) -> None:
    old = cluster()
    result = validate(apply(mutation), old)
    assert result.ok
    assert [w for w in result.warnings if "head Service" in w] == [
        f"{path}: changed, but the head Service is only configured when it is created: delete the Service to apply"
    ]


# --- warnings ----------------------------------------------------------------------------------------------

WARNINGS: list[tuple[str, Callable[[Obj], Any], str]] = [
    ("replicas above max", lambda o: group(o).update(replicas=9), "spec.workerGroupSpecs[0].replicas"),
    ("replicas below min", lambda o: group(o).update(replicas=1, minReplicas=2), "spec.workerGroupSpecs[0].replicas"),
    ("numOfHosts zero", lambda o: group(o).update(numOfHosts=0), "spec.workerGroupSpecs[0].numOfHosts"),
    (
        "deprecated FT annotation",
        lambda o: o["metadata"].update(annotations={"ray.io/ft-enabled": "true"}),
        "metadata.annotations[ray.io/ft-enabled]",
    ),
    (
        "fractional CPU limit",
        lambda o: head_container(o).update(resources={"limits": {"cpu": "500m"}}),
        "spec.headGroupSpec.template.spec.containers[0].resources",
    ),
    (
        "memory request without limit",
        lambda o: head_container(o).update(resources={"requests": {"memory": "2Gi"}}),
        "spec.headGroupSpec.template.spec.containers[0].resources",
    ),
    (
        "autoscaler v1 with restartPolicy Always",
        lambda o: (autoscaling(o, "v1"), group(o)["template"]["spec"].update(restartPolicy="Always")),
        "spec.workerGroupSpecs[0].template.spec.restartPolicy",
    ),
    (
        "autoscaling-config param",
        lambda o: head(o).update(rayStartParams={"autoscaling-config": "x"}),
        "spec.headGroupSpec.rayStartParams[autoscaling-config]",
    ),
    (
        "ingressOptions without ingress",
        lambda o: head(o).update(ingressOptions={"host": "h"}),
        "spec.headGroupSpec.ingressOptions",
    ),
    (
        "autoscalerOptions without autoscaling",
        lambda o: o["spec"].update(autoscalerOptions={}),
        "spec.autoscalerOptions",
    ),
    ("authOptions without mode", lambda o: o["spec"].update(authOptions={"secretName": "s"}), "spec.authOptions.mode"),
    (
        "Ray container not first",
        lambda o: head(o)["template"]["spec"].update(containers=[container("log", "fluent/fluent-bit"), container()]),
        "spec.headGroupSpec.template.spec.containers[1]",
    ),
    (
        "foreign workersToDelete",
        lambda o: group(o).update(scaleStrategy={"workersToDelete": ["other-cpu-worker-abcde"]}),
        "spec.workerGroupSpecs[0].scaleStrategy.workersToDelete[0]",
    ),
    ("group named headgroup", lambda o: group(o).update(groupName="headgroup"), "spec.workerGroupSpecs[0].groupName"),
    (
        "fractional group CPU resource",
        lambda o: group(o).update(resources={"CPU": "0.5"}),
        "spec.workerGroupSpecs[0].resources[CPU]",
    ),
    ("unknown field", lambda o: group(o).update(replica=3), "spec.workerGroupSpecs[0].replica"),
    (
        "long generateName",
        lambda o: (o["metadata"].pop("name"), o["metadata"].update(generateName="g" * 50)),
        "metadata.generateName",
    ),
]


@pytest.mark.parametrize(("mutation", "path"), [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS])
def test_warning(mutation: Callable[[Obj], Any], path: str) -> None:
    result = validate(apply(mutation))
    assert result.ok, [e.text for e in result.errors]
    assert [w for w in result.warnings if w.startswith(f"{path}: ")], result.warnings
    # kube-apiserver may truncate admission warnings longer than 256 characters
    assert all(len(w) <= 256 for w in result.warnings), result.warnings


def test_unknown_fields_are_found_at_every_depth_in_field_order() -> None:
    obj = cluster()
    obj["spec"]["workerGroupSpecs"].append({**copy.deepcopy(group(obj)), "groupName": "gpu"})
    group(obj, 1)["scaleStrategy"] = {"workersToDelete": [], "workersToKeep": []}
    head(obj)["ingressOptions"] = {"hostname": "h"}
    obj["spec"]["enableInTreeAutoscaling"] = True
    obj["spec"]["autoscalerOptions"] = {"idleTimeout": 60}
    obj["status"] = {"head": {"podIp": "10.0.0.1"}}
    result = validate(obj)
    assert [w.split(": ")[0] for w in result.warnings if "unknown field" in w] == [
        "spec.headGroupSpec.ingressOptions.hostname",
        "spec.workerGroupSpecs[1].scaleStrategy.workersToKeep",
        "spec.autoscalerOptions.idleTimeout",
        "status.head.podIp",
    ]


def test_no_clamp_warning_for_the_default_zero_replicas() -> None:
    assert validate(apply(lambda o: group(o).update(replicas=0, minReplicas=1))).warnings == []


def test_fractional_cpu_warning_says_the_rounded_value() -> None:
    result = validate(
        apply(lambda o: group(o)["template"]["spec"]["containers"][0].update(resources={"limits": {"cpu": "1.5"}}))
    )
    assert any("--num-cpus=2" in w for w in result.warnings)
    assert validate(apply(lambda o: head_container(o).update(resources={"limits": {"cpu": "2"}}))).warnings == []
    assert (
        validate(
            apply(
                lambda o: (
                    head_container(o).update(resources={"limits": {"cpu": "500m"}}),
                    head(o).update(rayStartParams={"num-cpus": "1"}),
                )
            )
        ).warnings
        == []
    )


def test_matching_workers_to_delete_do_not_warn() -> None:
    result = validate(apply(lambda o: group(o).update(scaleStrategy={"workersToDelete": ["demo-cpu-worker-x1y2z"]})))
    assert result.warnings == []


# --- FieldError text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (FieldError(path="p", type=CauseType.REQUIRED, detail="set it"), "Required value: set it"),
        (FieldError(path="p", type=CauseType.INVALID, detail="too big", value=5), "Invalid value: 5: too big"),
        (FieldError(path="p", type=CauseType.INVALID, detail="bad", value="x"), 'Invalid value: "x": bad'),
        (FieldError(path="p", type=CauseType.INVALID, detail="bad", value=True), "Invalid value: true: bad"),
        (FieldError(path="p", type=CauseType.INVALID, detail="bad", value=None), 'Invalid value: "null": bad'),
        (
            FieldError(path="p", type=CauseType.INVALID, detail="bad", value={"b": 1, "a": [1]}),
            # field.Error prints an unstructured map with %#v
            'Invalid value: map[string]interface {}{"a":[]interface {}{1}, "b":1}: bad',
        ),
        (FieldError(path="p", type=CauseType.INVALID, detail="bad", value=2.0), "Invalid value: 2: bad"),
        (FieldError(path="p", type=CauseType.DUPLICATE, detail="", value="x"), 'Duplicate value: "x"'),
        (
            FieldError(path="p", type=CauseType.NOT_SUPPORTED, detail='supported values: "a", "b"', value="x"),
            'Unsupported value: "x": supported values: "a", "b"',
        ),
        (FieldError(path="p", type=CauseType.FORBIDDEN, detail="not here", value="x"), "Forbidden: not here"),
        (
            FieldError(path="p", type=CauseType.TOO_LONG, detail="may not be more than 53 bytes", value="x" * 60),
            "Too long: may not be more than 53 bytes",
        ),
        (
            FieldError(path="p", type=CauseType.TYPE_INVALID, detail="must be of type integer", value="3"),
            'Invalid value: "string": must be of type integer',
        ),
        (
            FieldError(path="p", type=CauseType.TYPE_INVALID, detail="must be of type string", value=3),
            'Invalid value: "integer": must be of type string',
        ),
    ],
)
def test_field_error_message_matches_go(error: FieldError, message: str) -> None:
    assert error.message == message
    assert error.text == f"p: {message}"


def test_cause_types_are_kubernetes_values() -> None:
    assert {t.value for t in CauseType} == {
        "FieldValueRequired",
        "FieldValueInvalid",
        "FieldValueDuplicate",
        "FieldValueNotSupported",
        "FieldValueForbidden",
        "FieldValueTooLong",
        "FieldValueTypeInvalid",
    }


# --- parsers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("2.52.0", (2, 52, 0)),
        ("2.52", (2, 52, 0)),
        ("v2.9.1", (2, 9, 1)),
        ("2.53.0rc1", (2, 53, 0)),
        ("nightly", None),
        ("2", None),
        (3, None),
    ],
)
def test_parse_ray_version(text: Any, version: tuple[int, int, int] | None) -> None:
    assert parse_ray_version(text) == version


# --- robustness ------------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


def _mutations() -> st.SearchStrategy[tuple[list[str | int], Any]]:
    paths = st.sampled_from(
        [
            ["spec"],
            ["metadata"],
            ["metadata", "name"],
            ["metadata", "annotations"],
            ["spec", "headGroupSpec"],
            ["spec", "headGroupSpec", "template"],
            ["spec", "headGroupSpec", "template", "spec", "containers"],
            ["spec", "headGroupSpec", "rayStartParams"],
            ["spec", "workerGroupSpecs"],
            ["spec", "workerGroupSpecs", 0],
            ["spec", "workerGroupSpecs", 0, "minReplicas"],
            ["spec", "workerGroupSpecs", 0, "template", "spec", "containers", 0, "env"],
            ["spec", "workerGroupSpecs", 0, "labels"],
            ["spec", "gcsFaultToleranceOptions"],
            ["spec", "autoscalerOptions"],
            ["spec", "authOptions"],
            ["status"],
            ["status", "conditions"],
        ]
    )
    return st.tuples(paths, JSON)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation=_mutations(), old_too=st.booleans())
def test_validate_never_raises_on_garbage(mutation: tuple[list[str | int], Any], old_too: bool) -> None:
    path, value = mutation
    obj: Any = cluster()
    target = obj
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[path[-1]] = value
    old = cluster() if old_too else None
    snapshot = copy.deepcopy((obj, old))
    result = validate(obj, old)
    assert (obj, old) == snapshot  # pure: the webhook reuses the request object afterwards
    for error in result.errors:
        assert isinstance(error.text, str)
        assert not error.path.startswith("."), error.path
    json.dumps(result.warnings)


def test_error_text_of_a_deeply_nested_value_never_raises() -> None:
    """The webhook renders error texts after validate() returns, outside its safety net."""
    nested: Any = "leaf"
    for level in range(3000):
        nested = [nested] if level % 2 else {"k": nested}
    result = validate(apply(lambda o: head(o).update(serviceType=nested)))
    (error,) = errors_at(result, "spec.headGroupSpec.serviceType")
    assert error.type is CauseType.NOT_SUPPORTED
    assert "nested too deeply to print" in error.text


@pytest.mark.parametrize("garbage", [None, [], "RayCluster", 42, {}])
def test_validate_never_raises_on_non_objects(garbage: Any) -> None:
    result = validate(garbage)
    assert not result.ok


# --- ratcheting --------------------------------------------------------------------------------------------


def test_update_keeps_working_for_an_object_that_was_already_invalid() -> None:
    """A cluster stored before a rule applied can still be scaled (the autoscaler patches replicas)."""
    old = apply(lambda o: group(o).update(groupName="Small_Group"))
    assert not validate(old).ok
    new = copy.deepcopy(old)
    group(new)["replicas"] = 3
    result = validate(new, old)
    assert result.ok
    assert any(w.startswith("spec.workerGroupSpecs[0].groupName: Invalid value") for w in result.warnings)


def test_update_refuses_a_new_error_on_an_already_invalid_object() -> None:
    old = apply(lambda o: group(o).update(groupName="Small_Group"))
    new = copy.deepcopy(old)
    group(new)["minReplicas"] = 9
    result = validate(new, old)
    assert [(e.path, e.type) for e in result.errors] == [("spec.workerGroupSpecs[0].minReplicas", CauseType.INVALID)]


def test_update_refuses_making_a_valid_object_invalid() -> None:
    new = apply(lambda o: group(o).update(groupName="Small_Group"))
    assert [e.path for e in validate(new, cluster()).errors] == ["spec.workerGroupSpecs[0].groupName"]
