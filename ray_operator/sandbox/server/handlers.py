"""HTTP layer of the emulator: routing of Kubernetes paths, authentication, logs and faults, list and watch.

One catch-all route parses ``/api/v1/...`` and ``/apis/<g>/<v>/...`` itself, because the set of
resources changes while the server runs (CRDs) and aiohttp's router is frozen at start. Everything the
engine raises as ``ApiError`` becomes a ``Status`` body; any other exception becomes a 500 Status and is
logged, so a malformed request never takes the server down. What a response looks like for its
Accept header is ``responses``'s concern; reading bodies and write options is ``bodies``'s; discovery
documents come from ``discovery``, OpenAPI from ``schema/openapi.py``, Tables from ``tables/``.
Decided against: aiohttp routes per resource (they cannot change after start).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from ray_operator.sandbox import errors, tables
from ray_operator.sandbox.auth.gate import AuthGate
from ray_operator.sandbox.builtins import pods, reviews, tokenrequest
from ray_operator.sandbox.engine import Engine
from ray_operator.sandbox.engine.context import parse_bool
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema import openapi
from ray_operator.sandbox.server import discovery
from ray_operator.sandbox.server.bodies import (
    USER_KEY,
    WRITE_CONTEXT_KEY,
    delete_options,
    read_body,
    read_object,
    write_context,
)
from ray_operator.sandbox.server.control import PREFIX, Control, Fault
from ray_operator.sandbox.server.responses import (
    AGGREGATED,
    aggregated_version,
    error_response,
    json_response,
    partial,
    wants_partial,
    wants_table,
)
from ray_operator.sandbox.server.watch import stream_expired, stream_watch
from ray_operator.sandbox.storage.listing import ListOptions
from ray_operator.sandbox.storage.selectors import parse_field_selector, parse_label_selector

log = structlog.get_logger(__name__)

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")


@dataclass
class ServerOptions:
    require_token: bool
    tokens: dict[str, dict[str, Any]]
    """Bearer token → userInfo."""
    server_address: str = "127.0.0.1:0"
    bookmark_interval: float = 60.0
    default_watch_timeout: float = 1800.0
    openapi_cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    namespace: str | None
    resource: str
    name: str | None
    sub: str


def parse_resource_path(parts: list[str]) -> ResourcePath | None:
    """``parts`` after ``api``/``apis``; None when it is not a resource path."""
    if parts and parts[0] == "api":
        if len(parts) < 3 or parts[1] != "v1":
            return None
        group, version, rest = "", "v1", parts[2:]
    elif parts and parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    return ResourcePath(
        group, version, namespace, rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else ""
    )


class Handlers:
    def __init__(
        self,
        *,
        engine: Engine,
        control: Control,
        options: ServerOptions,
        now: Callable[[], datetime],
        gate: AuthGate | None = None,
    ) -> None:
        self.engine = engine
        self.control = control
        self.options = options
        self.now = now
        self.gate = gate
        """Authentication and RBAC (``sandbox/auth``); without one, ``options.tokens`` and no authorization."""

    # -------------------------------------------------------------------------------- middleware

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        entry = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "content_type": request.headers.get("Content-Type", ""),
            "accept": request.headers.get("Accept", ""),
            "user_agent": request.headers.get("User-Agent", ""),
            "status": 0,
        }
        control_request = request.path.startswith(PREFIX)
        if not control_request:
            self.control.requests.append(entry)
        try:
            self._authenticate(request, entry, control_request)
            if not control_request:
                fault = self.control.take_fault(request.method, request.path)
                if fault is not None:
                    response = await self._fault(request, fault)
                    if response is not None:
                        entry["status"] = response.status
                        return response
            response = await handler(request)
        except errors.ApiError as exc:
            # Upstream sends every warning recorded before the failure (admission webhooks', fieldValidation's).
            ctx = request.get(WRITE_CONTEXT_KEY)
            collected = [*(ctx.warnings if ctx is not None else ()), *getattr(exc, "warnings", ())]
            response = error_response(exc, warnings=collected)
        except web.HTTPException as exc:
            if exc.status == 404:
                response = error_response(errors.no_such_route())
            elif exc.status == 405:
                response = error_response(errors.method_not_allowed())
            else:
                raise
        except Exception as exc:  # every failure is answered as a Status; the server keeps running
            log.exception("request_failed", method=request.method, path=request.path)
            response = error_response(errors.internal(f"Internal error occurred: {exc}"))
        entry["status"] = response.status
        return response

    def _authenticate(self, request: web.Request, entry: dict[str, Any], control: bool) -> None:
        # --- sandbox/auth hook: authentication, impersonation and RBAC; the log entry records the decision.
        if self.gate is not None:
            path = request.path.rstrip("/") or "/"
            parts = [p for p in path.split("/") if p]
            checked = self.gate.check(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                parsed=parse_resource_path(parts) if parts and parts[0] in ("api", "apis") else None,
                control=control,
                record=entry,
            )
            request[USER_KEY] = checked.user
            return
        # --- end of the sandbox/auth hook
        request[USER_KEY] = dict(next(iter(self.options.tokens.values()), {"username": "system:admin"}))
        if not self.options.require_token or request.path in PUBLIC_PATHS:
            return
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        user = self.options.tokens.get(token)
        if user is None:
            raise errors.unauthorized()
        request[USER_KEY] = dict(user)

    async def _fault(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        if fault.status:
            return error_response(fault.error())
        return None

    # --------------------------------------------------------------------------------- non-resource

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/{tail:.*}", self.dispatch)]

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path == "/version":
            return json_response(VERSION_INFO)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/":
            return json_response(
                {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"]}
            )
        parts = [p for p in path.split("/") if p]
        if parts[0] == "openapi":
            return self._openapi(parts)
        if parts[0] not in ("api", "apis"):
            raise errors.no_such_route()
        if request.method != "GET" and len(parts) <= 3 and not (parts[0] == "api" and len(parts) == 3):
            raise errors.method_not_allowed()
        if parts == ["api"]:
            agg = aggregated_version(request)
            if agg:
                return json_response(
                    discovery.aggregated_discovery(self.engine.registry, core=True, version=agg),
                    content_type=AGGREGATED.format(v=agg),
                )
            return json_response(discovery.api_versions(self.options.server_address))
        if parts == ["apis"]:
            agg = aggregated_version(request)
            if agg:
                return json_response(
                    discovery.aggregated_discovery(self.engine.registry, core=False, version=agg),
                    content_type=AGGREGATED.format(v=agg),
                )
            return json_response(discovery.api_group_list(self.engine.registry))
        if parts == ["api", "v1"] or (parts[0] == "apis" and len(parts) == 3):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            doc = discovery.api_resource_list(self.engine.registry, group, version)
            if doc is None:
                raise errors.no_such_route()
            return json_response(doc)
        if parts[0] == "apis" and len(parts) == 2:
            group_doc = discovery.api_group(self.engine.registry, parts[1])
            if group_doc is None:
                raise errors.no_such_route()
            return json_response(group_doc)
        rpath = parse_resource_path(parts)
        if rpath is None:
            raise errors.no_such_route()
        return await self._resource(request, rpath)

    def _openapi(self, parts: list[str]) -> web.Response:
        if len(parts) < 2 or parts[1] != "v3":
            raise errors.no_such_route()
        generation = self.engine.registry.generation
        cache = self.options.openapi_cache
        if cache.get("generation") != generation:
            cache.clear()
            cache["generation"] = generation
        key = "/".join(parts[2:])
        if key not in cache:
            types = self.engine.registry.all()
            if not key:
                cache[key] = openapi.build_openapi_v3_root(types)
            else:
                sub = parts[2:]
                if sub[:2] == ["api", "v1"] and len(sub) == 2:
                    group, version = "", "v1"
                elif sub[:1] == ["apis"] and len(sub) == 3:
                    group, version = sub[1], sub[2]
                else:
                    raise errors.no_such_route()
                if not self.engine.registry.in_group_version(group, version):
                    raise errors.no_such_route()
                cache[key] = openapi.build_group_version_document(group, version, types)
        return json_response(cache[key])

    # ------------------------------------------------------------------------------------ resources

    def _render(
        self, request: web.Request, rt: ResourceType, objects: list[dict[str, Any]], list_meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata") or "Metadata"
        table = tables.render_table(rt, objects, include_object=include, now=self.now())
        if list_meta is not None:
            table["metadata"] = dict(list_meta)
        else:
            table["metadata"] = {
                "resourceVersion": str((objects[0].get("metadata") or {}).get("resourceVersion", "")) if objects else ""
            }
        return table

    async def _resource(self, request: web.Request, path: ResourcePath) -> web.StreamResponse:
        rt = self.engine.registry.lookup(path.group, path.version, path.resource)
        if rt is None:
            raise errors.no_such_route()
        if path.namespace is not None and not rt.namespaced:
            raise errors.no_such_route()
        if rt.extra.get("review"):
            if request.method != "POST" or path.name is not None:
                raise errors.method_not_allowed()
            body = await read_object(request)
            user = dict(request.get(USER_KEY) or {})
            return json_response(reviews.review_response(rt, body, user, self.gate, path.namespace), status=201)
        if path.sub == "token" and rt.group == "" and rt.resource == "serviceaccounts" and path.name and path.namespace:
            if request.method != "POST" or self.gate is None:
                raise errors.method_not_allowed()
            body = await read_object(request)
            issued = tokenrequest.token_request(self.gate, path.namespace, path.name, body, self.now())
            return json_response(issued, status=201)
        if path.sub == "binding" and rt.group == "" and rt.resource == "pods" and path.name and path.namespace:
            if request.method != "POST":
                raise errors.method_not_allowed()
            body = await read_object(request)
            return json_response(pods.bind(self.engine, rt, path.namespace, path.name, body), status=201)
        if path.sub and (path.sub not in rt.subresources or path.name is None):
            raise errors.no_such_route()
        namespace = path.namespace or ""
        method = request.method
        if rt.namespaced and path.name is not None and path.namespace is None:
            raise errors.no_such_route()
        if path.name is None:
            if method == "GET":
                return await self._list_or_watch(request, rt, path.namespace)
            if method == "POST":
                if rt.namespaced and path.namespace is None:
                    raise errors.method_not_allowed()
                ctx = write_context(request)
                body = await read_object(request)
                created = await self.engine.create(rt, namespace, body, ctx)
                return json_response(created, status=201, warnings=ctx.warnings)
            if method == "DELETE":
                raw = await read_body(request)
                options = delete_options(request, raw)
                ctx = write_context(request, body_options=options)
                result = await self.engine.delete_collection(
                    rt,
                    path.namespace,
                    label_selector=request.query.get("labelSelector"),
                    field_selector=request.query.get("fieldSelector"),
                    options=options,
                    ctx=ctx,
                )
                return json_response(result, warnings=ctx.warnings)
            raise errors.method_not_allowed()
        name = path.name
        if method == "GET":
            obj = self.engine.get(rt, namespace, name)
            warnings = rt.deprecation_warnings
            if wants_table(request):
                return json_response(self._render(request, rt, [obj], None), warnings=warnings)
            if wants_partial(request):
                return json_response(partial(obj), warnings=warnings)
            return json_response(obj, warnings=warnings)
        if method == "PUT":
            ctx = write_context(request)
            body = await read_object(request)
            updated = await self.engine.update(rt, namespace, name, body, ctx, sub=path.sub)
            return json_response(updated, warnings=ctx.warnings)
        if method == "PATCH":
            ctx = write_context(request)
            raw = await read_body(request)
            status, patched = await self.engine.patch(
                rt, namespace, name, raw, request.headers.get("Content-Type", ""), ctx, sub=path.sub
            )
            return json_response(patched, status=status, warnings=ctx.warnings)
        if method == "DELETE" and not path.sub:
            raw = await read_body(request)
            options = delete_options(request, raw)
            ctx = write_context(request, body_options=options)
            result = await self.engine.delete(rt, namespace, name, options, ctx)
            return json_response(result, warnings=ctx.warnings)
        raise errors.method_not_allowed()

    async def _list_or_watch(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.StreamResponse:
        query = request.query
        table = wants_table(request)
        warnings = rt.deprecation_warnings
        if parse_bool(query.get("watch")):
            return await self._watch(request, rt, namespace, table)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError as exc:
            raise errors.bad_request(f"limit: {exc}") from exc
        items, meta = self.engine.list_objects(
            rt,
            namespace,
            ListOptions(
                label_selector=query.get("labelSelector"),
                field_selector=query.get("fieldSelector"),
                limit=max(limit, 0),
                continue_token=query.get("continue"),
                resource_version=query.get("resourceVersion"),
                resource_version_match=query.get("resourceVersionMatch"),
            ),
        )
        if not table and wants_partial(request):
            return json_response(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [partial(i) for i in items],
                },
                warnings=warnings,
            )
        if table:
            # The items are already this version's views (fresh copies); converting them again would
            # read events.k8s.io fields as core ones and drop them. Rows carry apiVersion and kind.
            for item in items:
                item["apiVersion"], item["kind"] = rt.api_version, rt.kind
            return json_response(self._render(request, rt, items, meta), warnings=warnings)
        return json_response(
            {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}, warnings=warnings
        )

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, table: bool
    ) -> web.StreamResponse:
        query = request.query
        store = self.engine.store
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(
            query.get("fieldSelector"), group=rt.group, resource=rt.resource, namespaced=rt.namespaced
        )
        raw_rv = query.get("resourceVersion") or ""
        send_initial = parse_bool(query.get("sendInitialEvents"))
        since: int | None
        if raw_rv in ("", "0") or send_initial:
            since = None
        else:
            try:
                since = int(raw_rv)
            except ValueError as exc:
                raise errors.bad_request(f'resourceVersion: Invalid value: "{raw_rv}": invalid value') from exc
            if since < 0:
                raise errors.bad_request(f'resourceVersion: Invalid value: "{raw_rv}": invalid value')
            if store.too_old(since):
                return await stream_expired(request, since, store.compacted_rv + 1)
        try:
            timeout = float(query.get("timeoutSeconds") or self.options.default_watch_timeout)
        except ValueError as exc:
            raise errors.bad_request(f"timeoutSeconds: {exc}") from exc
        bookmarks = parse_bool(query.get("allowWatchBookmarks"))
        watcher = store.watch(
            gr=self.engine.gr(rt),
            namespace=namespace if rt.namespaced else None,
            labels=labels,
            fields=fields,
            since=since,
        )

        metadata_only = wants_partial(request)

        def render(obj: dict[str, Any]) -> dict[str, Any]:
            view = self.engine.view(rt, obj)
            if metadata_only and not table:
                return partial(view)
            if table:
                rendered = self._render(request, rt, [view], None)
                rendered["metadata"] = {"resourceVersion": str(view["metadata"].get("resourceVersion", ""))}
                return rendered
            return view

        def bookmark(rv: int, initial_end: bool) -> dict[str, Any]:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}

        return await stream_watch(
            request,
            store=store,
            watcher=watcher,
            render=render,
            bookmark=bookmark if (bookmarks or send_initial) else None,
            timeout=max(timeout, 0.0),
            bookmark_interval=self.options.bookmark_interval,
            initial_events_end=send_initial,
        )
