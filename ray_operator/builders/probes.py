"""Liveness and readiness probes of the Ray container (reference §2.8).

Why: without probes a crashed raylet or GCS goes unnoticed; the readiness probe also gates the
``HeadPodReady`` condition and the cluster's ``ready`` state. The checks depend on the Ray version:

* Ray ≥ 2.53 (``rayVersion`` parses and is at least 2.53.0): ``httpGet /api/healthz`` on the
  dashboard agent port (``dashboard-agent-listen-port``, default 52365), one endpoint covering the
  raylet and, on the head, the GCS;
* older or unparsable versions: ``bash -c`` running ``wget`` against the agent's
  ``api/local_raylet_healthz`` (2 s timeout) and, on the head, the dashboard's ``api/gcs_healthz``
  on ``dashboard-port`` (default 8265, 10 s timeout), each piped to ``grep success``, joined by ``&&``.

Numbers (initialDelay/timeout/period/success/failure): liveness 30/2/5/1/120, readiness
10/2/5/1/10, with a 5 s timeout on the head (it checks two endpoints). A probe the user set is kept;
each of the two is decided separately. Workers of a RayService-created cluster get an exec readiness
probe that also checks the Serve proxy (``-/healthz`` on the ``serve`` port, 10 s) with failure
threshold 1, as KubeRay does.

KubeRay passes its readiness *failure threshold* as the GCS wget timeout (§7.9); the value is the
same 10 s, named here for what it is. A port param that is not an int32 falls back to the default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.validation import parse_ray_version

__all__ = ["uses_http_health_check", "with_probes"]

_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def uses_http_health_check(ray_version: str | None) -> bool:
    version = parse_ray_version(ray_version)
    return version is not None and version >= c.MIN_RAY_VERSION_HTTP_PROBES


def _port(params: Mapping[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw is not None and _INT_RE.match(raw):  # Go's strconv.ParseInt(raw, 10, 32)
        value = int(raw)
        if -(2**31) <= value < 2**31:
            return value
    return default


def _wget(timeout: int, port: int, path: str) -> str:
    return f"wget --tries 1 -T {timeout} -q -O- http://localhost:{port}/{path} | grep success"


def _serve_port(container: Mapping[str, Any]) -> int:
    for port in container.get("ports") or ():
        if isinstance(port, Mapping) and port.get("name") == c.SERVING_PORT_NAME:
            number = port.get("containerPort")
            if isinstance(number, int):
                return number
    return c.DEFAULT_SERVING_PORT


def _probe(*, liveness: bool, head: bool) -> dict[str, Any]:
    if liveness:
        return {
            "initialDelaySeconds": c.LIVENESS_PROBE_INITIAL_DELAY_SECONDS,
            "timeoutSeconds": c.HEAD_PROBE_TIMEOUT_SECONDS if head else c.PROBE_TIMEOUT_SECONDS,
            "periodSeconds": c.PROBE_PERIOD_SECONDS,
            "successThreshold": c.PROBE_SUCCESS_THRESHOLD,
            "failureThreshold": c.LIVENESS_PROBE_FAILURE_THRESHOLD,
        }
    return {
        "initialDelaySeconds": c.READINESS_PROBE_INITIAL_DELAY_SECONDS,
        "timeoutSeconds": c.HEAD_PROBE_TIMEOUT_SECONDS if head else c.PROBE_TIMEOUT_SECONDS,
        "periodSeconds": c.PROBE_PERIOD_SECONDS,
        "successThreshold": c.PROBE_SUCCESS_THRESHOLD,
        "failureThreshold": c.READINESS_PROBE_FAILURE_THRESHOLD,
    }


def with_probes(
    container: dict[str, Any],
    *,
    node_type: c.NodeType,
    params: Mapping[str, str],
    ray_version: str | None,
    rayservice_worker: bool,
) -> None:
    """Add the missing probes to the Ray container dict (which the caller owns: a copy of the template's)."""
    head = node_type is c.NodeType.HEAD
    agent_port = _port(params, c.PARAM_DASHBOARD_AGENT_LISTEN_PORT, c.DEFAULT_DASHBOARD_AGENT_LISTEN_PORT)
    checks = [_wget(c.PROBE_TIMEOUT_SECONDS, agent_port, c.RAY_AGENT_RAYLET_HEALTH_PATH)]
    if head:
        dashboard_port = _port(params, c.PARAM_DASHBOARD_PORT, c.DEFAULT_DASHBOARD_PORT)
        checks.append(_wget(c.GCS_HEALTH_CHECK_TIMEOUT_SECONDS, dashboard_port, c.RAY_DASHBOARD_GCS_HEALTH_PATH))

    def action(commands: list[str]) -> dict[str, Any]:
        if uses_http_health_check(ray_version):
            return {"httpGet": {"path": c.RAY_NODE_HEALTH_PATH, "port": agent_port}}
        return {"exec": {"command": ["bash", "-c", " && ".join(commands)]}}

    if container.get("livenessProbe") is None:
        container["livenessProbe"] = {**_probe(liveness=True, head=head), **action(checks)}
    if container.get("readinessProbe") is None:
        readiness = {**_probe(liveness=False, head=head), **action(checks)}
        if rayservice_worker and not head:
            serve = _wget(c.SERVE_PROXY_HEALTH_TIMEOUT_SECONDS, _serve_port(container), c.RAY_SERVE_PROXY_HEALTH_PATH)
            readiness.pop("httpGet", None)
            readiness["exec"] = {"command": ["bash", "-c", " && ".join([*checks, serve])]}
            readiness["failureThreshold"] = c.SERVE_READINESS_PROBE_FAILURE_THRESHOLD
        container["readinessProbe"] = readiness
