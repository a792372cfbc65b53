"""RBAC in the emulator: ServiceAccount tokens authenticate, Roles and bindings authorize, as kube-apiserver.

Driven over HTTPS with raw requests so the exact Status bodies (401 Unauthorized, 403 Forbidden with
upstream's message and details) are what is asserted; the review kinds are checked against the same
state. ``kubectl`` on top of this is in ``test_rbac_kubectl.py``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ray_operator.sandbox.auth.rbac import Attributes, StaticPolicy, authorize
from ray_operator.sandbox.server import Sandbox

RBAC = "/apis/rbac.authorization.k8s.io/v1"
SA = "system:serviceaccount:ray-system:ray-operator"


class Client:
    def __init__(self, sandbox: Sandbox, token: str | None) -> None:
        self.sandbox = sandbox
        self.token = token

    async def call(self, method: str, path: str, body: Any = None, **query: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}
        if method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                self.sandbox.url + path,
                json=body,
                params=query,
                headers=headers,
                ssl=self.sandbox.client_ssl_context(),
            ) as resp,
        ):
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def admin(sandbox: Sandbox) -> Client:
    client = Client(sandbox, sandbox.token)
    status, _ = await client.call(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ray-system"}}
    )
    assert status == 201
    status, _ = await client.call(
        "POST",
        "/api/v1/namespaces/ray-system/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ray-operator"}},
    )
    assert status == 201
    return client


async def operator_client(admin: Client, **spec: Any) -> Client:
    status, issued = await admin.call(
        "POST", "/api/v1/namespaces/ray-system/serviceaccounts/ray-operator/token", {"spec": spec}
    )
    assert status == 201, issued
    assert issued["kind"] == "TokenRequest" and issued["status"]["expirationTimestamp"]
    return Client(admin.sandbox, issued["status"]["token"])


async def grant(admin: Client, namespace: str | None, rules: list[dict[str, Any]], name: str = "r") -> None:
    """A Role (or ClusterRole when ``namespace`` is None) with ``rules``, bound to the operator's ServiceAccount."""
    subject = {"kind": "ServiceAccount", "name": "ray-operator", "namespace": "ray-system"}
    if namespace is None:
        role_path, binding_path, kind, meta = f"{RBAC}/clusterroles", f"{RBAC}/clusterrolebindings", "ClusterRole", {}
        binding_kind = "ClusterRoleBinding"
    else:
        role_path = f"{RBAC}/namespaces/{namespace}/roles"
        binding_path = f"{RBAC}/namespaces/{namespace}/rolebindings"
        kind, binding_kind, meta = "Role", "RoleBinding", {"namespace": namespace}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": name, **meta}}
    status, body = await admin.call("POST", role_path, {**role, "rules": rules})
    assert status == 201, body
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": binding_kind,
        "metadata": {"name": name, **meta},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [subject],
    }
    status, body = await admin.call("POST", binding_path, binding)
    assert status == 201, body


async def test_a_service_account_without_rules_is_forbidden_with_kube_apiservers_status(admin: Client) -> None:
    operator = await operator_client(admin)
    status, body = await operator.call("GET", "/api/v1/namespaces/default/pods")
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'pods is forbidden: User "{SA}" cannot list resource "pods" in API group "" in the namespace '
        '"default"',
        "reason": "Forbidden",
        "details": {"kind": "pods"},
        "code": 403,
    }
    status, body = await operator.call("GET", "/apis/ray.io/v1/rayclusters")
    assert status == 403 and body["message"] == (
        f'rayclusters.ray.io is forbidden: User "{SA}" cannot list resource "rayclusters" in API group "ray.io" '
        "at the cluster scope"
    )
    status, body = await operator.call("DELETE", "/api/v1/namespaces/default/pods/p1")
    assert status == 403 and body["details"] == {"name": "p1", "kind": "pods"}
    assert body["message"].startswith('pods "p1" is forbidden: User ')
    # Discovery and the health paths come from the bootstrap policy every cluster has.
    assert (await operator.call("GET", "/api"))[0] == 200
    assert (await operator.call("GET", "/openapi/v3"))[0] == 200
    status, body = await operator.call("GET", "/metrics")
    assert status == 403 and body["message"] == f'forbidden: User "{SA}" cannot get path "/metrics"'


