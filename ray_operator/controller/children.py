"""Every child of a RayCluster except its pods: autoscaler RBAC, Ingress, auth Secret and the Services.

Run in KubeRay's order (reference §2.1): ServiceAccount, Role, RoleBinding, Ingress, auth Secret, head
Service, headless worker Service, serve Service. The first failure stops the chain (``StepFailed``), so
pods are never created before the Service their workers need.

Each child is made declarative, where KubeRay creates most of them once and never looks again (§7.3):

* a missing child is created (and a deleted one comes back on the next event);
* a child that drifted from the spec is patched with the minimal merge patch the builders compute
  (Services: ports, annotations, labels, selector, type; Ingress: its spec and annotations; Role: its
  rules; RoleBinding: its subjects) — or deleted and recreated when a field is immutable (a Service
  switching between headless and ClusterIP, a RoleBinding's ``roleRef``);
* a child the spec no longer asks for (the Ingress after ``enableIngress: false``, the serve Service
  after its annotation is removed, a head Service renamed through ``headService``) is deleted;
* an object of the same name that this RayCluster does **not** control is never touched: a Warning
  event says so and the chain stops, as KubeRay does for an Ingress.

The auth Secret and the ServiceAccount are create-only: their content is not derived from the spec in
a way that can drift (a token must never be regenerated under running pods).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.builders import auth, autoscaler, ingress, services
from ray_operator.builders.auth import AUTH_TOKEN_BYTES
from ray_operator.builders.names import owned_by
from ray_operator.controller.context import ClusterPass, StepFailed
from ray_operator.controller.kinds import INGRESSES, ROLE_BINDINGS, ROLES, SECRETS, SERVICE_ACCOUNTS, SERVICES
from ray_operator.kube.cache import Cache
from ray_operator.kube.client import ApiError
from ray_operator.kube.reflector import Resource

__all__ = ["reconcile_children"]

Patcher = Callable[[Mapping[str, Any], Mapping[str, Any]], "dict[str, Any] | None"]
Recreate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]

E = c.EventReason
A = c.EventAction


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


async def _ensure(
    p: ClusterPass,
    *,
    cache: Cache,
    resource: Resource,
    kind: str,
    desired: Mapping[str, Any],
    created: str,
    failed: str,
    updated: str | None = None,
    update_failed: str | None = None,
    deleted: str | None = None,
    patcher: Patcher | None = None,
    recreate: Recreate | None = None,
) -> Mapping[str, Any] | None:
    """Create ``desired`` if missing, repair it if it drifted; returns the live object (None while being replaced)."""
    writer, name = p.deps.writer, _name(desired)
    what = f"{kind} {p.namespace}/{name}"
    live: Mapping[str, Any] | None = cache.get(p.namespace, name)
    if live is None:
        try:
            made = await writer.create(resource, p.namespace, desired)
        except ApiError as exc:
            if exc.code != 409:
                p.warning(failed, A.CREATE, f"Failed to create {what}: {exc.message or exc}")
                raise StepFailed(f"failed to create {what}: {exc}") from exc
            # It exists but the cache does not hold it: not ours (filtered out), or the cache lags.
            live = await writer.get(resource, p.namespace, name)
            if live is None:
                p.requeue(p.deps.config.short_requeue_seconds)
                return None
        else:
            p.normal(created, A.CREATE, f"Created {what}")
            return made
    if not owned_by(live, p.ref):
        message = f"{what} already exists and is not controlled by this RayCluster; it is left alone"
        p.warning(failed, A.CREATE, message)
        raise StepFailed(message)
    if recreate is not None and recreate(live, desired):
        # An immutable field changed: delete now, create on the next pass once the cache saw the delete.
        await _delete(p, resource=resource, kind=kind, obj=live, reason=deleted, why="an immutable field changed")
        p.requeue(p.deps.config.short_requeue_seconds)
        return None
    patch = patcher(live, desired) if patcher is not None else None
    if patch:
        try:
            live = await writer.merge_patch(resource, p.namespace, name, patch)
        except ApiError as exc:
            p.warning(update_failed or failed, A.UPDATE, f"Failed to update {what}: {exc.message or exc}")
            raise StepFailed(f"failed to update {what}: {exc}") from exc
        if updated:
            p.normal(updated, A.UPDATE, f"Updated {what} to match the RayCluster spec")
    return live


async def _delete(
    p: ClusterPass, *, resource: Resource, kind: str, obj: Mapping[str, Any], reason: str | None, why: str
) -> None:
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    try:
        gone = await p.deps.writer.delete(resource, p.namespace, name, uid=meta.get("uid"))
    except ApiError as exc:
        raise StepFailed(f"failed to delete {kind} {p.namespace}/{name}: {exc}") from exc
    if gone and reason is not None:
        p.normal(reason, A.DELETE, f"Deleted {kind} {p.namespace}/{name}: {why}")


async def _remove_unwanted(
    p: ClusterPass, *, cache: Cache, resource: Resource, kind: str, reason: str, wanted: set[str], why: str
) -> None:
    """Delete the objects of ``cache`` this RayCluster controls whose names the spec no longer asks for."""
    for obj in p.owned(cache):
        if _name(obj) not in wanted and not (obj.get("metadata") or {}).get("deletionTimestamp"):
            await _delete(p, resource=resource, kind=kind, obj=obj, reason=reason, why=why)


def _rules_patch(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    return None if live.get("rules") == desired.get("rules") else {"rules": desired.get("rules")}


def _subjects_patch(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    return None if live.get("subjects") == desired.get("subjects") else {"subjects": desired.get("subjects")}


def _role_ref_changed(live: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return live.get("roleRef") != desired.get("roleRef")


def _service_patch(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    return services.service_merge_patch(live=live, desired=desired)


def _service_recreate(live: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return services.service_needs_recreate(live=live, desired=desired)


def _ingress_patch(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    return ingress.ingress_merge_patch(live=live, desired=desired)


async def _autoscaler_rbac(p: ClusterPass) -> None:
    cluster, caches = p.cluster, p.deps.caches
    if not autoscaler.autoscaling_enabled(cluster):
        return
    user_account = autoscaler.user_provided_service_account(cluster)
    if user_account is not None:
        # KubeRay's rule (PR #1128): a ServiceAccount the user named is theirs to create.
        if await p.deps.writer.get(SERVICE_ACCOUNTS, p.namespace, user_account) is None:
            message = (
                f"ServiceAccount {p.namespace}/{user_account} named by the head pod template does not exist; "
                "create it, or remove serviceAccountName so the operator creates one for the autoscaler"
            )
            p.warning(E.AUTOSCALER_SERVICE_ACCOUNT_NOT_FOUND, A.CREATE, message)
            raise StepFailed(message)
    else:
        account = autoscaler.build_autoscaler_service_account(cluster)
        assert account is not None
        await _ensure(
            p,
            cache=caches.service_accounts,
            resource=SERVICE_ACCOUNTS,
            kind="ServiceAccount",
            desired=account,
            created=E.CREATED_SERVICE_ACCOUNT,
            failed=E.FAILED_TO_CREATE_SERVICE_ACCOUNT,
        )
    role = autoscaler.build_autoscaler_role(cluster)
    binding = autoscaler.build_autoscaler_role_binding(cluster)
    assert role is not None and binding is not None
    await _ensure(
        p,
        cache=caches.roles,
        resource=ROLES,
        kind="Role",
        desired=role,
        created=E.CREATED_ROLE,
        failed=E.FAILED_TO_CREATE_ROLE,
        updated=E.UPDATED_ROLE,
        update_failed=E.FAILED_TO_UPDATE_RBAC,
        patcher=_rules_patch,
    )
    await _ensure(
        p,
        cache=caches.role_bindings,
        resource=ROLE_BINDINGS,
        kind="RoleBinding",
        desired=binding,
        created=E.CREATED_ROLE_BINDING,
        failed=E.FAILED_TO_CREATE_ROLE_BINDING,
        updated=E.UPDATED_ROLE_BINDING,
        update_failed=E.FAILED_TO_UPDATE_RBAC,
        deleted=E.DELETED_ROLE_BINDING,
        patcher=_subjects_patch,
        recreate=_role_ref_changed,
    )


async def _dashboard_ingress(p: ClusterPass) -> None:
    desired = ingress.build_head_ingress(p.cluster)
    caches = p.deps.caches
    wanted = {_name(desired)} if desired is not None else set()
    await _remove_unwanted(
        p,
        cache=caches.ingresses,
        resource=INGRESSES,
        kind="Ingress",
        reason=E.DELETED_INGRESS,
        wanted=wanted,
        why="enableIngress is not true",
    )
    if desired is not None:
        await _ensure(
            p,
            cache=caches.ingresses,
            resource=INGRESSES,
            kind="Ingress",
            desired=desired,
            created=E.CREATED_INGRESS,
            failed=E.FAILED_TO_CREATE_INGRESS,
            updated=E.UPDATED_INGRESS,
            update_failed=E.FAILED_TO_UPDATE_INGRESS,
            patcher=_ingress_patch,
        )


async def _auth_secret(p: ClusterPass) -> None:
    name = auth.auth_secret_name(p.cluster)
    if not auth.auth_enabled(p.cluster) or p.deps.caches.secrets.get(p.namespace, name) is not None:
        return  # create-only: the cheap check avoids drawing a token that would be thrown away
    secret = auth.build_auth_secret(cluster=p.cluster, token_bytes=p.deps.random_bytes(AUTH_TOKEN_BYTES))
    if secret is None:
        return  # the user brings the Secret (secretName) or Kubernetes token auth is used
    await _ensure(
        p,
        cache=p.deps.caches.secrets,
        resource=SECRETS,
        kind="Secret",
        desired=secret,
        created=E.CREATED_SECRET,
        failed=E.FAILED_TO_CREATE_SECRET,
    )


async def _services(p: ClusterPass) -> Mapping[str, Any] | None:
    """The head, headless worker and serve Services; returns the live head Service (None while missing)."""
    cluster, caches, config = p.cluster, p.deps.caches, p.deps.config
    head = services.build_head_service(cluster=cluster, config=config.build)
    headless = services.build_headless_worker_service(cluster)
    try:
        serve = services.build_serve_service(cluster)
    except ValueError as exc:
        p.warning(E.FAILED_TO_CREATE_SERVICE, A.CREATE, str(exc))
        raise StepFailed(str(exc)) from exc
    desired = [svc for svc in (head, headless, serve) if svc is not None]
    await _remove_unwanted(
        p,
        cache=caches.services,
        resource=SERVICES,
        kind="Service",
        reason=E.DELETED_SERVICE,
        wanted={_name(svc) for svc in desired},
        why="the RayCluster spec no longer asks for it",
    )
    live_head: Mapping[str, Any] | None = None
    for svc in desired:
        live = await _ensure(
            p,
            cache=caches.services,
            resource=SERVICES,
            kind="Service",
            desired=svc,
            created=E.CREATED_SERVICE,
            failed=E.FAILED_TO_CREATE_SERVICE,
            updated=E.UPDATED_SERVICE,
            update_failed=E.FAILED_TO_UPDATE_SERVICE,
            deleted=E.DELETED_SERVICE,
            patcher=_service_patch,
            recreate=_service_recreate,
        )
        if svc is head:
            live_head = live
    return live_head


async def reconcile_children(p: ClusterPass) -> Mapping[str, Any] | None:
    """Every non-pod child, in order; returns the live head Service for the status."""
    await _autoscaler_rbac(p)
    await _dashboard_ingress(p)
    await _auth_secret(p)
    return await _services(p)
