"""Table rendering for kubectl get: CRD printer columns, kubectl's pod STATUS logic and built-in columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.tables import render_table
from ray_operator.sandbox.tables.columns import human_duration
from ray_operator.sandbox.tables.custom import find_values

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rt(group: str, kind: str, **extra: Any) -> ResourceType:
    return ResourceType(
        group=group,
        version="v1",
        resource=kind.lower() + "s",
        kind=kind,
        singular=kind.lower(),
        namespaced=True,
        list_kind=kind + "List",
        **extra,
    )


COLUMNS = (
    {"name": "desired workers", "type": "integer", "jsonPath": ".status.desiredWorkerReplicas"},
    {"name": "status", "type": "string", "jsonPath": ".status.state"},
    {"name": "replicas", "type": "string", "jsonPath": ".spec.workerGroupSpecs[*].replicas"},
    {"name": "ready", "type": "boolean", "jsonPath": ".status.ready"},
    {"name": "cpus", "type": "number", "jsonPath": ".status.cpus"},
    {
        "name": "head pod IP",
        "type": "string",
        "jsonPath": ".status.head.podIP",
        "priority": 1,
        "description": "Head IP.",
    },
    {"name": "age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)
RAYCLUSTERS = rt("ray.io", "RayCluster", is_custom=True, printer_columns=COLUMNS)


def raycluster(name: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": "ns1", "creationTimestamp": ts(minutes=5, seconds=12), "uid": "u"},
        "spec": {"workerGroupSpecs": [{"replicas": 3}, {"replicas": 4}]},
        "status": status,
    }


def test_custom_resource_columns_and_cells() -> None:
    table = render_table(
        RAYCLUSTERS,
        [raycluster("a", desiredWorkerReplicas=2, state="ready", ready=True, cpus=3)],
        include_object="Metadata",
        now=NOW,
    )
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "desired workers", "status", "replicas", "ready", "cpus", "head pod IP", "age"]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert (
        table["columnDefinitions"][2]["description"]
        == "Custom resource definition column (in JSONPath format): .status.state"
    )
    assert table["columnDefinitions"][6]["priority"] == 1 and table["columnDefinitions"][6]["description"] == "Head IP."
    (row,) = table["rows"]
    # [*] selects several values; like kube-apiserver only the first is shown. Missing values are null.
    assert row["cells"] == ["a", 2, "ready", "3", True, 3.0, None, "5m12s"]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": raycluster("a")["metadata"],
    }


def test_include_object_modes() -> None:
    obj = raycluster("a")
    assert render_table(RAYCLUSTERS, [obj], include_object="Object", now=NOW)["rows"][0]["object"] == obj
    assert "object" not in render_table(RAYCLUSTERS, [obj], include_object="None", now=NOW)["rows"][0]


def test_custom_resource_without_columns_gets_age_and_bad_dates_are_invalid() -> None:
    plain = rt("ray.io", "RayJob", is_custom=True)
    table = render_table(plain, [raycluster("j")], include_object="None", now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"), ("Age", "date")]
    assert table["rows"][0]["cells"] == ["j", "5m12s"]
    dated = rt(
        "ray.io", "X", is_custom=True, printer_columns=({"name": "when", "type": "date", "jsonPath": ".status.when"},)
    )
    assert render_table(dated, [raycluster("x", when="soon")], include_object="None", now=NOW)["rows"][0]["cells"] == [
        "x",
        "<invalid>",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (312, "5m12s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 20 * 60, "3h20m"),
        (9 * 3600, "9h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (10 * 86400, "10d"),
        (800 * 86400, "2y70d"),
        (3000 * 86400, "8y"),
    ],
)
def test_human_duration_matches_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_simple_jsonpath_forms() -> None:
    obj = {"a": {"b": [{"c": 1}, {"c": 2}], "dotted.key": "v"}}
    assert find_values(obj, ".a.b[1].c") == [2]
    assert find_values(obj, "{.a.b[*].c}") == [1, 2]
    assert find_values(obj, ".a['dotted.key']") == ["v"]
    assert find_values(obj, ".a.missing.x") == []
    assert find_values(obj, ".a.b[-1].c") == [2]


# -- pods ------------------------------------------------------------------------------------------

PODS = rt("", "Pod")


def pod(status: dict[str, Any], *, deleting: bool = False, containers: int = 1, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "default", "creationTimestamp": ts(hours=3)}
    if deleting:
        meta["deletionTimestamp"] = ts(seconds=1)
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)], **spec},
        "status": status,
    }


def running(name: str = "c0", ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ts(hours=1)}},
        **extra,
    }


def cells(p: dict[str, Any]) -> list[Any]:
    row: list[Any] = render_table(PODS, [p], include_object="None", now=NOW)["rows"][0]["cells"]
    return row


@pytest.mark.parametrize(
    ("p", "ready", "status"),
    [
        (pod({"phase": "Pending"}), "0/1", "Pending"),
        (
            pod(
                {
                    "phase": "Pending",
                    "containerStatuses": [
                        {
                            "name": "c0",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"waiting": {"reason": "ContainerCreating"}},
                        }
                    ],
                }
            ),
            "0/1",
            "ContainerCreating",
        ),
        (pod({"phase": "Running", "containerStatuses": [running()]}), "1/1", "Running"),
        (
            pod({"phase": "Running", "containerStatuses": [running(), running("c1", ready=False)]}, containers=2),
            "1/2",
            "Running",
        ),
        (
            pod(
                {
                    "phase": "Succeeded",
                    "containerStatuses": [
                        {
                            "name": "c0",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                        }
                    ],
                }
            ),
            "0/1",
            "Completed",
        ),
        (
            pod(
                {
                    "phase": "Failed",
                    "containerStatuses": [
                        {
                            "name": "c0",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
                        }
                    ],
                }
            ),
            "0/1",
            "Error",
        ),
        (
            pod(
                {
                    "phase": "Failed",
                    "containerStatuses": [
                        {"name": "c0", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}
                    ],
                }
            ),
            "0/1",
            "ExitCode:137",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": "c0",
                            "ready": False,
                            "restartCount": 5,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        }
                    ],
                }
            ),
            "0/1",
            "CrashLoopBackOff",
        ),
        (pod({"phase": "Running", "containerStatuses": [running()]}, deleting=True), "1/1", "Terminating"),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {
                            "name": "i",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"waiting": {"reason": "PodInitializing"}},
                        }
                    ],
                },
                initContainers=[{"name": "i"}],
            ),
            "0/1",
            "Init:0/1",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {
                            "name": "i",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"terminated": {"exitCode": 2, "reason": "Error"}},
                        }
                    ],
                },
                initContainers=[{"name": "i"}],
            ),
            "0/1",
            "Init:Error",
        ),
        (pod({"phase": "Pending", "reason": "Evicted"}), "0/1", "Evicted"),
    ],
)
def test_pod_status_column_like_kubectl(p: dict[str, Any], ready: str, status: str) -> None:
    row = cells(p)
    assert (row[1], row[2]) == (ready, status)


def test_pod_restarts_age_and_wide_columns() -> None:
    restarted = running(restarts=2, lastState={"terminated": {"exitCode": 1, "finishedAt": ts(minutes=4)}})
    p = pod(
        {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}], "containerStatuses": [restarted]},
        nodeName="node-1",
    )
    assert cells(p) == ["p", "1/1", "Running", "2 (4m ago)", "3h", "10.0.0.5", "node-1", "<none>", "<none>"]
    table = render_table(PODS, [p], include_object="None", now=NOW)
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 1] == [
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]


def test_completed_pod_row_condition() -> None:
    table = render_table(PODS, [pod({"phase": "Succeeded"})], include_object="None", now=NOW)
    assert table["rows"][0]["conditions"][0]["type"] == "Completed"


# -- other built-ins -------------------------------------------------------------------------------


def meta(name: str = "x") -> dict[str, Any]:
    return {"name": name, "creationTimestamp": ts(days=3, hours=4)}


def table_of(group: str, kind: str, obj: dict[str, Any]) -> tuple[list[str], list[Any]]:
    table = render_table(rt(group, kind), [obj], include_object="None", now=NOW)
    return [c["name"] for c in table["columnDefinitions"]], table["rows"][0]["cells"]


def test_service_columns() -> None:
    svc = {
        "metadata": meta("head-svc"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "selector": {"b": "2", "a": "1"},
            "ports": [{"port": 8265, "protocol": "TCP", "nodePort": 30001}, {"port": 6379}],
        },
    }
    names, row = table_of("", "Service", svc)
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert row == ["head-svc", "NodePort", "10.96.0.10", "<none>", "8265:30001/TCP,6379/TCP", "3d4h", "a=1,b=2"]
    lb = {"metadata": meta(), "spec": {"type": "LoadBalancer", "clusterIPs": ["None"], "ports": []}}
    assert table_of("", "Service", lb)[1][2:5] == ["None", "<pending>", "<none>"]


@pytest.mark.parametrize(
    ("group", "kind", "obj", "expected_names", "expected_cells"),
    [
        (
            "",
            "Namespace",
            {"metadata": meta("ns"), "status": {"phase": "Active"}},
            ["Name", "Status", "Age"],
            ["ns", "Active", "3d4h"],
        ),
        (
            "",
            "Secret",
            {"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {"a": "", "b": ""}},
            ["Name", "Type", "Data", "Age"],
            ["s", "kubernetes.io/tls", 2, "3d4h"],
        ),
        (
            "",
            "ConfigMap",
            {"metadata": meta("c"), "data": {"a": "1"}, "binaryData": {"b": ""}},
            ["Name", "Data", "Age"],
            ["c", 2, "3d4h"],
        ),
        (
            "coordination.k8s.io",
            "Lease",
            {"metadata": meta("l"), "spec": {"holderIdentity": "op-1"}},
            ["Name", "Holder", "Age"],
            ["l", "op-1", "3d4h"],
        ),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            {"metadata": meta("v"), "webhooks": [{}, {}]},
            ["Name", "Webhooks", "Age"],
            ["v", 2, "3d4h"],
        ),
        (
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            {"metadata": {"name": "rayclusters.ray.io", "creationTimestamp": "2024-04-28T07:08:09Z"}},
            ["Name", "Created At"],
            ["rayclusters.ray.io", "2024-04-28T07:08:09Z"],
        ),
        (
            "rbac.authorization.k8s.io",
            "RoleBinding",
            {
                "metadata": meta("rb"),
                "roleRef": {"kind": "Role", "name": "r"},
                "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}],
            },
            ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"],
            ["rb", "Role/r", "3d4h", "", "", "ns/sa"],
        ),
        (
            "apps",
            "Deployment",
            {
                "metadata": meta("d"),
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}},
                },
                "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
            },
            ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"],
            ["d", "2/3", 3, 2, "3d4h", "web", "nginx", "app=web"],
        ),
    ],
)
def test_builtin_printer_columns(
    group: str, kind: str, obj: dict[str, Any], expected_names: list[str], expected_cells: list[Any]
) -> None:
    assert table_of(group, kind, obj) == (expected_names, expected_cells)


def test_core_event_columns() -> None:
    event = {
        "metadata": meta("demo.17a"),
        "type": "Warning",
        "reason": "FailedCreate",
        "message": " could not create pod \n",
        "involvedObject": {"kind": "RayCluster", "name": "demo"},
        "source": {"component": "ray-operator"},
        "firstTimestamp": ts(minutes=30),
        "lastTimestamp": ts(seconds=40),
        "count": 3,
    }
    names, row = table_of("", "Event", event)
    assert names[:4] == ["Last Seen", "Type", "Reason", "Object"]
    assert row == [
        "40s",
        "Warning",
        "FailedCreate",
        "raycluster/demo",
        "",
        "ray-operator",
        "could not create pod",
        "30m",
        3,
        "demo.17a",
    ]
    new_style = {
        "apiVersion": "events.k8s.io/v1",
        "metadata": meta("e"),
        "type": "Normal",
        "reason": "Created",
        "note": "ok",
        "regarding": {"kind": "Pod", "name": "p"},
        "eventTime": "2024-05-01T11:59:50.000000Z",
        "reportingController": "ctl",
    }
    assert table_of("events.k8s.io", "Event", new_style)[1][:7] == [
        "10s",
        "Normal",
        "Created",
        "pod/p",
        "",
        "ctl",
        "ok",
    ]


@pytest.mark.parametrize(
    ("conditions", "suspend", "state"),
    [
        ([{"type": "Complete", "status": "True"}], False, "Complete"),
        ([{"type": "Failed", "status": "True"}], False, "Failed"),
        ([{"type": "Suspended", "status": "True"}], True, "Suspended"),
        ([{"type": "FailureTarget", "status": "True"}], False, "FailureTarget"),
        ([], True, "Running"),  # spec.suspend alone is not yet a Suspended condition
    ],
)
def test_job_status_column(conditions: list[dict[str, str]], suspend: bool, state: str) -> None:
    job = {
        "metadata": meta("j"),
        "spec": {
            "completions": 2,
            "suspend": suspend,
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
        "status": {
            "succeeded": 1,
            "conditions": conditions,
            "startTime": ts(minutes=5),
            "completionTime": ts(minutes=2),
        },
    }
    names, row = table_of("batch", "Job", job)
    assert names[:5] == ["Name", "Status", "Completions", "Duration", "Age"]
    assert row[:4] == ["j", state, "1/2", "3m"]


def test_ingress_hosts_are_capped_at_three() -> None:
    ingress = {"metadata": meta("in"), "spec": {"rules": [{"host": f"h{i}"} for i in range(5)], "tls": [{}]}}
    assert table_of("networking.k8s.io", "Ingress", ingress)[1][:5] == [
        "in",
        "<none>",
        "h0,h1,h2 + 2 more...",
        "",
        "80, 443",
    ]


def test_node_status_and_roles() -> None:
    node = {
        "metadata": {
            **meta("n1"),
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "Unknown"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0"},
        },
    }
    names, row = table_of("", "Node", node)
    assert names[:5] == ["Name", "Status", "Roles", "Age", "Version"]
    assert row[:6] == ["n1", "NotReady,SchedulingDisabled", "control-plane,worker", "3d4h", "v1.32.0", "10.0.0.1"]


def test_garbage_in_stored_objects_never_breaks_get() -> None:
    pod_obj = pod({"phase": "Running", "containerStatuses": [{"name": "c0", "restartCount": "many", "state": "odd"}]})
    assert cells(pod_obj)[:4] == ["p", "0/1", "Running", "0"]
    deployment = {
        "metadata": meta("d"),
        "spec": {"replicas": "3"},
        "status": {"readyReplicas": None, "updatedReplicas": True},
    }
    assert table_of("apps", "Deployment", deployment)[1][:4] == ["d", "0/0", 0, 0]
    weird = rt(
        "ray.io", "X", is_custom=True, printer_columns=({"name": "n", "type": "integer", "jsonPath": ".status.n"},)
    )
    obj = {"metadata": {"name": "x"}, "status": {"n": float("inf")}}
    assert render_table(weird, [obj], include_object="None", now=NOW)["rows"][0]["cells"] == ["x", None]
    assert render_table(PODS, [{"metadata": "broken"}], include_object="Metadata", now=NOW)["rows"][0]["cells"][0] == ""
    broken_pod = {"metadata": {"name": "b"}, "spec": ["not", "a", "map"], "status": "?"}
    assert cells(broken_pod) == ["b", None, None, None, None, None, None, None, None]
    broken_svc = {"metadata": {"name": "s"}, "spec": {"ports": "80", "selector": ["x"]}}
    assert table_of("", "Service", broken_svc)[1][0] == "s"


def test_malformed_printer_columns_are_skipped_consistently() -> None:
    cols = ("junk", {"name": "s", "type": "string", "jsonPath": "..bad[[", "priority": "high"})
    table = render_table(
        rt("ray.io", "Y", is_custom=True, printer_columns=cols), [raycluster("y")], include_object="None", now=NOW
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "s"]
    assert table["columnDefinitions"][1]["priority"] == 0
    assert table["rows"][0]["cells"] == ["y", None]