async def test_role_binding_grants_only_in_its_namespace_and_the_verbs_it_names(admin: Client) -> None:
    operator = await operator_client(admin)
    await grant(admin, "default", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}])
    assert (await operator.call("GET", "/api/v1/namespaces/default/pods"))[0] == 200
    assert (await operator.call("GET", "/api/v1/namespaces/default/pods", watch="true", timeoutSeconds="1"))[0] == 200
    status, body = await operator.call("GET", "/api/v1/namespaces/kube-system/pods")
    assert status == 403 and 'in the namespace "kube-system"' in body["message"]
    assert (await operator.call("GET", "/api/v1/pods"))[0] == 403  # all namespaces needs a ClusterRoleBinding
    status, body = await operator.call("DELETE", "/api/v1/namespaces/default/pods")
    assert status == 403 and "cannot deletecollection resource" in body["message"]


async def test_subresources_resource_names_and_wildcards(admin: Client) -> None:
    operator = await operator_client(admin)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    for name in ("a", "b"):
        assert (await admin.call("POST", "/api/v1/namespaces/default/configmaps", {**cm, "metadata": {"name": name}}))[
            0
        ] == 201
    await grant(
        admin,
        "default",
        [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
        ],
    )
    assert (await operator.call("GET", "/api/v1/namespaces/default/configmaps/a"))[0] == 200
    status, body = await operator.call("GET", "/api/v1/namespaces/default/configmaps/b")
    assert status == 403 and body["message"].startswith('configmaps "b" is forbidden')
    assert (await operator.call("GET", "/api/v1/namespaces/default/configmaps"))[0] == 403
    # resourceNames can allow a list or watch of one object through its fieldSelector, as upstream.
    assert (await operator.call("GET", "/api/v1/namespaces/default/configmaps", fieldSelector="metadata.name=a"))[
        0
    ] == 200
    assert (await operator.call("GET", "/api/v1/namespaces/default/pods/x/status"))[0] == 404  # allowed by */status
    assert (await operator.call("GET", "/api/v1/namespaces/default/pods/x"))[0] == 403


async def test_cluster_role_binding_and_non_resource_urls(admin: Client) -> None:
    operator = await operator_client(admin)
    await grant(
        admin,
        None,
        [
            {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["list"]},
            {"nonResourceURLs": ["/metrics", "/logs/*"], "verbs": ["get"]},
        ],
    )
    # Allowed; 404 only because the CRD is not installed in this sandbox.
    assert (await operator.call("GET", "/apis/ray.io/v1/rayclusters"))[0] == 404
    assert (await operator.call("GET", "/metrics"))[0] == 404
    assert (await operator.call("GET", "/logs/kubelet.log"))[0] == 404
    assert (await operator.call("GET", "/other"))[0] == 403


async def test_a_binding_to_a_missing_role_says_so_in_the_denial(admin: Client) -> None:
    operator = await operator_client(admin)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "dangling"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gone"},
        "subjects": [{"kind": "ServiceAccount", "name": "ray-operator", "namespace": "ray-system"}],
    }
    assert (await admin.call("POST", f"{RBAC}/namespaces/default/rolebindings", binding))[0] == 201
    status, body = await operator.call("GET", "/api/v1/namespaces/default/pods")
    assert status == 403
    assert body["message"].endswith(': RBAC: role.rbac.authorization.k8s.io "gone" not found')


async def test_bad_revoked_and_foreign_audience_tokens_are_401(admin: Client, sandbox: Sandbox) -> None:
    status, body = await Client(sandbox, "not-a-token").call("GET", "/api/v1/namespaces")
    assert (status, body["reason"], body["message"]) == (401, "Unauthorized", "Unauthorized")
    assert (await Client(sandbox, None).call("GET", "/api/v1/namespaces"))[0] == 401
    # A token for another audience (say, a vault) is not accepted by the API server.
    vault = await operator_client(admin, audiences=["vault"])
    assert (await vault.call("GET", "/api"))[0] == 401
    # Deleting and recreating the ServiceAccount revokes its old tokens (the uid differs).
    operator = await operator_client(admin)
    assert (await operator.call("GET", "/api"))[0] == 200
    assert (await admin.call("DELETE", "/api/v1/namespaces/ray-system/serviceaccounts/ray-operator"))[0] == 200
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ray-operator"}}
    assert (await admin.call("POST", "/api/v1/namespaces/ray-system/serviceaccounts", sa))[0] == 201
    assert (await operator.call("GET", "/api"))[0] == 401


