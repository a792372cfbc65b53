"""Secure ``/metrics``: 401 without a valid token, 403 without ``get /metrics``, 200 with the metrics-reader role.

The operator runs confined to ``config/rbac`` (so its own TokenReview and SubjectAccessReview calls need
the ``metrics-auth-role``), and the scrapers are ServiceAccounts with TokenRequest tokens, as Prometheus
in a cluster. Answers are cached per token; an API failure is a 500 and is not remembered.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ray_operator.runtime import RuntimeState
from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.server.control import Fault
from tests.integration.rayclusters import Api

pytestmark = pytest.mark.kubelet

READER = "ray-operator-metrics-reader"


async def scrape(port: int, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"https://127.0.0.1:{port}/metrics", headers=headers, ssl=False) as resp,
    ):
        return resp.status, await resp.text()


async def scrapers(api: Api, sandbox: Sandbox) -> tuple[str, str]:
    """Tokens of two ServiceAccounts in ``monitoring``: one bound to the metrics-reader ClusterRole."""
    await api.send("POST", "/api/v1/namespaces", {"metadata": {"name": "monitoring"}})
    for name in ("prometheus", "nosy"):
        await api.send("POST", "/api/v1/namespaces/monitoring/serviceaccounts", {"metadata": {"name": name}})
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "prometheus-reads-metrics"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": READER},
        "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}],
    }
    await api.send("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
    token = sandbox.service_account_token
    return token("monitoring", "prometheus"), token("monitoring", "nosy")


def reviews(sandbox: Sandbox) -> int:
    return len(sandbox.control.request_log(path=r"(tokenreviews|subjectaccessreviews)$", method="POST"))


async def test_no_token_401_no_permission_403_metrics_reader_200(
    confined_operator: tuple[Sandbox, RuntimeState], api_client: Any
) -> None:
    sandbox, state = confined_operator
    assert state.metrics_port is not None
    port = state.metrics_port
    reader, nosy = await scrapers(Api(api_client), sandbox)
    assert (await scrape(port, None))[0] == 401
    assert await scrape(port, "not-a-token") == (401, "Unauthorized\n")
    status, text = await scrape(port, nosy)
    assert (status, text) == (403, "Authorization denied for user system:serviceaccount:monitoring:nosy\n")
    status, text = await scrape(port, reader)
    assert status == 200 and "controller_runtime_webhook_requests_total" in text
    # The reviews ran as the operator's ServiceAccount, and a repeated scrape is answered from the cache.
    made = sandbox.control.request_log(path=r"(tokenreviews|subjectaccessreviews)$", method="POST")
    assert {e["user"] for e in made} == {"system:serviceaccount:ray-system:ray-operator-controller-manager"}
    assert {e["status"] for e in made} == {201}
    before = reviews(sandbox)
    assert (await scrape(port, reader))[0] == 200
    assert (await scrape(port, nosy))[0] == 403
    assert reviews(sandbox) == before


async def test_an_api_failure_is_a_500_and_is_asked_again(
    confined_operator: tuple[Sandbox, RuntimeState], api_client: Any
) -> None:
    sandbox, state = confined_operator
    assert state.metrics_port is not None
    reader, _ = await scrapers(Api(api_client), sandbox)
    sandbox.control.faults.append(Fault(method="POST", path="subjectaccessreviews$", status=503))
    status, text = await scrape(state.metrics_port, reader)
    assert status == 500 and text.startswith("Authorization error (user=system:serviceaccount:monitoring:prometheus")
    assert (await scrape(state.metrics_port, reader))[0] == 200
