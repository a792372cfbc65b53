"""The operator's RBAC in the sandbox: ``config/rbac`` applied, and the operator run with its ServiceAccount's token.

``ray-operator sandbox`` used to hand the operator the admin kubeconfig, so a rule missing from
``config/rbac`` went unnoticed until a real cluster. Now the sandbox (whose API server enforces RBAC,
``sandbox/auth``) gets the RBAC objects ``kubectl apply -k config/default`` would create - the
ServiceAccount, ClusterRoles, Roles and their bindings, named and namespaced as ``config/default``
names them - and the operator talks to it with a TokenRequest token of that ServiceAccount.

``rbac_manifests`` reads the YAML of ``config/rbac`` and applies the two transformations
``config/default`` makes to it (``namePrefix`` and ``namespace``, including the names in ``roleRef``
and ServiceAccount ``subjects``, and the ``labels``); a test compares the result with
``kubectl kustomize config/default`` so the two cannot drift. Outside a source checkout (no
``config/`` next to the package) there is nothing to apply: the operator keeps the admin token and
the sandbox says so in its log.
Decided against: shelling out to kustomize (the package must work without kubectl) and a copy of the
rules in Python (two places to keep in step; the YAML is the one users install).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
import yaml

from ray_operator.kube.client import ApiError, request_json

log = structlog.get_logger("ray_operator.sandbox_rbac")

CONFIG = Path(__file__).resolve().parents[1] / "config"
RBAC_GROUP = "rbac.authorization.k8s.io"
_PATHS = {
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Role": (f"/apis/{RBAC_GROUP}/v1", "roles", True),
    "RoleBinding": (f"/apis/{RBAC_GROUP}/v1", "rolebindings", True),
    "ClusterRole": (f"/apis/{RBAC_GROUP}/v1", "clusterroles", False),
    "ClusterRoleBinding": (f"/apis/{RBAC_GROUP}/v1", "clusterrolebindings", False),
}
TOKEN_SECONDS = 365 * 24 * 3600
"""The operator's token lives as long as any sandbox (a kubelet would rotate it; nothing here does)."""


def _label_pairs(kustomization: dict[str, Any]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in kustomization.get("labels") or []:
        pairs.update(entry.get("pairs") or {})
    return pairs


def rbac_manifests(config: Path = CONFIG) -> list[dict[str, Any]] | None:
    """The RBAC objects of ``config/rbac`` as ``config/default`` renders them; None without a config tree."""
    rbac_dir, default_file = config / "rbac", config / "default" / "kustomization.yaml"
    if not (rbac_dir / "kustomization.yaml").is_file() or not default_file.is_file():
        return None
    rbac = yaml.safe_load((rbac_dir / "kustomization.yaml").read_text())
    default = yaml.safe_load(default_file.read_text())
    prefix = str(default.get("namePrefix") or "")
    namespace = default.get("namespace")
    labels = {**_label_pairs(rbac), **_label_pairs(default)}
    out: list[dict[str, Any]] = []
    for resource in rbac.get("resources") or []:
        for doc in yaml.safe_load_all((rbac_dir / resource).read_text()):
            if not doc:
                continue
            meta = doc.setdefault("metadata", {})
            meta["name"] = prefix + meta["name"]
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
            if namespace and _PATHS[doc["kind"]][2]:
                meta["namespace"] = namespace
            if "roleRef" in doc:
                doc["roleRef"]["name"] = prefix + doc["roleRef"]["name"]
            for subject in doc.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount":
                    subject["name"] = prefix + subject["name"]
                    if namespace:
                        subject["namespace"] = namespace
            out.append(doc)
    return out


def service_account_of(objects: list[dict[str, Any]]) -> tuple[str, str]:
    """``(namespace, name)`` of the one ServiceAccount among ``objects`` (the operator's identity)."""
    accounts = [o["metadata"] for o in objects if o.get("kind") == "ServiceAccount"]
    if len(accounts) != 1:
        raise ValueError(f"config/rbac must define exactly one ServiceAccount, found {len(accounts)}")
    return str(accounts[0].get("namespace", "default")), str(accounts[0]["name"])


def _collection(obj: dict[str, Any]) -> str:
    base, plural, namespaced = _PATHS[obj["kind"]]
    if namespaced:
        return f"{base}/namespaces/{obj['metadata'].get('namespace', 'default')}/{plural}"
    return f"{base}/{plural}"


async def apply_rbac(api_client: Any, objects: list[dict[str, Any]]) -> None:
    """Create (or replace) every object, as ``kubectl apply`` would on a fresh cluster; an admin client."""
    for obj in objects:
        collection = _collection(obj)
        try:
            await request_json(api_client, "POST", collection, body=obj, timeout=10)
        except ApiError as exc:
            if exc.code != 409:
                raise
            path = f"{collection}/{obj['metadata']['name']}"
            current = (await request_json(api_client, "GET", path, timeout=10)).body
            version = current["metadata"]["resourceVersion"]
            replaced = {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}
            await request_json(api_client, "PUT", path, body=replaced, timeout=10)


async def service_account_token(api_client: Any, namespace: str, name: str) -> str:
    """A TokenRequest token for ``namespace/name`` (``kubectl create token``), asked with an admin client."""
    spec = {"expirationSeconds": TOKEN_SECONDS}
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
    issued = (await request_json(api_client, "POST", path, body=body, timeout=10)).body
    return str(issued["status"]["token"])


async def operator_kubeconfig(
    sandbox: Any, api_client: Any, path: Path, *, objects: list[dict[str, Any]] | None = None
) -> Path:
    """Apply the operator's RBAC and write a kubeconfig with its ServiceAccount token to ``path``.

    ``objects`` replaces ``rbac_manifests()`` (tests remove a rule this way). Without a config tree the
    admin kubeconfig is written instead, and a warning says the operator is not confined.
    """
    manifests = objects if objects is not None else rbac_manifests()
    if manifests is None:
        log.warning("sandbox_rbac_missing", reason=f"no config/rbac under {CONFIG}; the operator runs as the admin")
        written: Path = sandbox.write_kubeconfig(path)
        return written
    await apply_rbac(api_client, manifests)
    namespace, name = service_account_of(manifests)
    token = await service_account_token(api_client, namespace, name)
    log.info("sandbox_rbac_applied", service_account=f"{namespace}/{name}", objects=len(manifests))
    written = sandbox.write_kubeconfig(path, token=token)
    return written
