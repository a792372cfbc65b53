"""The default certificate source: a self-managed CA and serving certificate kept in one Secret.

Why: webhooks must work on a bare cluster with no cert-manager. Every replica runs this source; the
Secret is the single source of truth, every step is decided by ``certs.rotation`` from the Secret and
the clock, and written by ``certs.secretstore`` with optimistic concurrency, so replicas starting or
rotating together converge on one CA without leader election. Each replica serves the Secret's leaf
from memory (the live ``SSLContext``), so there is no kubelet mount delay, and keeps the caBundle of
both webhook configurations equal to the Secret's ``ca.crt``.

One check (``sync_once``): read the Secret → inject its bundle → decide → write (create-or-adopt /
replace-or-adopt, at most ``MAX_WRITES`` times) → inject again if the bundle changed → load the leaf
if it changed. ``ensure_ready`` repeats
it with a short backoff until a certificate is loaded; ``run`` repeats it every
``check_interval_seconds``. The CA rollover protocol is described in ``certs.rotation``.

With ``inject=False`` a replica never writes the webhook configurations but still reads them, and
counts a bundle as injected only once it sees it there, so it cannot move a CA rollover forward early.

Decided against: running only on the leader (webhook-only replicas have no leader and still need a
certificate), watching the Secret (a poll every interval is enough at these time scales, and survives
watch breakage for free), and crashing on API errors (logged, retried on the next check; a certificate
already loaded keeps being served).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from certs import generate as g
from certs.config import CertConfig
from certs.inject import Kind, Outcome, WebhookConfigsApi, inject_ca_bundle
from certs.logs import Logger
from certs.rotation import Action, CertState, Policy, apply, decide, parse_state
from certs.secretstore import SecretsApi, SecretStore, Stored
from certs.tlsctx import load_into, new_server_context

MAX_WRITES = 4
"""Secret writes one check may make (create, then at most a rollover step or two); bounds fights between replicas."""

RETRYABLE = (ApiException, aiohttp.ClientError, TimeoutError, OSError)


def describe_error(exc: BaseException, *, namespace: str) -> str:
    """A one-line account of an API failure, saying what to fix when it is a permission problem."""
    if not isinstance(exc, ApiException):
        return f"{type(exc).__name__}: {exc}"
    message = ""
    try:
        message = str(json.loads(exc.body or "{}").get("message", ""))
    except (ValueError, TypeError, AttributeError):
        message = ""
    text = f"{exc.status} {exc.reason}" + (f": {message}" if message else "")
    if exc.status in (401, 403):
        text += (
            f" — the operator's ServiceAccount needs get, create and update on secrets in namespace {namespace},"
            " and get and patch on validatingwebhookconfigurations and mutatingwebhookconfigurations"
        )
    return text


def policy_from(config: CertConfig) -> Policy:
    """The rotation policy of ``config``. The grace is floored at two check intervals: the rollover is only safe
    if every replica re-reads the Secret (once per interval) within it (see ``certs.rotation``)."""
    return Policy(
        names=tuple(g.serving_names(service=config.service_name, namespace=config.namespace)),
        algorithm=config.key_algorithm,
        ca_validity=timedelta(days=config.ca_validity_days),
        leaf_validity=timedelta(days=config.serving_cert_validity_days),
        grace=timedelta(seconds=max(config.rollover_grace_seconds, 2 * config.check_interval_seconds)),
    )


class SelfSignedSource:
    def __init__(
        self,
        *,
        config: CertConfig,
        secrets: SecretsApi,
        webhooks: WebhookConfigsApi | None,
        inject: bool = True,
        logger: Logger,
        clock: Callable[[], datetime],
    ) -> None:
        self.ssl_context = new_server_context()
        self._config = config
        self._store = SecretStore(
            api=secrets,
            namespace=config.namespace,
            name=config.secret_name,
            request_timeout=config.request_timeout_seconds,
        )
        self._webhooks = webhooks
        self._write_configs = inject
        self._log = logger.bind(secret=f"{config.namespace}/{config.secret_name}")
        self._clock = clock
        self.policy = policy_from(config)
        self._serving: str | None = None
        self._bundle: bytes | None = None
        self._injected: bytes | None = None
        self._missing: set[str] = set()

    @property
    def ready(self) -> bool:
        return self._serving is not None

    @property
    def ca_bundle_injected(self) -> bool:
        """Whether the current bundle was seen in every existing webhook configuration at the last check."""
        return self._webhooks is None or (self._bundle is not None and self._injected == self._bundle)

    def current_ca_bundle(self) -> bytes | None:
        return self._bundle

    def _describe(self, exc: BaseException) -> str:
        return describe_error(exc, namespace=self._config.namespace)

    async def ensure_ready(self) -> None:
        delay = 0.1
        while True:
            try:
                await self.sync_once()
            except RETRYABLE as exc:
                self._log.warning("certificate_setup_failed", error=self._describe(exc), retry_in_seconds=delay)
            if self.ready:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._config.check_interval_seconds)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._config.check_interval_seconds)
            try:
                await self.sync_once()
            except RETRYABLE as exc:
                self._log.warning("certificate_check_failed", error=self._describe(exc), retry="on the next check")

    async def sync_once(self) -> None:
        """One check: converge the Secret, inject its bundle, serve its leaf.

        The bundle already in the Secret is injected (or, read-only, checked) *before* deciding, so a
        rollover step is never taken on the memory of an injection someone has since undone.
        """
        stored = await self._store.read()
        before = parse_state(stored.data) if stored is not None else None
        if before is not None:
            await self._inject(before.bundle_pem)
        state = before
        for _ in range(MAX_WRITES):
            now = self._clock()
            injected = self._webhooks is None or (state is not None and self._injected == state.bundle_pem)
            decision = decide(state, now=now, policy=self.policy, bundle_injected=injected)
            if decision.action is Action.NONE:
                if state is not None and state.bundle_pem != self._bundle:
                    self._log.debug("certificate_state_checked", reason=decision.reason)
                break
            data = apply(decision, stored.data if stored is not None else {}, now=now, policy=self.policy)
            stored = await self._write(stored, data, decision.reason)
            state = parse_state(stored.data) if stored is not None else None
        else:
            self._log.warning("certificate_secret_unsettled", writes=MAX_WRITES, retry="on the next check")
        if state is None or state.leaf is None:
            return
        if before is None or state.bundle_pem != before.bundle_pem:
            await self._inject(state.bundle_pem)
        self._serve(state)

    async def _write(self, stored: Stored | None, data: dict[str, bytes], reason: str) -> Stored | None:
        result: Stored | None
        if stored is None:
            result, won = await self._store.create(data)
        else:
            result, won = await self._store.replace(data, current=stored)
        if won:
            self._log.info("certificate_secret_written", reason=reason)
        else:
            self._log.info("certificate_secret_adopted", reason=reason, detail="another replica wrote it first")
        return result

    def _serve(self, state: CertState) -> None:
        self._bundle = state.bundle_pem
        assert state.leaf is not None
        leaf = state.leaf.cert
        fingerprint = g.fingerprint(leaf)
        if fingerprint == self._serving:
            return
        try:
            load_into(self.ssl_context, cert_pem=state.leaf.cert_pem, key_pem=state.leaf.key_pem)
        except ValueError as exc:
            self._log.error("serving_certificate_refused", error=str(exc))
            return
        self._serving = fingerprint
        self._log.info(
            "serving_certificate_loaded",
            source="self-signed",
            serial=format(leaf.serial_number, "x"),
            issuer=leaf.issuer.rfc4514_string(),
            not_after=leaf.not_valid_after_utc.isoformat(),
        )

    async def _inject(self, bundle: bytes) -> None:
        if self._webhooks is None:
            return
        targets: list[tuple[Kind, str]] = [
            ("validating", self._config.validating_webhook_name),
            ("mutating", self._config.mutating_webhook_name),
        ]
        complete = True
        for kind, name in targets:
            if not name:
                continue
            try:
                outcome = await inject_ca_bundle(
                    api=self._webhooks,
                    kind=kind,
                    name=name,
                    bundle=bundle,
                    request_timeout=self._config.request_timeout_seconds,
                    write=self._write_configs,
                )
            except RETRYABLE as exc:
                self._log.warning(
                    "ca_bundle_injection_failed", target=name, retry="on the next check", error=self._describe(exc)
                )
                complete = False
                continue
            if outcome is Outcome.MISSING:
                if name not in self._missing:
                    self._log.warning("webhook_configuration_missing", kind=kind, target=name, retry="on every check")
                self._missing.add(name)
                continue
            if name in self._missing:
                self._missing.discard(name)
                self._log.info("webhook_configuration_found", kind=kind, target=name)
            if outcome is Outcome.STALE:
                self._log.debug("ca_bundle_pending", target=name, detail="another replica injects it")
                complete = False
            elif outcome is Outcome.PATCHED:
                self._log.info("ca_bundle_injected", target=name)
            elif outcome is Outcome.FAILED:
                self._log.warning("ca_bundle_injection_conflicted", target=name, retry="on the next check")
                complete = False
        if complete:
            self._injected = bundle
