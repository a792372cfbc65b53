"""Every default of the operator process in one place, each overridable by a flag and an env var.

A frozen dataclass rather than pydantic-settings: the values are few, the mapping to flags and
``RAY_OPERATOR_*`` environment variables is explicit below, and tests build a ``Settings`` by
keyword without touching the environment. Each field's docstring states its default.

One source of truth for the command line: ``ray-operator run --help`` shows each field's docstring
(read once from this file's source with ``ast``), its env var, its default and its allowed values,
which come from the field's type: a ``Literal`` lists its choices, and ``Port``/``Seconds``/... carry a
``Range`` that ``Settings`` enforces on construction. So a value out of range is refused however it
arrives (flag, env var, or code building a ``Settings``), always with the same one-line message naming
the flag and the env var, before anything starts.

Every field is read by code; a flag nobody reads would only be a promise nobody keeps.

Decided against: descriptions repeated in ``add_argument`` calls (they drift from the docstrings), field
``metadata`` dicts for the ranges (``Annotated`` types read as what they are: ``webhook_port: Port``),
and argparse ``type=``/``choices=`` (env vars need the same checks, and one path gives one message).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import os
import textwrap
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from certs.config import KeyAlgorithm
from certs.config import SourceKind as CertSource
from ray_operator.logging import LogFormat, LogLevel

Mode = Literal["all", "webhook", "controller"]

ENV_PREFIX = "RAY_OPERATOR_"


@dataclass(frozen=True)
class Range:
    """Bounds of a numeric setting; ``low_open`` makes the lower bound exclusive (``> 0``)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def requirement(self) -> str:
        """What the value must be, as the error message and ``--help`` say it."""
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"between {low} and {high}"
        if self.low is not None:
            return f"greater than {low}" if self.low_open else f"{low} or more"
        return f"{high} or less"


Port = Annotated[int, Range(0, 65535)]
"""A TCP port; 0 asks the kernel for a free one (tests, the sandbox)."""

Seconds = Annotated[float, Range(0, low_open=True)]
"""A duration or interval that must pass: 0 would spin a loop or time out at once."""

SecondsOrZero = Annotated[float, Range(0)]
"""A wait that may be skipped with 0."""

