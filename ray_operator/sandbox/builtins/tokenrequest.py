"""``POST .../serviceaccounts/<name>/token``: TokenRequest, the only way a ServiceAccount token is made here.

As kube-apiserver: the ServiceAccount must exist (404 otherwise); ``spec.expirationSeconds`` defaults
to 3600 and may not be under 600 (422); ``spec.audiences`` defaults to the API server's; a
``spec.boundObjectRef`` names a Pod or a Secret of the same namespace, which must exist (404) with
the given uid (409), and the token dies with it. The answer is the TokenRequest with
``status.token`` and ``status.expirationTimestamp``, 201 Created.
Decided against: binding to Nodes (1.32 alpha) and ``--service-account-max-token-expiration``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.auth.tokens import API_AUDIENCES, DEFAULT_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS
from ray_operator.sandbox.engine.context import format_time

if TYPE_CHECKING:
    from ray_operator.sandbox.auth.gate import AuthGate

_BOUND = {"Pod": ("", "pods"), "Secret": ("", "secrets")}


def _invalid(field: str, value: Any, detail: str) -> errors.ApiError:
    message = f"Invalid value: {value}: {detail}" if isinstance(value, int) else f'Invalid value: "{value}": {detail}'
    cause = errors.Cause(reason="FieldValueInvalid", message=message, field=field)
    return errors.invalid("TokenRequest", "authentication.k8s.io", "", [cause])


def token_request(gate: AuthGate, namespace: str, name: str, body: Any, now: datetime) -> dict[str, Any]:
    """Issue a token for ServiceAccount ``namespace/name`` as ``body`` (a TokenRequest) asks."""
    sa = gate.store.get(("", "serviceaccounts"), namespace, name)
    if sa is None:
        raise errors.not_found("serviceaccounts", "", name)
    spec: dict[str, Any] = body["spec"] if isinstance(body, dict) and isinstance(body.get("spec"), dict) else {}
    seconds = spec.get("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise errors.bad_request("TokenRequest.spec.expirationSeconds must be an integer")
    if seconds < MIN_EXPIRATION_SECONDS:
        raise _invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")
    audiences = tuple(str(a) for a in spec.get("audiences") or ()) or API_AUDIENCES
    bound: dict[str, Any] | None = None
    ref = spec.get("boundObjectRef")
    if isinstance(ref, dict) and ref:
        kind = str(ref.get("kind", ""))
        if kind not in _BOUND:
            raise _invalid("spec.boundObjectRef.kind", kind, 'supported values: "Pod", "Secret"')
        obj = gate.store.get(_BOUND[kind], namespace, str(ref.get("name", "")))
        if obj is None:
            raise errors.not_found(_BOUND[kind][1], "", str(ref.get("name", "")))
        uid = str(obj["metadata"].get("uid", ""))
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(
                _BOUND[kind][1],
                "",
                str(ref.get("name", "")),
                f"the UID in the bound object reference ({ref['uid']}) does not match the UID in record. "
                "The object might have been deleted and then recreated",
            )
        bound = {"kind": kind, "name": ref.get("name", ""), "uid": uid}
        if kind == "Pod" and (obj.get("spec") or {}).get("nodeName"):
            node = gate.store.get(("", "nodes"), "", obj["spec"]["nodeName"])
            bound["node_name"] = obj["spec"]["nodeName"]
            bound["node_uid"] = ((node or {}).get("metadata") or {}).get("uid", "")
    token, expires = gate.issuer.issue(
        namespace=namespace,
        name=name,
        uid=str(sa["metadata"].get("uid", "")),
        now=now,
        expiration_seconds=seconds,
        audiences=audiences,
        bound=bound,
    )
    out_spec = {"audiences": list(audiences), "expirationSeconds": seconds, "boundObjectRef": ref or None}
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": out_spec,
        "status": {"token": token, "expirationTimestamp": format_time(expires)},
    }
