"""Ray token authentication: the generated token Secret and where its env vars go (reference §2.16).

Why: with ``authOptions.mode: token`` every Ray endpoint requires a bearer token, so each process
that talks to Ray — the Ray container, the worker's ``wait-gcs-ready`` init container and the
autoscaler sidecar — needs ``RAY_AUTH_MODE=token`` and the token. The token comes from, in order:

* Kubernetes ServiceAccount tokens when ``enableK8sTokenAuth`` is true: ``RAY_ENABLE_K8S_TOKEN_AUTH=true``
  plus a projected token volume ``ray-token`` mounted read-only at ``/var/run/secrets/ray.io/serviceaccount``;
  no Secret;
* the user's Secret ``authOptions.secretName`` (key ``auth_token``);
* otherwise a Secret the operator creates, named after the cluster (``check_name``), labelled
  ``ray.io/cluster``, owned by the cluster, with ``auth_token`` = base64 of 32 random bytes. The
  bytes are an argument (builders have no randomness); the reconciler creates it once and never
  rewrites it, since running pods hold the token.

Env vars are added only where the container does not set them already.

Differs from KubeRay on purpose (§7.9 "auth mode default"): KubeRay creates the Secret whenever
``authOptions`` is present and ``mode`` is not exactly ``disabled`` — including an empty mode, for
which it injects no env vars at all. Here the Secret exists exactly when the pods use it
(``mode: token`` without ``secretName`` or Kubernetes token auth), so an unset mode creates nothing.
"""

from __future__ import annotations

import base64
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders import envs
from ray_operator.builders.names import check_name, cluster_ref, owner_reference

__all__ = [
    "AUTH_TOKEN_BYTES",
    "apply_auth",
    "auth_enabled",
    "auth_secret_name",
    "build_auth_secret",
    "k8s_token_auth_enabled",
    "ray_token_volume",
]

AUTH_TOKEN_BYTES = 32
"""Length of the random token the caller passes to ``build_auth_secret``."""


def auth_enabled(cluster: RayCluster) -> bool:
    options = cluster.spec.auth_options
    return options is not None and options.mode == "token"


def k8s_token_auth_enabled(cluster: RayCluster) -> bool:
    options = cluster.spec.auth_options
    return auth_enabled(cluster) and options is not None and options.enable_k8s_token_auth is True


def auth_secret_name(cluster: RayCluster) -> str:
    """The Secret holding ``auth_token``: ``authOptions.secretName``, else the generated ``<cluster>``."""
    options = cluster.spec.auth_options
    if options is not None and options.secret_name:
        return options.secret_name
    return check_name(cluster_ref(cluster).name)


def build_auth_secret(*, cluster: RayCluster, token_bytes: bytes) -> dict[str, Any] | None:
    """The token Secret the operator must create, or None when the cluster needs none (see the module docstring)."""
    options = cluster.spec.auth_options
    if not auth_enabled(cluster) or k8s_token_auth_enabled(cluster) or (options is not None and options.secret_name):
        return None
    if len(token_bytes) != AUTH_TOKEN_BYTES:
        raise ValueError(f"the auth token must be {AUTH_TOKEN_BYTES} random bytes, got {len(token_bytes)}")
    ref = cluster_ref(cluster)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": auth_secret_name(cluster),
            "namespace": ref.namespace,
            "labels": {c.RAY_CLUSTER_LABEL: ref.name},
            "ownerReferences": [owner_reference(ref)],
        },
        "type": "Opaque",
        # The token is the base64 text itself (what Ray compares), stored as stringData like KubeRay does.
        "stringData": {c.AUTH_TOKEN_SECRET_KEY: base64.b64encode(token_bytes).decode("ascii")},
    }


def ray_token_volume() -> dict[str, Any]:
    """The projected ServiceAccount token volume Kubernetes token auth mounts into Ray containers."""
    return {
        "name": c.RAY_TOKEN_VOLUME_NAME,
        "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
    }


def apply_auth(container: dict[str, Any], *, cluster: RayCluster) -> None:
    """Add the auth env vars (and the token mount for Kubernetes token auth) to one container, if unset."""
    if not auth_enabled(cluster):
        return
    envs.add_if_unset(container, envs.value(c.ENV_RAY_AUTH_MODE, "token"))
    if k8s_token_auth_enabled(cluster):
        envs.add_if_unset(container, envs.value(c.ENV_RAY_ENABLE_K8S_TOKEN_AUTH, "true"))
        mounts = container.setdefault("volumeMounts", [])
        if not any(isinstance(m, dict) and m.get("name") == c.RAY_TOKEN_VOLUME_NAME for m in mounts):
            mounts.append({"name": c.RAY_TOKEN_VOLUME_NAME, "mountPath": c.RAY_TOKEN_MOUNT_PATH, "readOnly": True})
        return
    envs.add_if_unset(
        container,
        {
            "name": c.ENV_RAY_AUTH_TOKEN,
            "valueFrom": {"secretKeyRef": {"name": auth_secret_name(cluster), "key": c.AUTH_TOKEN_SECRET_KEY}},
        },
    )
