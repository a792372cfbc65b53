"""Every default of the operator process in one place, each overridable by a flag and an env var.

A frozen dataclass rather than pydantic-settings: the values are few, the mapping to flags and
``RAY_OPERATOR_*`` environment variables is explicit below, and tests build a ``Settings`` by
keyword without touching the environment. Each field's docstring states its default.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin, get_type_hints

Mode = Literal["all", "webhook", "controller"]
CertSource = Literal["self-signed", "files"]
KeyAlgorithm = Literal["ecdsa-p256", "rsa-2048"]
LogFormat = Literal["auto", "json", "console"]

ENV_PREFIX = "RAY_OPERATOR_"


@dataclass(frozen=True, kw_only=True)
class Settings:
    mode: Mode = "all"
    """Which parts run: ``all`` (webhooks + leader-elected controllers), ``webhook`` or ``controller``.

    Default ``all``.
    """

    kubeconfig: str | None = None
    """Path of a kubeconfig; ``None`` (default) means in-cluster config, then ``$KUBECONFIG``/``~/.kube/config``."""

    namespace: str = "ray-system"
    """Namespace the operator runs in: holds the certificate Secret and the leader Lease. Default ``ray-system``."""

    watch_namespace: str | None = None
    """Only reconcile RayClusters in this namespace; ``None`` (default) watches all namespaces."""

    # --- webhook server -------------------------------------------------------------------
    webhook_host: str = "0.0.0.0"
    """Address the HTTPS webhook server binds. Default ``0.0.0.0``."""

    webhook_port: int = 9443
    """Port of the HTTPS webhook server (kubebuilder's convention). Default ``9443``."""

    webhook_max_body_bytes: int = 3 * 1024 * 1024
    """Largest AdmissionReview body accepted; larger requests get 413.

    Default 3 MiB (etcd keeps objects up to 1.5 MiB).
    """

    webhook_service_name: str = "ray-operator-webhook-service"
    """Service in front of the webhook server; names the serving certificate.

    Default ``ray-operator-webhook-service``.
    """

    validating_webhook_name: str = "ray-operator-validating-webhook-configuration"
    """ValidatingWebhookConfiguration whose caBundle is kept filled.

    Default ``ray-operator-validating-webhook-configuration``.
    """

    mutating_webhook_name: str = "ray-operator-mutating-webhook-configuration"
    """MutatingWebhookConfiguration whose caBundle is kept filled.

    Default ``ray-operator-mutating-webhook-configuration``.
    """

    # --- certificates ---------------------------------------------------------------------
    cert_source: CertSource = "self-signed"
    """``self-signed`` (default): built-in CA bootstrap in a Secret; ``files``: read tls.crt/tls.key (cert-manager)."""

    cert_dir: str = "/tmp/k8s-webhook-server/serving-certs"
    """Directory read in ``files`` mode (kubebuilder's default path)."""

    cert_secret_name: str = "ray-operator-webhook-certs"
    """Secret holding ca.crt, ca.key, tls.crt and tls.key in ``self-signed`` mode.

    Default ``ray-operator-webhook-certs``.
    """

    cert_key_algorithm: KeyAlgorithm = "ecdsa-p256"
    """Key type of the CA and serving certificate. Default ``ecdsa-p256``; ``rsa-2048`` for old clients."""

    ca_validity_days: int = 3650
    """Lifetime of the self-signed CA. Default 3650 days (10 years, like cert-controller)."""

    serving_cert_validity_days: int = 365
    """Lifetime of the serving certificate. Default 365 days; rotated at about two thirds of it."""

    cert_check_interval_seconds: float = 60.0
    """How often certificates, the Secret and the caBundles are checked. Default 60 s."""

    # --- probes and metrics ---------------------------------------------------------------
    probe_port: int = 8081
    """Port of ``/healthz`` and ``/readyz``. Default ``8081``."""

    metrics_port: int = 8080
    """Port of ``/metrics`` (Prometheus text). Default ``8080``."""

    # --- leader election (controller-runtime's defaults) ---------------------------------
    leader_election: bool = True
    """Elect one reconciling replica with a Lease. Default on."""

    lease_name: str = "ray-operator-leader"
    """Name of the leader Lease. Default ``ray-operator-leader``."""

    lease_duration_seconds: float = 15.0
    """Lease duration. Default 15 s."""

    renew_deadline_seconds: float = 10.0
    """How long the leader keeps trying to renew before it gives up. Default 10 s."""

    retry_period_seconds: float = 2.0
    """Interval between acquire/renew attempts. Default 2 s."""

    # --- logging --------------------------------------------------------------------------
    log_level: str = "info"
    """structlog level. Default ``info``."""

    log_format: LogFormat = "auto"
    """``json`` in clusters, ``console`` on a terminal; ``auto`` (default) picks by whether stderr is a TTY."""

    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form settings for tests; not exposed as flags."""

    # --- certificates (appended by the certs package) -------------------------------------
    cert_rollover_grace_seconds: float = 300.0
    """How long a new CA sits in the caBundle before serving certificates are issued from it, and how
    long the old CA stays after that. Default 300 s; never less than twice ``cert_check_interval_seconds``.
    """

    cert_file_poll_seconds: float = 10.0
    """How often ``files`` mode re-reads tls.crt/tls.key for a change (controller-runtime's poll). Default 10 s."""

    cert_request_timeout_seconds: float = 10.0
    """Client timeout of each API call the certificate manager makes. Default 10 s."""

    # --- process runtime (appended by the runtime) ----------------------------------------
    probe_host: str = "0.0.0.0"
    """Address the ``/healthz``/``/readyz`` server binds. Default ``0.0.0.0``."""

    metrics_host: str = "0.0.0.0"
    """Address the ``/metrics`` server binds. Default ``0.0.0.0``."""

    shutdown_timeout_seconds: float = 5.0
    """How long in-flight requests may finish after SIGTERM before connections are closed.

    Default 5 s (inside kubebuilder's 10 s ``terminationGracePeriodSeconds``).
    """

    kube_request_timeout_seconds: float = 30.0
    """Client timeout of an API call that sets none itself (connect 10 s at most). Default 30 s."""

    shutdown_delay_seconds: float = 2.0
    """After SIGTERM, how long ``/readyz`` fails while the webhook keeps answering, so that the Service
    endpoints drop this pod before its listener closes. Default 2 s (0 to stop at once).
    """


def flag_name(name: str) -> str:
    """The flag of a setting, e.g. ``webhook_port`` -> ``--webhook-port``."""
    return "--" + name.replace("_", "-")


def env_var(name: str) -> str:
    """The environment variable of a setting, e.g. ``webhook_port`` -> ``RAY_OPERATOR_WEBHOOK_PORT``."""
    return ENV_PREFIX + name.upper()


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "t", "true", "yes", "on"}:
            return True
        if lowered in {"0", "f", "false", "no", "off"}:
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


_KIND = {bool: "a boolean (true or false)", int: "an integer", float: "a number", str: "a string"}

_FLAG_FIELDS = [f for f in dataclasses.fields(Settings) if f.name != "extra"]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; the env var is read when the flag is absent."""
    for f in _FLAG_FIELDS:
        default = f.default
        help_text = f"env {env_var(f.name)}; default {default!r}"
        if isinstance(default, bool):
            parser.add_argument(
                flag_name(f.name), dest=f.name, default=None, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            parser.add_argument(flag_name(f.name), dest=f.name, default=None, help=help_text)


def settings_from(args: argparse.Namespace | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Flags win over env vars, env vars over the defaults above."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for f in _FLAG_FIELDS:
        given = getattr(args, f.name, None) if args is not None else None
        default = f.default if f.default is not None else ""
        try:
            if given is not None:
                values[f.name] = given if isinstance(given, bool) else _coerce(str(given), default)
            elif env_var(f.name) in env:
                values[f.name] = _coerce(env[env_var(f.name)], default)
        except ValueError as exc:
            raise ValueError(
                f"{flag_name(f.name)} ({env_var(f.name)}) must be {_KIND.get(type(default), 'valid')}: {exc}"
            ) from None
    _check_choices(values)
    return Settings(**values)


def _check_choices(values: dict[str, Any]) -> None:
    """Refuse a value outside a Literal's choices with the flag, env var and allowed values in the message."""
    hints = get_type_hints(Settings)
    for name, value in values.items():
        hint = hints[name]
        if get_origin(hint) is Literal and value not in get_args(hint):
            allowed = ", ".join(repr(choice) for choice in get_args(hint))
            raise ValueError(f"{flag_name(name)} ({env_var(name)}) must be one of {allowed}, not {value!r}")
