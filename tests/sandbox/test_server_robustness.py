"""Malformed input never crashes the emulator: arbitrary JSON bodies get a 4xx Status, never a 500."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ray_operator.sandbox.server import Sandbox
from tests.sandbox.test_client_core import CRD

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
metadata = st.fixed_dictionaries(
    {"name": st.sampled_from(["x", "y"])},
    optional={
        "labels": values,
        "annotations": values,
        "finalizers": values,
        "ownerReferences": values,
        "generateName": values,
        "namespace": values,
        "resourceVersion": values,
    },
)
bodies = st.one_of(
    values,
    st.fixed_dictionaries(
        {"metadata": metadata}, optional={"spec": values, "status": values, "data": values, "stringData": values}
    ),
)
PATHS = [
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/services",
    "/api/v1/namespaces/default/secrets",
    "/api/v1/namespaces/default/configmaps",
    "/apis/example.io/v1/namespaces/default/widgets",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases",
]
PATCH_TYPES = [
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]


async def _status(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> int:
    async with session.request(method, url, **kw) as resp:
        body = await resp.read()
        if resp.status >= 400:
            assert json.loads(body)["kind"] == "Status"
        return resp.status


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_arbitrary_bodies_get_client_errors(data: st.DataObject) -> None:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession(base_url=sb.url) as session:
        await _status(session, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
        path = data.draw(st.sampled_from(PATHS))
        body = data.draw(bodies)
        assert await _status(session, "POST", path, json=body) < 500
        await _status(
            session,
            "POST",
            path,
            json={
                "metadata": {"name": "x"},
                "spec": {"containers": [{"name": "c", "image": "i"}], "ports": [{"port": 80}]},
            },
        )
        patch = data.draw(bodies)
        content_type = data.draw(st.sampled_from(PATCH_TYPES))
        assert (
            await _status(
                session,
                "PATCH",
                f"{path}/x?fieldManager=f",
                data=json.dumps(patch),
                headers={"Content-Type": content_type},
            )
            < 500
        )
        assert await _status(session, "PUT", f"{path}/x", json=body) < 500
        assert (
            await _status(
                session, "DELETE", f"{path}/x", data=json.dumps(patch), headers={"Content-Type": "application/json"}
            )
            < 500
        )


async def test_garbage_bytes_and_bad_queries() -> None:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession(base_url=sb.url) as session:
        path = "/api/v1/namespaces/default/configmaps"
        assert (
            await _status(session, "POST", path, data=b"\xff\x00{", headers={"Content-Type": "application/json"}) == 400
        )
        assert await _status(session, "GET", path, params={"limit": "x"}) == 400
        assert await _status(session, "GET", path, params={"watch": "1", "resourceVersion": "abc"}) == 400
        assert await _status(session, "GET", path, params={"continue": "!!"}) == 400
        assert await _status(session, "GET", path, params={"fieldSelector": "spec.x=1"}) == 400
        assert await _status(session, "POST", path + "?dryRun=Some", json={"metadata": {"name": "a"}}) == 400
        assert await _status(session, "GET", "/apis/nope/v1/things") == 404
        assert await _status(session, "PUT", "/api") == 405