async def test_token_request_validation_and_pod_bound_tokens(admin: Client) -> None:
    path = "/api/v1/namespaces/ray-system/serviceaccounts/ray-operator/token"
    status, body = await admin.call("POST", path, {"spec": {"expirationSeconds": 599}})
    assert status == 422 and "may not specify a duration less than 10 minutes" in body["message"]
    status, body = await admin.call("POST", "/api/v1/namespaces/ray-system/serviceaccounts/nobody/token", {})
    assert status == 404 and body["message"] == 'serviceaccounts "nobody" not found'
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"serviceAccountName": "ray-operator", "containers": [{"name": "c", "image": "i"}]},
    }
    status, created = await admin.call("POST", "/api/v1/namespaces/ray-system/pods", pod)
    assert status == 201
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": created["metadata"]["uid"]}
    bound = await operator_client(admin, boundObjectRef=ref)
    status, me = await bound.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {"spec": {}})
    assert status == 201
    info = me["status"]["userInfo"]
    assert info["username"] == SA
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:ray-system", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
    status, body = await admin.call("POST", path, {"spec": {"boundObjectRef": {**ref, "uid": "other"}}})
    assert status == 409 and "does not match the UID in record" in body["message"]
    assert (await admin.call("DELETE", "/api/v1/namespaces/ray-system/pods/p", gracePeriodSeconds="0"))[0] == 200
    assert (await bound.call("GET", "/api"))[0] == 401  # the token died with its pod


