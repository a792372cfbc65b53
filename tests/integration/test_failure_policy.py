"""A webhook that cannot be called refuses the RayCluster unless its configuration says ``Ignore``.

``admissionregistration.k8s.io/v1`` defaults ``failurePolicy`` to ``Fail``: a configuration that leaves
it out must fail closed, or an operator whose webhook is down would let invalid RayClusters in. The
sandbox implements the default (``Webhook.fail_open`` in its admission chain: only an explicit
``Ignore`` fails open); ``config/webhook`` also writes ``Fail`` explicitly (``tests/unit/test_kustomize.py``).
Here the operator's own webhook configurations (``devstack.webhook_resources``) are installed with the
policy absent, ``Fail`` and ``Ignore``, and no webhook server behind the Service.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from ray_operator.api.crd import build_crd
from ray_operator.devstack import probe_raycluster, webhook_resources
from ray_operator.settings import Settings

SETTINGS = Settings(mode="webhook")


async def _install(api_client: Any, failure_policy: str | None) -> None:
    await client.ApiextensionsV1Api(api_client).create_custom_resource_definition(body=build_crd())
    core = client.CoreV1Api(api_client)
    await core.create_namespace(body={"metadata": {"name": SETTINGS.namespace}})
    admission = client.AdmissionregistrationV1Api(api_client)
    for resource in webhook_resources(SETTINGS):
        obj = copy.deepcopy(resource)
        for hook in obj.get("webhooks", []):
            hook.pop("failurePolicy")
            if failure_policy is not None:
                hook["failurePolicy"] = failure_policy
        if obj["kind"] == "Service":
            await core.create_namespaced_service(namespace=SETTINGS.namespace, body=obj)
        elif obj["kind"] == "MutatingWebhookConfiguration":
            await admission.create_mutating_webhook_configuration(body=obj)
        else:
            await admission.create_validating_webhook_configuration(body=obj)


@pytest.mark.parametrize(("failure_policy", "admitted"), [(None, False), ("Fail", False), ("Ignore", True)])
async def test_an_unreachable_webhook_fails_closed_unless_the_policy_is_ignore(
    api_client: Any, failure_policy: str | None, admitted: bool
) -> None:
    await _install(api_client, failure_policy)
    custom = client.CustomObjectsApi(api_client)
    create = custom.create_namespaced_custom_object("ray.io", "v1", "default", "rayclusters", probe_raycluster())
    if admitted:
        created = await create
        assert created["metadata"]["name"] == probe_raycluster()["metadata"]["name"]
        return
    with pytest.raises(ApiException) as refused:
        await create
    assert refused.value.status == 500, refused.value.body
    assert "failed calling webhook" in str(refused.value.body)
