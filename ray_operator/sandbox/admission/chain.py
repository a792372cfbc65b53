"""``AdmissionChain``: calls the mutating, then the validating webhooks of a request, as kube-apiserver does.

It enforces each webhook's timeout, failure policy and the dry-run side-effect rules, logs every call
(the sandbox's admission log), and turns denials and call failures into the errors the client sees
(``review``). Decisions, each where the emulator is simpler than kube-apiserver:

* Mutating webhooks run serially, each seeing the previous one's patch; ``reinvocationPolicy:
  IfNeeded`` adds one extra round, calling only IfNeeded webhooks that ran before a later webhook
  changed the object (upstream's ``webhookReinvokeContext``).
* Validating webhooks run concurrently; when several reject, upstream reports whichever error reached
  its channel first. Here the first in webhook order wins, so results are deterministic.
* Warnings travel back as a list; an error raised after some webhooks warned carries them.

Decided against: pruning and defaulting here (the engine re-applies them once the whole mutating
chain has run) and a session per call (see ``transport``: the server calls ``close()`` when it stops).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterable, MutableSequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from ray_operator.sandbox import errors
from ray_operator.sandbox.admission.attributes import (
    AdmissionAttributes,
    AdmissionError,
    as_mapping,
    as_version,
    with_object,
)
from ray_operator.sandbox.admission.matching import Webhook, is_exempt, match_webhook, ordered_webhooks
from ray_operator.sandbox.admission.review import (
    KNOWN_REVIEW_VERSIONS,
    CallFailure,
    InvalidResponse,
    Rejection,
    ReviewResult,
    apply_json_patch,
    build_review,
    call_failure_error,
    decode_patch,
    denial_error,
    dry_run_unsupported,
    internal_error,
    limit_warnings,
    verify_response,
)
from ray_operator.sandbox.admission.transport import (
    ConfigError,
    SslContexts,
    display_url,
    post_review,
    resolve_endpoint,
)
from ray_operator.sandbox.resources import ResourceType


class AdmissionChain:
    """Runs the mutating then (separately) the validating webhooks of one request."""

    def __init__(
        self,
        *,
        resolve_service: Callable[[str, str, int], tuple[str, int] | None],
        get_namespace: Callable[[str], dict[str, Any] | None],
        log: MutableSequence[dict[str, Any]],
        served_versions: Callable[[str, str], Iterable[str]] | None = None,
    ) -> None:
        """``served_versions(group, resource)`` (optional) lists the versions served, for matchPolicy Equivalent
        (without it every webhook matches exactly). Pruning and defaulting of a patched custom resource are
        the caller's: the engine re-applies them once the whole mutating chain has run."""
        self._served_versions = served_versions
        self._resolve_service = resolve_service
        self._get_namespace = get_namespace
        self._log = log
        self._session: aiohttp.ClientSession | None = None
        self._ssl_contexts = SslContexts()

    async def close(self) -> None:
        """Close the pooled connections; the owner calls this once it admits no more requests."""
        session, self._session = self._session, None  # a request starting meanwhile gets a fresh session
        if session is not None:
            await session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
        return self._session

    # ---- mutating ------------------------------------------------------------------------

    async def mutate(
        self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """Call the matching mutating webhooks serially; return the final object and the warnings.

        ``attrs.obj`` is left as it is; when no webhook changes it, it is what comes back."""
        return await self._mutate(attrs, configurations)

    async def _mutate(
        self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, list[str]]:
        obj = attrs.obj  # never modified: every patch is applied to a copy
        warnings: list[str] = []
        if is_exempt(attrs.rt):
            return obj, warnings
        hooks = ordered_webhooks(configurations, mutating=True)
        invoked_reinvocable: list[str] = []
        to_reinvoke: set[str] = set()
        changed_any = False
        try:
            for hook in hooks:
                current = with_object(attrs, obj)
                as_rt = self._match(hook, current)
                if as_rt is None:
                    continue
                obj, changed = await self._mutate_one(hook, current, warnings, round_=0, as_rt=as_rt)
                if changed:
                    changed_any = True
                    to_reinvoke.update(invoked_reinvocable)
                if hook.reinvoke_if_needed:
                    invoked_reinvocable.append(hook.uid)
            if changed_any and to_reinvoke:
                for hook in hooks:
                    if hook.uid not in to_reinvoke:
                        continue
                    current = with_object(attrs, obj)
                    as_rt = self._match(hook, current)
                    if as_rt is None:
                        continue
                    obj, _ = await self._mutate_one(hook, current, warnings, round_=1, as_rt=as_rt)
        except errors.ApiError as exc:
            raise AdmissionError(exc, warnings=limit_warnings(warnings)) from None
        return obj, limit_warnings(warnings)

    def _match(self, hook: Webhook, attrs: AdmissionAttributes) -> ResourceType | None:
        return match_webhook(hook, attrs, get_namespace=self._get_namespace, served_versions=self._served_versions)

    async def _mutate_one(
        self, hook: Webhook, attrs: AdmissionAttributes, warnings: list[str], *, round_: int, as_rt: ResourceType
    ) -> tuple[dict[str, Any] | None, bool]:
        obj = attrs.obj
        started = time.monotonic()
        entry = self._log_entry(hook, attrs, round_=round_)
        try:
            result = await self._call(hook, attrs, entry, as_rt)
            warnings.extend(result.warnings)
            if not result.allowed:
                raise Rejection(denial_error(hook.name, result.status))
            if not result.patch:
                return obj, False
            ops = decode_patch(result.patch)
            if not ops:
                return obj, False
            if obj is None:
                raise internal_error(
                    f'admission webhook "{hook.name}" attempted to modify the object, '
                    "which is not supported for this operation"
                )
            if result.patch_type != "JSONPatch":
                raise CallFailure(f'unsupported patch type "{result.patch_type}"')
            patched = as_version(apply_json_patch(as_version(obj, as_rt) or obj, ops), attrs.rt) or obj
            changed = patched != obj
            entry["patched"] = changed
            return patched, changed
        except CallFailure as exc:
            entry["error"] = str(exc)
            if hook.fail_open:
                entry["failed_open"] = True
                return obj, False
            raise call_failure_error(hook.name, str(exc)) from None
        except Rejection as exc:
            entry["allowed"] = False
            entry["error"] = exc.error.message
            raise exc.error from None
        except errors.ApiError as exc:
            entry["error"] = exc.message
            raise
        finally:
            entry["duration"] = time.monotonic() - started

    # ---- validating ----------------------------------------------------------------------

    async def validate(self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]) -> list[str]:
        """Call the matching validating webhooks concurrently; return the warnings or raise the first error."""
        return await self._validate(attrs, configurations)

    async def _validate(self, attrs: AdmissionAttributes, configurations: list[dict[str, Any]]) -> list[str]:
        if is_exempt(attrs.rt):
            return []
        matched = [(h, self._match(h, attrs)) for h in ordered_webhooks(configurations, mutating=False)]
        hooks = [(h, as_rt) for h, as_rt in matched if as_rt is not None]
        if not hooks:
            return []
        results = await asyncio.gather(*(self._validate_one(h, attrs, as_rt) for h, as_rt in hooks))
        warnings = [w for found, _ in results for w in found]
        for _, error in results:
            if error is not None:
                raise AdmissionError(error, warnings=limit_warnings(warnings))
        return limit_warnings(warnings)

    async def _validate_one(
        self, hook: Webhook, attrs: AdmissionAttributes, as_rt: ResourceType
    ) -> tuple[list[str], errors.ApiError | None]:
        started = time.monotonic()
        entry = self._log_entry(hook, attrs, round_=0)
        try:
            result = await self._call(hook, attrs, entry, as_rt)
            if result.allowed:
                return result.warnings, None
            error = denial_error(hook.name, result.status)
            entry["allowed"] = False
            entry["error"] = error.message
            return result.warnings, error
        except CallFailure as exc:
            entry["error"] = str(exc)
            if hook.fail_open:
                entry["failed_open"] = True
                return [], None
            return [], call_failure_error(hook.name, str(exc))
        except errors.ApiError as exc:
            entry["error"] = exc.message
            return [], exc
        finally:
            entry["duration"] = time.monotonic() - started

    # ---- one call ------------------------------------------------------------------------

    def _log_entry(self, hook: Webhook, attrs: AdmissionAttributes, *, round_: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(),
            "webhook": hook.name,
            "configuration": hook.configuration,
            "type": "mutating" if hook.mutating else "validating",
            "round": round_,
            "operation": attrs.operation,
            "resource": attrs.rt.group_resource,
            "sub_resource": attrs.sub_resource,
            "namespace": attrs.namespace,
            "name": attrs.name,
            "dry_run": attrs.dry_run,
            "uid": None,
            "allowed": None,
            "patched": False,
            "duration": 0.0,
            "error": None,
        }
        self._log.append(entry)
        return entry

    async def _call(
        self, hook: Webhook, attrs: AdmissionAttributes, entry: dict[str, Any], as_rt: ResourceType
    ) -> ReviewResult:
        """POST one AdmissionReview; raises ``CallFailure`` or ``ApiError`` (dry-run refusal)."""
        if attrs.dry_run:
            if hook.side_effects is None:
                raise CallFailure("Webhook SideEffects is nil")
            if hook.side_effects not in ("None", "NoneOnDryRun"):
                raise dry_run_unsupported(hook.name)
        version = next((v for v in hook.review_versions if v in KNOWN_REVIEW_VERSIONS), None)
        if version is None:
            raise CallFailure(
                "could not create admission objects: "
                "webhook does not accept known AdmissionReview versions (v1, v1beta1)"
            )
        uid = str(uuid.uuid4())
        entry["uid"] = uid
        try:
            endpoint = resolve_endpoint(hook.spec.get("clientConfig"), resolve_service=self._resolve_service)
            ctx = self._ssl_contexts.for_bundle(as_mapping(hook.spec.get("clientConfig")).get("caBundle"))
        except ConfigError as exc:
            raise CallFailure(f"could not get REST client: {exc}") from None
        timeout = hook.timeout_seconds
        if endpoint.unresolved:
            raise CallFailure(f'failed to call webhook: Post "{display_url(endpoint, timeout)}": {endpoint.unresolved}')
        # Compact, as kube-apiserver sends it: spaces would add ~11% and push a review past a 413.
        review_obj = build_review(attrs, attrs.obj, uid=uid, version=version, as_rt=as_rt)
        body = json.dumps(review_obj, separators=(",", ":")).encode()
        raw = await post_review(self._client(), endpoint, ssl_context=ctx, body=body, timeout_seconds=timeout)
        try:
            review = json.loads(raw)
        except ValueError as exc:
            raise CallFailure(f"failed to call webhook: couldn't get version/kind; json parse error: {exc}") from None
        try:
            result = verify_response(review, uid=uid, mutating=hook.mutating, version=version)
        except InvalidResponse as exc:
            raise CallFailure(f"received invalid webhook response: {exc}") from None
        entry["allowed"] = result.allowed
        entry["warnings"] = list(result.warnings)
        if result.audit_annotations:
            entry["audit_annotations"] = {f"{hook.name}/{k}": v for k, v in result.audit_annotations.items()}
        return result