async def test_reviews_answer_from_the_same_state(admin: Client) -> None:
    operator = await operator_client(admin)
    await grant(admin, "default", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}], name="deleter")
    attrs = {"namespace": "default", "verb": "delete", "resource": "pods"}
    status, ssar = await operator.call(
        "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {"spec": {"resourceAttributes": attrs}}
    )
    assert status == 201 and ssar["status"]["allowed"] is True
    assert ssar["status"]["reason"] == (
        'RBAC: allowed by RoleBinding "deleter/default" of Role "deleter" to ServiceAccount "ray-operator/ray-system"'
    )
    sar_path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    groups = ["system:serviceaccounts", "system:authenticated"]
    for verb, allowed in (("delete", True), ("create", False)):
        spec = {"user": SA, "groups": groups, "resourceAttributes": {**attrs, "verb": verb}}
        status, sar = await admin.call("POST", sar_path, {"spec": spec})
        assert status == 201 and sar["status"]["allowed"] is allowed
    spec = {"user": SA, "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}
    assert (await admin.call("POST", sar_path, {"spec": spec}))[1]["status"]["allowed"] is False
    status, body = await admin.call("POST", sar_path, {"spec": {"resourceAttributes": attrs}})
    assert status == 422 and "at least one of user or group must be specified" in body["message"]
    # Only who holds "create subjectaccessreviews" may ask about others.
    status, body = await operator.call("POST", sar_path, {"spec": {"user": SA, "resourceAttributes": attrs}})
    assert status == 403 and "cannot create resource" in body["message"]
    status, review = await admin.call(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": operator.token}}
    )
    assert status == 201 and review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == SA
    assert review["status"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    status, review = await admin.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": "x"}})
    assert status == 201 and not review["status"].get("authenticated") and review["status"]["error"]
    status, rules = await operator.call(
        "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {"spec": {"namespace": "default"}}
    )
    assert status == 201
    assert {"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]} in rules["status"]["resourceRules"]


async def test_impersonation_needs_the_impersonate_verb(admin: Client, sandbox: Sandbox) -> None:
    operator = await operator_client(admin)
    headers = {"Authorization": f"Bearer {sandbox.token}", "Impersonate-User": SA}
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            sandbox.url + "/api/v1/namespaces/default/pods", headers=headers, ssl=sandbox.client_ssl_context()
        ) as resp,
    ):
        assert resp.status == 403
        assert f'User "{SA}" cannot list resource "pods"' in (await resp.json())["message"]
    headers = {"Authorization": f"Bearer {operator.token}", "Impersonate-User": "system:admin"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(sandbox.url + "/api", headers=headers, ssl=sandbox.client_ssl_context()) as resp,
    ):
        assert resp.status == 403
        assert (await resp.json())["message"] == (
            f'users "system:admin" is forbidden: User "{SA}" cannot impersonate resource "users" in API group "" '
            "at the cluster scope"
        )


async def test_the_admin_token_stays_all_powerful_and_the_request_log_records_decisions(
    admin: Client, sandbox: Sandbox
) -> None:
    # Even with every binding gone: system:masters is allowed before RBAC is asked.
    status, bindings = await admin.call("GET", f"{RBAC}/clusterrolebindings")
    assert status == 200 and "cluster-admin" in {b["metadata"]["name"] for b in bindings["items"]}
    assert (await admin.call("DELETE", f"{RBAC}/clusterrolebindings/cluster-admin"))[0] == 200
    assert (await admin.call("GET", "/api/v1/namespaces/default/pods"))[0] == 200
    operator = await operator_client(admin)
    await operator.call("GET", "/api/v1/namespaces/default/pods")
    entry = next(e for e in reversed(sandbox.control.requests) if e["path"] == "/api/v1/namespaces/default/pods")
    assert entry["user"] == SA and entry["verb"] == "list" and entry["allowed"] is False and entry["status"] == 403
    assert (entry["api_group"], entry["resource"], entry["namespace"]) == ("", "pods", "default")


def test_rule_matching_follows_upstream() -> None:
    def allowed(rules: list[dict[str, Any]], **attrs: Any) -> bool:
        role = {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": rules}
        binding = {
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "b"},
            "roleRef": {"kind": "ClusterRole", "name": "r"},
            "subjects": [{"kind": "User", "name": "u"}],
        }
        base = {"user": "u", "groups": (), "verb": "get", "resource_request": True}
        return authorize(StaticPolicy([role, binding]), Attributes(**{**base, **attrs})).allowed

    pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    assert allowed([pods], resource="pods")
    assert not allowed([pods], resource="pods", subresource="status")
    assert not allowed([pods], resource="pods", verb="list")
    assert not allowed([pods], resource="pods", api_group="apps")
    assert not allowed([{**pods, "resources": ["pods/*"]}], resource="pods", subresource="log")
    assert allowed([{**pods, "resources": ["*/status"]}], resource="pods", subresource="status")
    assert allowed([{**pods, "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], resource="x", verb="patch")
    assert allowed([{**pods, "resourceNames": ["a"]}], resource="pods", name="a")
    assert not allowed([{**pods, "resourceNames": ["a"]}], resource="pods", name="")
    url = {"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}
    assert allowed([url], resource_request=False, path="/healthz/etcd")
    assert not allowed([url], resource_request=False, path="/metrics")
    assert not allowed([url], resource_request=True, resource="healthz")


async def test_a_user_may_grant_only_what_it_holds_unless_it_may_escalate_or_bind(admin: Client) -> None:
    operator = await operator_client(admin)
    writes = {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create"]}
    await grant(admin, "default", [writes, {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "wanted"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "pods/resize"], "verbs": ["get", "patch"]}],
    }
    status, body = await operator.call("POST", f"{RBAC}/namespaces/default/roles", role)
    assert status == 403
    assert body["message"] == (
        f'roles.rbac.authorization.k8s.io "wanted" is forbidden: user "{SA}" (groups=["system:serviceaccounts" '
        '"system:serviceaccounts:ray-system" "system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["patch"]}\n'
        '{APIGroups:[""], Resources:["pods/resize"], Verbs:["get" "patch"]}'
    )
    assert body["details"] == {"name": "wanted", "group": "rbac.authorization.k8s.io", "kind": "roles"}
    held = {**role, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    assert (await operator.call("POST", f"{RBAC}/namespaces/default/roles", held))[0] == 201
    # Binding a role whose rights the user lacks needs "bind" on it; "escalate" lifts the role check.
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "someone"}],
    }
    status, body = await operator.call("POST", f"{RBAC}/namespaces/default/rolebindings", binding)
    assert status == 403 and "is attempting to grant RBAC permissions not currently held" in body["message"]
    await grant(
        admin,
        "default",
        [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]},
        ],
        name="binder",
    )
    assert (await operator.call("POST", f"{RBAC}/namespaces/default/rolebindings", binding))[0] == 201
    escalated = {**role, "metadata": {"name": "escalated"}}
    assert (await operator.call("POST", f"{RBAC}/namespaces/default/roles", escalated))[0] == 201
