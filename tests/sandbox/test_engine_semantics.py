"""Object semantics over raw HTTP: generateName, generation, managedFields, dry-run, discovery and CRD lifecycle."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ray_operator.sandbox.server import Sandbox
from tests.sandbox.test_client_core import CRD

WIDGETS = "/apis/example.io/v1/namespaces/default/widgets"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def http() -> AsyncIterator[tuple[Sandbox, aiohttp.ClientSession]]:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession(base_url=sb.url) as session:
        yield sb, session


async def call(session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any, Any]:
    async with session.request(method, path, **kw) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


def two_version_crd() -> dict[str, Any]:
    crd = copy.deepcopy(CRD)
    v1 = crd["spec"]["versions"][0]
    old = copy.deepcopy(v1)
    old.update(name="v1alpha1", storage=False, deprecated=True)
    crd["spec"]["versions"].append(old)
    return crd


async def test_generate_name_and_server_fields(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    status, obj, _ = await call(
        s, "POST", "/api/v1/namespaces/default/configmaps", json={"metadata": {"generateName": "cm-", "uid": "forged"}}
    )
    assert status == 201 and obj["metadata"]["name"].startswith("cm-") and len(obj["metadata"]["name"]) == 8
    assert obj["metadata"]["uid"] != "forged" and obj["metadata"]["creationTimestamp"].endswith("Z")
    status, body, _ = await call(s, "POST", "/api/v1/namespaces/default/configmaps", json={"metadata": {}})
    assert status == 422 and "name or generateName is required" in body["message"]
    status, body, _ = await call(
        s, "POST", "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "Bad_Name"}}
    )
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.name"
    status, body, _ = await call(
        s, "POST", "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "x", "namespace": "other"}}
    )
    assert status == 400 and "does not match the namespace" in body["message"]


async def test_generation_and_managed_fields(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
    _, obj, _ = await call(
        s,
        "POST",
        WIDGETS + "?fieldManager=me",
        json={"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}},
    )
    assert obj["metadata"]["generation"] == 1
    assert obj["metadata"]["managedFields"][0]["manager"] == "me"
    _, obj, _ = await call(s, "PATCH", WIDGETS + "/w", data='{"metadata":{"labels":{"a":"b"}}}', headers=MERGE)
    assert obj["metadata"]["generation"] == 1
    _, obj, _ = await call(s, "PATCH", WIDGETS + "/w", data='{"spec":{"size":2}}', headers=MERGE)
    assert obj["metadata"]["generation"] == 2
    rv = obj["metadata"]["resourceVersion"]
    _, obj, _ = await call(s, "PATCH", WIDGETS + "/w", data='{"spec":{"size":2}}', headers=MERGE)
    assert obj["metadata"]["resourceVersion"] == rv, "a no-op patch commits nothing"
    status, body, _ = await call(
        s, "PATCH", WIDGETS + "/w", data=f'{{"metadata":{{"resourceVersion":"{int(rv) - 1}"}}}}', headers=MERGE
    )
    assert status == 409 and body["reason"] == "Conflict"


async def test_dry_run_create_stores_nothing(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    sb, s = http
    before = sb.store.rv
    status, obj, _ = await call(
        s, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All", json={"metadata": {"name": "dry"}}
    )
    assert status == 201 and obj["metadata"]["uid"]
    assert sb.store.rv == before
    status, _, _ = await call(s, "GET", "/api/v1/namespaces/default/configmaps/dry")
    assert status == 404


async def test_discovery_legacy_and_aggregated_follow_crds(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    sb, s = http
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=two_version_crd())
    _, groups, _ = await call(s, "GET", "/apis")
    example = next(g for g in groups["groups"] if g["name"] == "example.io")
    assert [v["version"] for v in example["versions"]] == ["v1", "v1alpha1"]
    assert example["preferredVersion"]["version"] == "v1"
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    _, agg, headers = await call(s, "GET", "/apis", headers={"Accept": accept})
    assert headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    item = next(i for i in agg["items"] if i["metadata"]["name"] == "example.io")
    widgets = item["versions"][0]["resources"][0]
    assert widgets["resource"] == "widgets" and widgets["subresources"][0]["subresource"] == "status"
    _, resources, _ = await call(s, "GET", "/apis/example.io/v1")
    assert [r["name"] for r in resources["resources"]] == ["widgets", "widgets/status"]
    status, _, _ = await call(s, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.io")
    assert status == 200
    await sb.control.settle()
    _, groups, _ = await call(s, "GET", "/apis")
    assert all(g["name"] != "example.io" for g in groups["groups"])
    status, _, _ = await call(s, "GET", WIDGETS)
    assert status == 404


async def test_served_versions_share_storage_and_warn_when_deprecated(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    _, s = http
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=two_version_crd())
    status, _, headers = await call(
        s,
        "POST",
        "/apis/example.io/v1alpha1/namespaces/default/widgets",
        json={"apiVersion": "example.io/v1alpha1", "kind": "Widget", "metadata": {"name": "old"}},
    )
    assert status == 201
    assert "deprecated" in headers.get("Warning", "")
    _, obj, headers = await call(s, "GET", WIDGETS + "/old")
    assert obj["apiVersion"] == "example.io/v1" and "Warning" not in headers
    # Reads through the deprecated version warn too (kubectl get prints the warning on every call).
    old_widgets = "/apis/example.io/v1alpha1/namespaces/default/widgets"
    for path in (old_widgets, old_widgets + "/old"):
        status, _, headers = await call(s, "GET", path)
        assert status == 200 and "deprecated" in headers.get("Warning", ""), path


async def test_crd_deletion_removes_its_objects_finalizers_first(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    sb, s = http
    crd_url = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.io"
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
    await call(s, "POST", WIDGETS, json={"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}})
    held = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "held", "finalizers": ["x.io/f"]}}
    await call(s, "POST", WIDGETS, json=held)
    await call(s, "DELETE", crd_url)
    await sb.control.settle()
    status, crd, _ = await call(s, "GET", crd_url)
    assert status == 200 and crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert any(c["type"] == "Terminating" for c in crd["status"]["conditions"])
    _, listed, _ = await call(s, "GET", WIDGETS)
    assert [w["metadata"]["name"] for w in listed["items"]] == ["held"]
    assert listed["items"][0]["metadata"]["deletionTimestamp"]
    status, body, _ = await call(
        s, "POST", WIDGETS, json={"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "new"}}
    )
    assert status == 405 and body["message"] == "create not allowed while custom resource definition is terminating"
    await call(s, "PATCH", WIDGETS + "/held", data='{"metadata":{"finalizers":null}}', headers=MERGE)
    await sb.control.settle()
    assert (await call(s, "GET", crd_url))[0] == 404
    assert (await call(s, "GET", WIDGETS))[0] == 404, "a deleted CRD's resource is no longer served"
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
    _, listed, _ = await call(s, "GET", WIDGETS)
    assert listed["items"] == []


async def test_openapi_v3_documents_track_crds(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    status, root, _ = await call(s, "GET", "/openapi/v3")
    assert status == 200 and "api/v1" in root["paths"] and "apis/example.io/v1" not in root["paths"]
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
    _, root, _ = await call(s, "GET", "/openapi/v3")
    url = root["paths"]["apis/example.io/v1"]["serverRelativeURL"]
    status, doc, _ = await call(s, "GET", url)
    assert status == 200 and "io.example.v1.Widget" in doc["components"]["schemas"]
    assert (await call(s, "GET", "/openapi/v2"))[0] == 404


async def test_delete_returns_status_for_custom_resources_and_object_for_builtins(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    _, s = http
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
    await call(s, "POST", WIDGETS, json={"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}})
    _, body, _ = await call(s, "DELETE", WIDGETS + "/w", json={"propagationPolicy": "Background"})
    assert body["kind"] == "Status" and body["status"] == "Success" and body["details"]["kind"] == "widgets"
    await call(s, "POST", "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c"}})
    _, body, _ = await call(
        s, "DELETE", "/api/v1/namespaces/default/configmaps/c", json={"preconditions": {"uid": "nope"}}
    )
    assert body["reason"] == "Conflict" and "Precondition failed: UID in precondition: nope" in body["message"]
    _, body, _ = await call(s, "DELETE", "/api/v1/namespaces/default/configmaps/c")
    assert body["kind"] == "ConfigMap" and body["metadata"]["name"] == "c"


async def test_secret_string_data_and_terminating_namespace(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    sb, s = http
    _, secret, _ = await call(
        s, "POST", "/api/v1/namespaces/default/secrets", json={"metadata": {"name": "s"}, "stringData": {"k": "v"}}
    )
    assert secret["data"] == {"k": "dg=="} and secret["type"] == "Opaque" and "stringData" not in secret
    await call(s, "POST", "/api/v1/namespaces", json={"metadata": {"name": "held"}})
    await call(
        s, "POST", "/api/v1/namespaces/held/configmaps", json={"metadata": {"name": "c", "finalizers": ["x.io/f"]}}
    )
    await call(s, "DELETE", "/api/v1/namespaces/held")
    await sb.control.settle()
    status, body, _ = await call(s, "POST", "/api/v1/namespaces/held/configmaps", json={"metadata": {"name": "d"}})
    assert status == 403 and "because it is being terminated" in body["message"]
    await call(
        s, "PATCH", "/api/v1/namespaces/held/configmaps/c", data='{"metadata":{"finalizers":null}}', headers=MERGE
    )
    await sb.control.settle()
    assert (await call(s, "GET", "/api/v1/namespaces/held"))[0] == 404


async def test_non_structural_crd_and_bad_webhook_configuration_are_422(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    _, s = http
    crd = copy.deepcopy(CRD)
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] = {
        "properties": {"size": {"type": "integer"}}
    }
    status, body, _ = await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    assert status == 422
    assert any(c["field"].startswith("spec.versions[0].schema.openAPIV3Schema") for c in body["details"]["causes"])
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "bad"},
        "webhooks": [{"name": "short", "clientConfig": {"url": "http://x"}}],
    }
    status, body, _ = await call(
        s, "POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", json=config
    )
    assert status == 422 and body["details"]["kind"] == "ValidatingWebhookConfiguration"


async def test_delete_collection_by_label(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        await call(
            s,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json={"metadata": {"name": name, "labels": {"app": app}}},
        )
    status, body, _ = await call(s, "DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx")
    assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    _, listed, _ = await call(s, "GET", "/api/v1/namespaces/default/configmaps")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["c"]


async def test_partial_object_metadata(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    await call(s, "POST", "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c"}, "data": {"a": "b"}})
    accept = {"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"}
    _, listed, _ = await call(s, "GET", "/api/v1/namespaces/default/configmaps", headers=accept)
    assert listed["kind"] == "PartialObjectMetadataList" and listed["items"][0]["metadata"]["name"] == "c"
    assert "data" not in listed["items"][0]
    accept = {"Accept": "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"}
    _, one, _ = await call(s, "GET", "/api/v1/namespaces/default/configmaps/c", headers=accept)
    assert one == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": one["metadata"]}


async def test_server_side_apply_conflicts_between_managers(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    await call(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
    apply = {"Content-Type": "application/apply-patch+yaml"}

    def body(size: int, color: str | None = None) -> str:
        spec: dict[str, Any] = {"size": size}
        if color:
            spec["color"] = color
        return json.dumps({"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})

    status, _, _ = await call(s, "PATCH", WIDGETS + "/w", data=body(1), headers=apply)
    assert status == 400, "apply requires a fieldManager"
    status, _, _ = await call(s, "PATCH", WIDGETS + "/w?fieldManager=a", data=body(1, "red"), headers=apply)
    assert status == 201
    status, _, _ = await call(s, "PATCH", WIDGETS + "/w?fieldManager=b", data=body(1), headers=apply)
    assert status == 200, "equal values are shared, not a conflict"
    status, err, _ = await call(s, "PATCH", WIDGETS + "/w?fieldManager=b", data=body(2), headers=apply)
    assert status == 409
    assert err["message"] == 'Apply failed with 1 conflict: conflict with "a" using example.io/v1: .spec.size'
    assert err["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "a" using example.io/v1', "field": ".spec.size"}
    ]
    status, forced, _ = await call(s, "PATCH", WIDGETS + "/w?fieldManager=b&force=true", data=body(2), headers=apply)
    assert status == 200 and forced["spec"] == {"size": 2, "color": "red"}
    status, err, _ = await call(s, "PATCH", WIDGETS + "/w?fieldManager=a", data=body(1, "red"), headers=apply)
    assert status == 409 and 'conflict with "b"' in err["message"]
    status, _, _ = await call(s, "PATCH", WIDGETS + "/w", data='{"spec":{"size":7}}', headers=MERGE)
    assert status == 200, "a plain update takes ownership without a conflict"
    status, err, _ = await call(s, "PATCH", WIDGETS + "/w?fieldManager=b", data=body(2), headers=apply)
    # the manager of a write without fieldManager is the User-Agent up to its first "/"
    assert status == 409 and 'conflict with "Python" using example.io/v1: .spec.size' in err["message"]


async def test_events_are_one_store_seen_through_both_apis(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    new_events = "/apis/events.k8s.io/v1/namespaces/default/events"
    status, body, _ = await call(s, "POST", new_events, json={"metadata": {"name": "e1"}, "note": "hi"})
    assert status == 422 and {c["field"] for c in body["details"]["causes"]} >= {"eventTime", "reportingController"}
    event = {
        "metadata": {"name": "e1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "ray.io/op",
        "reportingInstance": "op-1",
        "action": "Create",
        "reason": "Created",
        "type": "Normal",
        "note": "pod made",
        "regarding": {"kind": "RayCluster", "name": "demo", "namespace": "default"},
    }
    status, created, _ = await call(s, "POST", new_events, json=event)
    assert status == 201 and created["note"] == "pod made" and created["apiVersion"] == "events.k8s.io/v1"
    _, core, _ = await call(s, "GET", "/api/v1/namespaces/default/events/e1")
    assert core["message"] == "pod made" and core["involvedObject"]["name"] == "demo"
    assert core["reportingComponent"] == "ray.io/op"
    _, listed, _ = await call(s, "GET", new_events)
    assert [e["note"] for e in listed["items"]] == ["pod made"]
    # kubectl get events.events.k8s.io lists as a Table: the rows show (and carry) the events.k8s.io fields.
    table_accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    _, table, _ = await call(s, "GET", new_events + "?includeObject=Object", headers=table_accept)
    columns = [c["name"] for c in table["columnDefinitions"]]
    row = table["rows"][0]
    assert row["cells"][columns.index("Message")] == "pod made"
    assert row["cells"][columns.index("Object")] == "raycluster/demo"
    assert row["object"]["note"] == "pod made" and row["object"]["apiVersion"] == "events.k8s.io/v1"


async def test_pod_spec_is_immutable_but_images_and_service_names_are_dns_1035(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    _, s = http
    pods = "/api/v1/namespaces/default/pods"
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "ray:2.9"}]}}
    await call(s, "POST", pods, json=pod)
    status, body, _ = await call(s, "PATCH", pods + "/p", data='{"spec":{"restartPolicy":"Never"}}', headers=MERGE)
    assert status == 422 and "pod updates may not change fields other than" in body["message"]
    patch = '{"spec":{"containers":[{"name":"c","image":"ray:2.10"}]},"metadata":{"labels":{"a":"b"}}}'
    status, body, _ = await call(s, "PATCH", pods + "/p", data=patch, headers=MERGE)
    assert status == 200 and body["spec"]["containers"][0]["image"] == "ray:2.10"
    status, body, _ = await call(
        s,
        "POST",
        "/api/v1/namespaces/default/services",
        json={"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}},
    )
    assert status == 422 and "a DNS-1035 label" in body["message"]


async def test_every_namespace_gets_a_default_service_account(http: tuple[Sandbox, aiohttp.ClientSession]) -> None:
    _, s = http
    await call(s, "POST", "/api/v1/namespaces", json={"metadata": {"name": "team"}})
    for namespace in ("default", "kube-node-lease", "team"):
        status, _, _ = await call(s, "GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
        assert status == 200, namespace


async def test_null_update_strategy_and_workload_fields_are_defaulted_as_if_absent(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    """kube-apiserver decodes JSON null as an unset field, so a client sending ``strategy: null`` (a
    serializer that writes every field) still gets the defaults stored, and reads them back on GET."""
    _, s = http
    template = {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "ray:2.9"}]}}
    base = {"selector": {"matchLabels": {"app": "w"}}, "template": template}
    cases = [
        (
            "deployments",
            {"strategy": None, "replicas": None, "revisionHistoryLimit": None, "progressDeadlineSeconds": None},
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        ),
        (
            "daemonsets",
            {"updateStrategy": None},
            "updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        ),
        (
            "statefulsets",
            {"serviceName": "s", "updateStrategy": None, "podManagementPolicy": None},
            "updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        ),
        (
            "deployments",
            {"strategy": {"type": None, "rollingUpdate": None}},
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        ),
        (
            "deployments",
            {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": None, "maxUnavailable": 2}}},
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "maxSurge": "25%"}},
        ),
    ]
    for i, (resource, extra, field, expected) in enumerate(cases):
        path = f"/apis/apps/v1/namespaces/default/{resource}"
        status, created, _ = await call(
            s, "POST", path, json={"metadata": {"name": f"w{i}"}, "spec": {**base, **extra}}
        )
        assert status == 201, created
        status, got, _ = await call(s, "GET", f"{path}/w{i}")
        assert status == 200, got
        assert got["spec"][field] == expected, (resource, extra)
        assert got["spec"]["revisionHistoryLimit"] == 10, resource
        if resource == "deployments":
            assert got["spec"]["replicas"] == 1 and got["spec"]["progressDeadlineSeconds"] == 600
        if resource == "statefulsets":
            assert got["spec"]["podManagementPolicy"] == "OrderedReady"


async def test_daemonsets_and_replicasets_are_defaulted_and_set_values_kept(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    _, s = http
    template = {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "ray:2.9"}]}}
    base = {"selector": {"matchLabels": {"app": "w"}}, "template": template}
    status, ds, _ = await call(
        s, "POST", "/apis/apps/v1/namespaces/default/daemonsets", json={"metadata": {"name": "d"}, "spec": base}
    )
    assert status == 201, ds
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["revisionHistoryLimit"] == 10 and "replicas" not in ds["spec"]
    assert ds["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    status, rs, _ = await call(
        s, "POST", "/apis/apps/v1/namespaces/default/replicasets", json={"metadata": {"name": "r"}, "spec": base}
    )
    assert status == 201, rs
    assert rs["spec"]["replicas"] == 1
    assert "revisionHistoryLimit" not in rs["spec"] and "strategy" not in rs["spec"]
    # Values the client set are kept, and only the missing rollingUpdate fields are filled in.
    spec = {
        **base,
        "replicas": 3,
        "revisionHistoryLimit": 2,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
    }
    status, dep, _ = await call(
        s, "POST", "/apis/apps/v1/namespaces/default/deployments", json={"metadata": {"name": "x"}, "spec": spec}
    )
    assert status == 201, dep
    assert dep["spec"]["replicas"] == 3 and dep["spec"]["revisionHistoryLimit"] == 2
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"},
    }
    status, sts, _ = await call(
        s,
        "POST",
        "/apis/apps/v1/namespaces/default/statefulsets",
        json={"metadata": {"name": "s"}, "spec": {**base, "serviceName": "s", "updateStrategy": {"type": "OnDelete"}}},
    )
    assert status == 201, sts
    assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}


async def test_service_ip_and_node_port_are_allocated_once_and_kept(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    _, s = http
    services = "/api/v1/namespaces/default/services"
    svc: dict[str, Any] = {"metadata": {"name": "head"}, "spec": {"type": "NodePort", "ports": [{"port": 8265}]}}
    status, created, _ = await call(s, "POST", services, json=svc)
    assert status == 201, created
    ip, port = created["spec"]["clusterIP"], created["spec"]["ports"][0]
    assert created["spec"]["clusterIPs"] == [ip] and ip.startswith("10.")
    assert 30000 <= port["nodePort"] <= 32767 and port["targetPort"] == 8265 and port["protocol"] == "TCP"
    # An operator that PUTs its desired Service (no clusterIP, no nodePort) keeps what was allocated.
    svc["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    svc["metadata"]["labels"] = {"ray.io/node-type": "head"}
    status, updated, _ = await call(s, "PUT", services + "/head", json=svc)
    assert status == 200, updated
    assert updated["spec"]["clusterIP"] == ip and updated["spec"]["ports"][0]["nodePort"] == port["nodePort"]
    other: dict[str, Any] = {"metadata": {"name": "other"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    _, second, _ = await call(s, "POST", services, json=other)
    assert second["spec"]["clusterIP"] != ip and second["spec"]["ports"][0]["nodePort"] != port["nodePort"]
    svc["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
    svc["spec"]["clusterIP"] = "10.96.0.200"
    status, body, _ = await call(s, "PUT", services + "/head", json=svc)
    assert status == 422
    assert body["message"] == (
        'Service "head" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.0.200"}: may not change once set'
    )


async def test_null_env_value_from_is_accepted_and_field_refs_defaulted(
    http: tuple[Sandbox, aiohttp.ClientSession],
) -> None:
    _, s = http
    env = [
        {"name": "PLAIN", "value": "x", "valueFrom": None},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "ray:2.9", "env": env}]}}
    status, created, _ = await call(s, "POST", "/api/v1/namespaces/default/pods", json=pod)
    assert status == 201, created
    stored_env = created["spec"]["containers"][0]["env"]
    assert stored_env[1]["valueFrom"]["fieldRef"] == {"apiVersion": "v1", "fieldPath": "status.podIP"}