Count = Annotated[int, Range(0, low_open=True)]
"""A positive size or lifetime."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    mode: Mode = "all"
    """Which parts run: ``all`` (webhooks + leader-elected controllers), ``webhook`` or ``controller``.

    Default ``all``.
    """

    kubeconfig: str | None = None
    """Path of a kubeconfig; unset (default) means in-cluster config, then ``$KUBECONFIG``/``~/.kube/config``."""

    namespace: str = "ray-system"
    """Namespace the operator runs in: holds the certificate Secret and the leader Lease. Default ``ray-system``."""

    watch_namespace: str | None = None
    """Only reconcile RayClusters in these namespaces, comma-separated (KubeRay's ``--watch-namespace``; also
    ``--watch-namespaces``); unset (default) watches all namespaces. Shards: config/README.md.
    """

    # --- webhook server -------------------------------------------------------------------
    webhook_host: str = "0.0.0.0"
    """Address the HTTPS webhook server binds. Default ``0.0.0.0``."""

    webhook_port: Port = 9443
    """Port of the HTTPS webhook server (kubebuilder's convention). Default ``9443``."""

    webhook_max_body_bytes: Count = 7 * 1024 * 1024
    """Largest AdmissionReview body accepted; larger requests get 413.

    Default 7 MiB (controller-runtime's): an UPDATE review carries the object and the old object, each
    up to etcd's 1.5 MiB, and JSON escaping can grow them.
    """

    webhook_max_connections: Count = 1000
    """Client connections the webhook server holds at once; more are reset at accept.

    Default 1000: an idle connection costs about 25 KiB once its TLS handshake is done and 2 KiB before
    (measured, ``docs/performance.md``), so a full server holds about 25 MiB for them, far below the
    Deployment's 512 Mi limit.
    """

    http_handshake_timeout_seconds: Seconds = 10.0
    """A TLS handshake not finished by then closes the connection. Default 10 s."""

    http_read_timeout_seconds: Seconds = 10.0
    """Longest a request head, and separately a request body, may take to arrive; slower clients
    are disconnected (a body gets 408). Default 10 s.
    """

    http_keepalive_timeout_seconds: Seconds = 30.0
    """An HTTP connection idle this long between requests is closed (webhook, probes, metrics).

    Default 30 s (clients reopen; the API server retries a request on a connection closed while idle).
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
    """Directory read in ``files`` mode. Default ``/tmp/k8s-webhook-server/serving-certs`` (kubebuilder's)."""

    cert_secret_name: str = "ray-operator-webhook-certs"
    """Secret holding ca.crt, ca.key, tls.crt and tls.key in ``self-signed`` mode.

    Default ``ray-operator-webhook-certs``.
    """

    cert_key_algorithm: KeyAlgorithm = "ecdsa-p256"
    """Key type of the CA and serving certificate. Default ``ecdsa-p256``; ``rsa-2048`` for old clients."""

    ca_validity_days: Count = 3650
    """Lifetime of the self-signed CA. Default 3650 days (10 years, like cert-controller)."""

    serving_cert_validity_days: Count = 365
    """Lifetime of the serving certificate. Default 365 days; rotated at about two thirds of it."""

    cert_check_interval_seconds: Seconds = 60.0
    """How often certificates, the Secret and the caBundles are checked. Default 60 s."""

    cert_rollover_grace_seconds: Seconds = 300.0
    """How long a new CA sits in the caBundle before serving certificates are issued from it, and how
    long the old CA stays after that. Default 300 s; never less than twice ``cert_check_interval_seconds``.
    """

    cert_file_poll_seconds: Seconds = 10.0
    """How often ``files`` mode re-reads tls.crt/tls.key for a change (controller-runtime's poll). Default 10 s."""

    cert_request_timeout_seconds: Seconds = 10.0
    """Client timeout of each API call the certificate manager makes. Default 10 s."""

    # --- probes and metrics ---------------------------------------------------------------
    probe_host: str = "0.0.0.0"
    """Address the ``/healthz``/``/readyz`` server binds. Default ``0.0.0.0``."""

    probe_port: Port = 8081
    """Port of ``/healthz`` and ``/readyz``. Default ``8081``."""

    metrics_host: str = "0.0.0.0"
    """Address the ``/metrics`` server binds. Default ``0.0.0.0``."""

    metrics_port: Port = 8080
    """Port of ``/metrics`` (Prometheus text). Default ``8080``."""

    diagnostics_max_connections: Count = 64
    """Client connections the probe server and the metrics server each hold at once; more are reset
    at accept. Default 64 (the kubelet and a few scrapers need a handful).
    """

    metrics_secure: bool = True
    """Serve ``/metrics`` over HTTPS (a self-signed certificate) and only to a bearer token the API server
    says may ``get /metrics`` (TokenReview, SubjectAccessReview). Default on; off serves plain HTTP."""

    metrics_auth_cache_seconds: Seconds = 10.0
    """How long the review answer for one metrics token is reused. Default 10 s."""

    # --- leader election (controller-runtime's flag and defaults; ray_operator.kube.leaderelection) ---
    leader_elect: bool = True
    """Elect one reconciling replica with a ``coordination.k8s.io/v1`` Lease; every replica serves the webhooks.
    Default on; ``--leader-elect=false`` reconciles on every replica that runs the controller (run only one).
    """

    lease_name: str = "ray-operator-leader"
    """Name of the leader Lease, in ``--namespace``. Default ``ray-operator-leader``; give each shard of a
    ``--watch-namespace`` split its own (config/README.md).
    """

    lease_duration_seconds: Seconds = 15.0
    """How long a standby waits, after it last saw the Lease change, before taking it over. Default 15 s;
    more than ``renew_deadline_seconds``.
    """

    renew_deadline_seconds: Seconds = 10.0
    """How long the leader may fail to renew before it stops reconciling (before any standby may take the
    Lease). Default 10 s; more than 1.2 times ``retry_period_seconds``.
    """

    retry_period_seconds: Seconds = 2.0
    """Interval between acquire/renew attempts; each attempt's API calls time out after half the renew
    deadline (at least 1 s). Default 2 s.
    """

    # --- reconciler -----------------------------------------------------------------------
    reconcile_concurrency: Count = 1
    """RayClusters reconciled at once (controller-runtime's ``MaxConcurrentReconciles``). Default 1."""

    resync_seconds: Seconds = 300.0
    """A RayCluster with nothing to do is reconciled again after this long. Default 300 s (KubeRay's)."""

    requeue_seconds: Seconds = 2.0
    """Delay before the next pass after a status change or during suspend and deletion. Default 2 s (KubeRay's)."""

    status_write_interval_seconds: SecondsOrZero = 0.5
    """A status change that moves only counts, IPs or endpoints waits until this long after the cluster's
    previous status write (a change of state, reason, condition or observedGeneration is written at once).
    Default 0.5 s: while pods come up one by one, a cluster's status is written about three times instead
    of once per pod. 0 writes every change at once."""

    pod_create_concurrency: Count = 16
    """Pod creates (and deletes) of one pass in flight at once. Default 16; KubeRay creates one at a time."""

    expectations_timeout_seconds: Seconds = 30.0
    """How long a pod create or delete may stay unseen in the cache before its group is reconciled anyway.
    Default 30 s (KubeRay's ``ExpectationsTimeout``).
    """

    list_page_size: Count = 500
    """Objects per page of a reflector's list. Default 500 (client-go's)."""

    watch_timeout_seconds: Seconds = 300.0
    """Each watch asks the server to end it after a time drawn from [T, 2T) (client-go's spread), and is then
    resumed. Default 300 s.
    """

    watch_inactivity_timeout_seconds: Seconds = 70.0
    """A watch that sends nothing (no event, no bookmark) this long is restarted. Default 70 s."""

    cluster_domain: str = "cluster.local"
    """DNS suffix of Service FQDNs in Ray pods (KubeRay's ``CLUSTER_DOMAIN``). Default ``cluster.local``."""

    enable_init_container_injection: bool = True
    """Add the ``wait-gcs-ready`` init container to worker pods (KubeRay's ``ENABLE_INIT_CONTAINER_INJECTION``).
    Default on.
    """

    enable_probes_injection: bool = True
    """Add liveness and readiness probes to Ray containers that have none (``ENABLE_PROBES_INJECTION``). Default on."""

    enable_login_shell: bool = False
    """Run generated commands in a login shell, ``/bin/bash -cl`` (``ENABLE_LOGIN_SHELL``). Default off."""

    enable_head_cluster_ip_service: bool = False
    """Give head Services a cluster IP instead of making them headless (``ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE``).
    Default off.
    """

    enable_deterministic_head_pod_name: bool = False
    """Name head pods ``<cluster>-head`` instead of a generated name (``ENABLE_DETERMINISTIC_HEAD_POD_NAME``).
    Default off.
    """

    enable_gcs_ft_redis_cleanup: bool = True
    """With Redis GCS fault tolerance, hold a deleted RayCluster until a Job cleaned its Redis data
    (``ENABLE_GCS_FT_REDIS_CLEANUP``). Default on.
    """

    enable_random_pod_delete: bool = False
    """Let the operator remove surplus workers itself even when the autoscaler is on (``ENABLE_RANDOM_POD_DELETE``).
    Default off: with autoscaling, only the autoscaler chooses which workers go.
    """

    # --- logging --------------------------------------------------------------------------
    log_level: LogLevel = "info"
    """structlog level. Default ``info``."""

    log_format: LogFormat = "auto"
    """``json`` in clusters, ``console`` on a terminal; ``auto`` (default) picks by whether stderr is a TTY."""

    # --- process runtime ------------------------------------------------------------------
    kube_request_timeout_seconds: Seconds = 30.0
    """Client timeout of an API call that sets none itself (connect 10 s at most). Default 30 s."""

    kube_max_connections: Count = 8
    """Connections to the API server for requests, on top of one per watch (nine per watched namespace);
    further requests wait for a free one. Default 8: each TLS connection buffers up to 256 KiB, and 8
    converged 1,000 RayClusters as fast as 23 or 91 did (docs/performance.md)."""

    shutdown_timeout_seconds: SecondsOrZero = 5.0
    """How long in-flight requests may finish after SIGTERM before connections are closed.

    Default 5 s (inside kubebuilder's 10 s ``terminationGracePeriodSeconds``).
    """

    event_loop_stall_seconds: Seconds = 20.0
    """``/healthz`` fails when the event loop's watchdog, which ticks every second, last ticked longer ago than
    this, so the kubelet restarts a wedged process. Default 20 s (the liveness probe's period).
    """

    shutdown_delay_seconds: SecondsOrZero = 2.0
    """After SIGTERM, how long ``/readyz`` fails while the webhook keeps answering, so that the Service
    endpoints drop this pod before its listener closes. Default 2 s (0 to stop at once).
    """

    def __post_init__(self) -> None:
        problem = settings_problem(self)
        if problem is not None:
            raise ValueError(problem)


# --- names --------------------------------------------------------------------------------------


def flag_name(name: str) -> str:
    """The flag of a setting, e.g. ``webhook_port`` -> ``--webhook-port``."""
    return "--" + name.replace("_", "-")


def env_var(name: str) -> str:
    """The environment variable of a setting, e.g. ``webhook_port`` -> ``RAY_OPERATOR_WEBHOOK_PORT``."""
    return ENV_PREFIX + name.upper()


def _names(name: str) -> str:
    return f"{flag_name(name)} ({env_var(name)})"


# --- what each field's type says ----------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A setting's type as the command line sees it: the scalar, its choices and its range."""

    scalar: type
    choices: tuple[str, ...] = ()
    range: Range | None = None
    optional: bool = False


@functools.cache
def kinds() -> dict[str, Kind]:
    """Every setting's ``Kind``, read from the annotations once."""
    out: dict[str, Kind] = {}
    for name, hint in get_type_hints(Settings, include_extras=True).items():
        optional = False
        bounds: Range | None = None
        if get_origin(hint) in (Union, types.UnionType):
            members = [arg for arg in get_args(hint) if arg is not type(None)]
            hint, optional = members[0], True
        if get_origin(hint) is Annotated:
            hint, *extras = get_args(hint)
            bounds = next((extra for extra in extras if isinstance(extra, Range)), None)
        if get_origin(hint) is Literal:
            out[name] = Kind(str, choices=tuple(str(choice) for choice in get_args(hint)), optional=optional)
        else:
            out[name] = Kind(hint, range=bounds, optional=optional)
    return out


def settings_problem(settings: Settings) -> str | None:
    """The one-line reason ``settings`` cannot run (naming flag and env var), or ``None``."""
    for name, kind in kinds().items():
        value = getattr(settings, name)
        if value is None and kind.optional:
            continue
        if kind.choices and value not in kind.choices:
            allowed = ", ".join(repr(choice) for choice in kind.choices)
            return f"{_names(name)} must be one of {allowed}, not {value!r}"
        if kind.range is not None and not kind.range.contains(value):
            return f"{_names(name)} must be {kind.range.requirement()}, got {value!r}"
    if settings.leader_elect:
        # client-go's leaderelection.NewLeaderElector refuses the same (JitterFactor 1.2).
        if settings.lease_duration_seconds <= settings.renew_deadline_seconds:
            return (
                f"{_names('lease_duration_seconds')} must be greater than {flag_name('renew_deadline_seconds')}, "
                f"got {settings.lease_duration_seconds!r} <= {settings.renew_deadline_seconds!r}"
            )
        if settings.renew_deadline_seconds <= 1.2 * settings.retry_period_seconds:
            retry = flag_name("retry_period_seconds")
            return (
                f"{_names('renew_deadline_seconds')} must be greater than 1.2 times {retry}, "
                f"got {settings.renew_deadline_seconds!r} <= 1.2 times {settings.retry_period_seconds!r}"
            )
    return None


# --- the docstrings, read once ------------------------------------------------------------------


@functools.cache
def field_docs() -> dict[str, str]:
    """Each field's docstring (the string literal right after it in the class body), as one plain paragraph."""
    try:
        source = textwrap.dedent(inspect.getsource(Settings))
    except (OSError, TypeError):  # no source shipped: --help still works, without descriptions
        return {}
    (klass,) = ast.parse(source).body
    assert isinstance(klass, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, after in zip(klass.body, klass.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            text = " ".join(inspect.cleandoc(after.value.value).split())
            docs[node.target.id] = text.replace("``", "")
    return docs


# --- the command line ---------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    return str(value) if value != "" else '""'


def _metavar(name: str, kind: Kind) -> str:
    if kind.choices:
        return "{" + ",".join(kind.choices) + "}"
    if kind.scalar is float:
        return "SECONDS" if name.endswith("_seconds") else "NUMBER"
    if kind.scalar is int:
        return "PORT" if name.endswith("_port") else "INT"
    return "PATH" if name in ("kubeconfig", "cert_dir") else "TEXT"


def help_text(name: str) -> str:
    """The ``--help`` entry of a setting: its docstring, then env var, default and allowed values."""
    kind = kinds()[name]
    default = next(f.default for f in dataclasses.fields(Settings) if f.name == name)
    facts = [f"env {env_var(name)}", f"default {_shown(default)}"]
    if kind.choices:
        facts.append("one of " + ", ".join(kind.choices))
    elif kind.range is not None:
        facts.append(kind.range.requirement())
    elif kind.scalar is bool:
        facts.append("true or false")
    description = field_docs().get(name, "")
    # argparse %-formats help strings; a literal percent sign must be doubled.
    return (f"{description} [{'; '.join(facts)}]" if description else f"[{'; '.join(facts)}]").replace("%", "%%")


class _BoolFlag(argparse.Action):
    """``--x``, ``--x=true|false`` (Go's flag syntax: kubebuilder manifests say ``--leader-elect=false``)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        # A value is kept as text: settings_from coerces it with the one-line message every setting gets.
        setattr(namespace, self.dest, True if values is None else str(values))


FLAG_ALIASES: dict[str, tuple[str, ...]] = {"watch_namespace": ("--watch-namespaces",)}
"""Other spellings a flag answers to: KubeRay's singular and the plural a list reads as."""


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; the env var is read when the flag is absent."""
    for f in dataclasses.fields(Settings):
        kind = kinds()[f.name]
        if kind.scalar is bool:
            parser.add_argument(
                flag_name(f.name),
                dest=f.name,
                default=None,
                nargs="?",
                action=_BoolFlag,
                metavar="true|false",
                help=help_text(f.name),
            )
            parser.add_argument(
                "--no-" + flag_name(f.name)[2:], dest=f.name, action="store_false", help=argparse.SUPPRESS
            )
        else:
            parser.add_argument(
                flag_name(f.name),
                *FLAG_ALIASES.get(f.name, ()),
                dest=f.name,
                default=None,
                metavar=_metavar(f.name, kind),
                help=help_text(f.name),
            )


_KIND_TEXT = {bool: "a boolean (true or false)", int: "an integer", float: "a number", str: "a string"}
_TRUE = frozenset({"1", "t", "true", "yes", "on"})
_FALSE = frozenset({"0", "f", "false", "no", "off"})


def _coerce(raw: str, scalar: type) -> Any:
    if scalar is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if scalar is int:
        return int(raw)
    if scalar is float:
        return float(raw)
    return raw


def settings_from(args: argparse.Namespace | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Flags win over env vars, env vars over the defaults above. Raises ``ValueError`` with a one-line message."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for name, kind in kinds().items():
        given = getattr(args, name, None) if args is not None else None
        try:
            if given is not None:
                values[name] = given if isinstance(given, bool) else _coerce(str(given), kind.scalar)
            elif env_var(name) in env:
                values[name] = _coerce(env[env_var(name)], kind.scalar)
        except ValueError as exc:
            raise ValueError(f"{_names(name)} must be {_KIND_TEXT.get(kind.scalar, 'valid')}: {exc}") from None
    return Settings(**values)
