"""The emulator as kubernetes_asyncio sees it: CRUD, 409s, watches with 410, pagination, patch types, leases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from ray_operator.sandbox.server import Sandbox

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.io"},
    "spec": {
        "group": "example.io",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
                            },
                            "status": {"type": "object", "properties": {"state": {"type": "string"}}},
                        },
                    }
                },
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
            }
        ],
    },
}


def widget(name: str, size: int = 1, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "example.io/v1",
        "kind": "Widget",
        "metadata": {"name": name, "labels": labels},
        "spec": {"size": size},
    }


async def install_crd(api: Any) -> None:
    extensions: Any = client.ApiextensionsV1Api(api)
    await extensions.create_custom_resource_definition(CRD)


async def test_configmap_crud_and_stale_replace_conflict(api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    created = await core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    assert created.metadata.uid and created.metadata.resource_version
    created.data = {"a": "2"}
    updated = await core.replace_namespaced_config_map("cm", "default", created)
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    created.data = {"a": "3"}
    with pytest.raises(ApiException) as info:
        await core.replace_namespaced_config_map("cm", "default", created)
    assert info.value.status == 409
    assert "the object has been modified" in str(info.value.body)
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})
    assert info.value.status == 409 and "AlreadyExists" in str(info.value.body)


async def test_create_in_missing_namespace_is_404_naming_it(api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("nope", {"metadata": {"name": "cm"}})
    assert info.value.status == 404
    body = str(info.value.body)
    assert 'namespaces \\"nope\\" not found' in body or 'namespaces "nope" not found' in body


async def test_noop_update_keeps_resource_version(api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    created = await core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    same = await core.patch_namespaced_config_map("cm", "default", {"data": {"a": "1"}})
    assert same.metadata.resource_version == created.metadata.resource_version


async def test_custom_object_patch_with_dict_and_no_content_type_is_rejected(api_client: Any) -> None:
    await install_crd(api_client)
    co: Any = client.CustomObjectsApi(api_client)
    await co.create_namespaced_custom_object("example.io", "v1", "default", "widgets", widget("w"))
    with pytest.raises(ApiException) as info:
        await co.patch_namespaced_custom_object("example.io", "v1", "default", "widgets", "w", {"spec": {"size": 2}})
    assert info.value.status == 400
    patched = await co.patch_namespaced_custom_object(
        "example.io",
        "v1",
        "default",
        "widgets",
        "w",
        {"spec": {"size": 2}},
        _content_type="application/merge-patch+json",
    )
    assert patched["spec"]["size"] == 2 and patched["metadata"]["generation"] == 2


async def test_custom_resource_put_without_resource_version_is_422(api_client: Any) -> None:
    await install_crd(api_client)
    co: Any = client.CustomObjectsApi(api_client)
    await co.create_namespaced_custom_object("example.io", "v1", "default", "widgets", widget("w"))
    with pytest.raises(ApiException) as info:
        await co.replace_namespaced_custom_object("example.io", "v1", "default", "widgets", "w", widget("w", 3))
    assert info.value.status == 422
    assert "metadata.resourceVersion: Invalid value: 0: must be specified for an update" in str(info.value.body)


async def test_status_subresource_splits_spec_and_status(api_client: Any) -> None:
    await install_crd(api_client)
    co: Any = client.CustomObjectsApi(api_client)
    body = widget("w")
    body["status"] = {"state": "ignored-on-create"}
    created = await co.create_namespaced_custom_object("example.io", "v1", "default", "widgets", body)
    assert "status" not in created
    st = await co.patch_namespaced_custom_object_status(
        "example.io",
        "v1",
        "default",
        "widgets",
        "w",
        {"status": {"state": "ready"}, "spec": {"size": 9}},
        _content_type="application/merge-patch+json",
    )
    assert st["status"] == {"state": "ready"} and st["spec"]["size"] == 1 and st["metadata"]["generation"] == 1
    main = await co.patch_namespaced_custom_object(
        "example.io",
        "v1",
        "default",
        "widgets",
        "w",
        {"status": {"state": "x"}},
        _content_type="application/merge-patch+json",
    )
    assert main["status"] == {"state": "ready"}


async def test_watch_added_modified_deleted(api_client: Any) -> None:
    await install_crd(api_client)
    co: Any = client.CustomObjectsApi(api_client)
    listed = await co.list_namespaced_custom_object("example.io", "v1", "default", "widgets")
    rv = listed["metadata"]["resourceVersion"]
    seen: list[tuple[str, int]] = []

    async def consume() -> None:
        async with watch.Watch() as w:
            async for event in w.stream(
                co.list_namespaced_custom_object,
                "example.io",
                "v1",
                "default",
                "widgets",
                resource_version=rv,
                timeout_seconds=10,
            ):
                seen.append((event["type"], event["object"]["spec"]["size"]))
                if event["type"] == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await co.create_namespaced_custom_object("example.io", "v1", "default", "widgets", widget("w", 1))
    await co.patch_namespaced_custom_object(
        "example.io",
        "v1",
        "default",
        "widgets",
        "w",
        {"spec": {"size": 2}},
        _content_type="application/merge-patch+json",
    )
    await co.delete_namespaced_custom_object("example.io", "v1", "default", "widgets", "w")
    await asyncio.wait_for(task, 10)
    assert seen == [("ADDED", 1), ("MODIFIED", 2), ("DELETED", 2)]


async def test_watch_after_compaction_gets_410_then_relist_works(api_client: Any, sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(api_client)
    first = await core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    await core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    sandbox.control.compact()
    with pytest.raises(ApiException) as info:
        async with watch.Watch() as w:
            async for _ in w.stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=first.metadata.resource_version,
                timeout_seconds=5,
            ):
                pass
    assert info.value.status == 410
    relisted = await core.list_namespaced_config_map("default")
    assert sorted(i.metadata.name for i in relisted.items) == ["a", "b"]
    names: list[str] = []
    async with watch.Watch() as w:
        async for event in w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=relisted.metadata.resource_version,
            timeout_seconds=1,
        ):
            names.append(event["object"].metadata.name)
    assert names == []


async def test_label_selector_watch_sees_enter_and_leave(api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    seen: list[str] = []

    async def consume() -> None:
        async with watch.Watch() as w:
            async for event in w.stream(
                core.list_namespaced_config_map, "default", label_selector="app in (x)", timeout_seconds=10
            ):
                seen.append(event["type"])
                if len(seen) == 2:
                    return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "c", "labels": {"app": "y"}}})
    await core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"app": "x"}}})
    await core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"app": "z"}}})
    await asyncio.wait_for(task, 10)
    assert seen == ["ADDED", "DELETED"]


async def test_invalid_label_selector_is_400(api_client: Any) -> None:
    with pytest.raises(ApiException) as info:
        await client.CoreV1Api(api_client).list_namespaced_pod("default", label_selector="a in (b")
    assert info.value.status == 400 and "unable to parse requirement" in str(info.value.body)


async def test_pagination_with_limit_and_continue(api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    for i in range(7):
        await core.create_namespaced_config_map("default", {"metadata": {"name": f"cm-{i}"}})
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = await core.list_namespaced_config_map("default", limit=3, _continue=token)
        names += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 7 - len(names)
    assert pages == 3 and names == [f"cm-{i}" for i in range(7)]


async def test_lease_create_race_and_replace_race(api_client: Any) -> None:
    coord: Any = client.CoordinationV1Api(api_client)
    body = {
        "metadata": {"name": "leader"},
        # A MicroTime with a non-zero microsecond: the typed client writes datetimes with isoformat(), which
        # drops the fraction when it is 0, and kube-apiserver refuses a MicroTime without six digits.
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": "2026-01-01T00:00:00.000001Z"},
    }
    results = await asyncio.gather(
        coord.create_namespaced_lease("default", body),
        coord.create_namespaced_lease("default", body),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ApiException) and r.status == 409 for r in results) == 1
    lease = await coord.read_namespaced_lease("leader", "default")
    assert lease.spec.renew_time is not None and lease.spec.renew_time.microsecond == 1
    lease.spec.holder_identity = "b"
    lease2 = await coord.read_namespaced_lease("leader", "default")
    lease2.spec.holder_identity = "c"
    outcomes = await asyncio.gather(
        coord.replace_namespaced_lease("leader", "default", lease),
        coord.replace_namespaced_lease("leader", "default", lease2),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ApiException) and r.status == 409 for r in outcomes) == 1


async def test_owner_deletion_garbage_collects_children(api_client: Any, sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(api_client)
    owner = await core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    await core.create_namespaced_config_map("default", {"metadata": {"name": "child", "ownerReferences": [ref]}})
    await core.delete_namespaced_config_map("owner", "default")
    await sandbox.control.settle()
    remaining = await core.list_namespaced_config_map("default")
    assert [i.metadata.name for i in remaining.items] == []


async def test_finalizers_hold_deletion_until_removed(api_client: Any, sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(api_client)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "f", "finalizers": ["x.io/keep"]}})
    await core.delete_namespaced_config_map("f", "default")
    held = await core.read_namespaced_config_map("f", "default")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as info:
        await core.patch_namespaced_config_map("f", "default", {"metadata": {"finalizers": ["x.io/keep", "y.io/new"]}})
    assert info.value.status == 422
    await core.patch_namespaced_config_map("f", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as info:
        await core.read_namespaced_config_map("f", "default")
    assert info.value.status == 404


async def test_pod_and_service_defaulting(api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    pod = await core.create_namespaced_pod(
        "default", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "ray"}]}}
    )
    assert pod.spec.restart_policy == "Always" and pod.spec.containers[0].image_pull_policy == "Always"
    assert pod.spec.service_account_name == "default" and pod.status.phase == "Pending"
    svc = await core.create_namespaced_service(
        "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert svc.spec.type == "ClusterIP" and svc.spec.cluster_ip.startswith("10.96.")
    assert svc.spec.ports[0].target_port == 80 and svc.spec.ports[0].protocol == "TCP"
    headless = await core.create_namespaced_service(
        "default", {"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}}
    )
    assert headless.spec.cluster_ip == "None"


async def test_namespace_deletion_removes_contents(api_client: Any, sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(api_client)
    await core.create_namespace({"metadata": {"name": "team"}})
    await core.create_namespaced_config_map("team", {"metadata": {"name": "x"}})
    await core.delete_namespace("team")
    await sandbox.control.settle()
    with pytest.raises(ApiException) as info:
        await core.read_namespace("team")
    assert info.value.status == 404


async def test_expired_continue_token_is_410(api_client: Any, sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(api_client)
    for name in ("a", "b"):
        await core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    page = await core.list_namespaced_config_map("default", limit=1)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    sandbox.control.compact()
    with pytest.raises(ApiException) as info:
        await core.list_namespaced_config_map("default", limit=1, _continue=page.metadata._continue)
    assert info.value.status == 410 and "continue parameter is too old" in str(info.value.body)


async def test_continue_pages_come_from_the_first_page_snapshot(api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    for name in ("a", "b", "c", "d"):
        await core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    first = await core.list_namespaced_config_map("default", limit=2)
    await core.delete_namespaced_config_map("d", "default")
    await core.create_namespaced_config_map("default", {"metadata": {"name": "bb"}})
    rest = await core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert [i.metadata.name for i in first.items + rest.items] == ["a", "b", "c", "d"]
    assert rest.metadata.resource_version == first.metadata.resource_version
