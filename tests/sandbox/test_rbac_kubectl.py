"""RBAC through the real kubectl: ``auth can-i --as``, a ServiceAccount-token kubeconfig, ``create token``.

What a user does to debug an operator's permissions must give the answers a real cluster gives:
``no`` before the binding, ``yes`` after, and kubectl's ``Error from server (Forbidden)`` line with
kube-apiserver's message when the token lacks a rule.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl

SA = "system:serviceaccount:ray-system:ray-operator"

RBAC = """
apiVersion: v1
kind: Namespace
metadata: {name: ray-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ray-operator, namespace: ray-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-reader}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
"""

BINDING = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: ray-operator, namespace: ray-system}
"""


async def test_can_i_as_a_service_account_follows_its_bindings(kubectl: Kubectl) -> None:
    assert (await kubectl("apply", "-f", "-", input=RBAC)).returncode == 0
    before = await kubectl("auth", "can-i", "list", "pods", "-n", "default", f"--as={SA}")
    assert before.stdout.strip() == "no" and before.returncode == 1
    assert (await kubectl("apply", "-f", "-", input=BINDING)).returncode == 0
    after = await kubectl("auth", "can-i", "list", "pods", "-n", "default", f"--as={SA}")
    assert after.stdout.strip() == "yes", after.stderr
    elsewhere = await kubectl("auth", "can-i", "list", "pods", "-n", "kube-system", f"--as={SA}")
    assert elsewhere.stdout.strip() == "no"
    delete = await kubectl("auth", "can-i", "delete", "pods", "-n", "default", f"--as={SA}")
    assert delete.stdout.strip() == "no"
    listing = await kubectl("auth", "can-i", "--list", "-n", "default", f"--as={SA}")
    assert listing.returncode == 0 and "pods" in listing.stdout and "[get list watch]" in listing.stdout
    # A non-resource URL: the operator's ServiceAccount may not read /metrics, the admin may.
    metrics = await kubectl("auth", "can-i", "get", "/metrics", f"--as={SA}")
    assert metrics.stdout.strip() == "no"
    assert (await kubectl("auth", "can-i", "get", "/metrics")).stdout.strip() == "yes"
    # The admin is still allowed everything.
    assert (await kubectl("auth", "can-i", "'*'", "'*'")).stdout.strip() == "yes"


async def test_a_service_account_token_kubeconfig_is_denied_with_kube_apiservers_message(
    kubectl: Kubectl, sandbox: Sandbox, tmp_path: Path
) -> None:
    assert (await kubectl("apply", "-f", "-", input=RBAC)).returncode == 0
    token = await kubectl("create", "token", "ray-operator", "-n", "ray-system", "--duration=1h")
    assert token.returncode == 0, token.stderr
    config = sandbox.kubeconfig()
    config["users"][0]["user"]["token"] = token.stdout.strip()
    path = tmp_path / "operator.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    operator = Kubectl(kubeconfig=path, cache_dir=tmp_path / "operator-cache")
    who = await operator("auth", "whoami")
    assert who.returncode == 0 and SA in who.stdout
    denied = await operator("get", "pods", "-n", "default")
    assert denied.returncode == 1
    assert (
        f'Error from server (Forbidden): pods is forbidden: User "{SA}" cannot list resource "pods" in API group "" '
        'in the namespace "default"'
    ) in denied.stderr
    assert (await kubectl("apply", "-f", "-", input=BINDING)).returncode == 0
    allowed = await operator("get", "pods", "-n", "default")
    assert allowed.returncode == 0, allowed.stderr
    cannot_delete = await operator("delete", "pod", "x", "-n", "default")
    assert 'pods "x" is forbidden: User' in cannot_delete.stderr and "cannot delete resource" in cannot_delete.stderr
