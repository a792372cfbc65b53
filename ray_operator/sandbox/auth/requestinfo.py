"""A request's RBAC attributes, after kube-apiserver's ``RequestInfoFactory``.

The HTTP layer has already split a path into group, version, namespace, resource, name and
subresource (``server.handlers.parse_resource_path``); this module turns that and the method into the
verb RBAC checks: GET is ``get`` with a name, ``list`` without, ``watch`` with ``?watch=true``; POST
``create``; PUT ``update``; PATCH ``patch``; DELETE ``delete``, or ``deletecollection`` without a name.
A list or watch with ``fieldSelector=metadata.name=x`` is a request for ``x`` (so resourceNames rules
can allow watching one object). Anything else (``/api``, ``/apis/g/v``, ``/openapi/v3``, ``/metrics``)
is a non-resource request whose verb is the lower-cased method.
Decided against: re-parsing paths here (one parser, the router's, decides what a path names).
"""

from __future__ import annotations

from typing import Any, Protocol

from ray_operator.sandbox.auth.rbac import Attributes

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_TRUE = ("1", "t", "T", "TRUE", "true", "True")


class ParsedPath(Protocol):
    """The router's parse of a resource path (``server.handlers.ResourcePath``)."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def resource(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def sub(self) -> str: ...


def _name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        key, sep, value = term.partition("=")  # ``metadata.name=x`` or ``==x``; ``!=`` leaves a ``!`` in key
        if sep and key.strip() == "metadata.name":
            return value.lstrip("=").strip()
    return ""


def request_attributes(
    *, user: dict[str, Any], method: str, path: str, query: Any, parsed: ParsedPath | None
) -> Attributes:
    """The RBAC attributes of one request; ``parsed`` is None for a non-resource path."""
    username = str(user.get("username", ""))
    groups = tuple(str(g) for g in user.get("groups") or ())
    method = method.upper()
    if parsed is None:
        return Attributes(user=username, groups=groups, verb=method.lower(), resource_request=False, path=path)
    name = parsed.name or ""
    if method in ("GET", "HEAD"):
        if name:
            verb = "get"
        else:
            verb = "watch" if str(query.get("watch", "")) in _TRUE else "list"
            name = _name_from_field_selector(str(query.get("fieldSelector", "")))
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    namespace = parsed.namespace or ""
    if parsed.group == "" and parsed.resource == "namespaces" and name:
        namespace = name  # upstream: a Namespace is a request "in" itself (RoleBindings there apply)
    return Attributes(
        user=username,
        groups=groups,
        verb=verb,
        resource_request=True,
        api_group=parsed.group,
        api_version=parsed.version,
        resource=parsed.resource,
        subresource=parsed.sub,
        namespace=namespace,
        name=name,
        path=path,
    )
