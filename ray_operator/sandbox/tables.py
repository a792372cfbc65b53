"""``meta.k8s.io/v1`` Table rendering for ``kubectl get``: CRD printer columns and the built-in printers.

kubectl asks for ``as=Table`` and prints whatever columns the server returns; without a Table it
falls back to ``NAME AGE``. So the emulator renders Tables like kube-apiserver: custom resources get
``Name`` plus the CRD's ``additionalPrinterColumns`` (or ``Age`` when it declares none), evaluated
with the simple JSONPath forms CRDs use; built-ins get kube-apiserver's printer columns (pods with
kubectl's STATUS logic, services, deployments, …), always including the ``priority: 1`` columns
that only ``-o wide`` shows; kinds without a printer (CRDs) get ``Name`` and ``Created At``.

Decided against a full JSONPath implementation (filters and ranges are not allowed in printer
columns) and against printing on the client side (kubectl never does it for server Tables).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ray_operator.apimachinery.govalues import go_float
from ray_operator.apimachinery.selectors import format_label_selector
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema.definitions import load_definitions

Obj = Mapping[str, Any]
Cells = list[Any]


def _meta_description(field: str) -> str:
    props = load_definitions().get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", {}).get("properties", {})
    return str(props.get(field, {}).get("description", ""))


def _column(
    name: str, type_: str = "string", description: str = "", *, priority: int = 0, format_: str = ""
) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": format_, "description": description, "priority": priority}


def _name_column() -> dict[str, Any]:
    return _column("Name", "string", _meta_description("name"), format_="name")


def _age_column(type_: str = "string") -> dict[str, Any]:
    return _column("Age", type_, _meta_description("creationTimestamp"))


# -- time ----------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """kubectl's ``HumanDuration``: ``45s``, ``5m12s``, ``3h20m``, ``3d4h``, ``2y30d``…"""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any, now: datetime) -> str:
    """The age column text: ``<unknown>`` when the timestamp is missing, ``<invalid>`` in the future."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def _rfc3339(timestamp: Any) -> str:
    when = parse_time(timestamp)
    if when is None:
        return "0001-01-01T00:00:00Z"
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- simple JSONPath -----------------------------------------------------------------------------

_JSONPATH_TOKEN = re.compile(
    r"""\.\.?(?P<field>(?:\\.|[^.\[\\])+)|\[(?P<index>-?\d+)\]|\[\*\]|\.\*|\[(?P<quote>['"])(?P<key>.*?)(?P=quote)\]"""
)


class JsonPathError(ValueError):
    """A printer-column path outside the simple forms CRDs may use."""


def parse_jsonpath(path: str) -> list[tuple[str, Any]]:
    """Steps of a simple JSONPath (``.a.b``, ``[0]``, ``[*]``, ``['k']``); the surrounding ``{}`` is optional."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        match = _JSONPATH_TOKEN.match(text, pos)
        if not match:
            raise JsonPathError(f"unrecognized JSONPath at {text[pos:]!r}")
        if match.group("field") is not None:
            steps.append(("key", re.sub(r"\\(.)", r"\1", match.group("field"))))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        elif match.group("key") is not None:
            steps.append(("key", match.group("key")))
        else:
            steps.append(("all", None))
        pos = match.end()
    return steps


def find_values(obj: Any, path: str) -> list[Any]:
    """Every value the path selects (missing keys select nothing, as with AllowMissingKeys)."""
    return _select(obj, parse_jsonpath(path))


def _select(obj: Any, steps: Sequence[tuple[str, Any]]) -> list[Any]:
    current = [obj]
    for kind, arg in steps:
        following: list[Any] = []
        for value in current:
            found_key = kind == "key" and isinstance(value, Mapping) and arg in value
            found_index = kind == "index" and isinstance(value, list) and -len(value) <= arg < len(value)
            if found_key or found_index:
                following.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, Mapping):
                    following.extend(value[k] for k in sorted(value))
        current = following
    return current


def _text(value: Any) -> str:
    """How kubectl's JSONPath printer renders one value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _column_steps(column: Mapping[str, Any]) -> list[tuple[str, Any]] | None:
    """A printer column's parsed path, or None when it is outside the supported forms (its cells stay empty)."""
    try:
        return parse_jsonpath(str(column.get("jsonPath", "")))
    except JsonPathError:
        return None


def _custom_cell(column: Mapping[str, Any], steps: Sequence[tuple[str, Any]] | None, obj: Obj, now: datetime) -> Any:
    if steps is None:
        return None
    values = _select(obj, steps)
    if not values or values[0] is None:
        return None
    value = values[0]
    kind = column.get("type")
    if kind == "string":
        return _text(value)
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if math.isfinite(value) else None
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return "<invalid>" if parse_time(value) is None else age(value, now)
    return None


def _declared_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The CRD's printer columns, or the ``Age`` column kube-apiserver shows when it declares none."""
    return [c for c in printer_columns if isinstance(c, Mapping)] or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": _meta_description("creationTimestamp"),
        }
    ]


def custom_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Column definitions of a custom resource: Name, then the CRD's columns (or Age when none)."""
    columns = [_name_column()]
    for col in _declared_columns(printer_columns):
        path = str(col.get("jsonPath", ""))
        columns.append(
            _column(
                str(col.get("name", "")),
                str(col.get("type", "string")),
                str(col.get("description") or f"Custom resource definition column (in JSONPath format): {path}"),
                priority=_int(col.get("priority")),
                format_=str(col.get("format", "")),
            )
        )
    return columns


# -- built-in printers ---------------------------------------------------------------------------


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _int(value: Any) -> int:
    """A count from a stored object; anything that is not a finite number counts as 0 (never crash a get)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return int(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _pod_cells(pod: Obj, now: datetime) -> tuple[Cells, list[dict[str, Any]]]:
    spec = _get(pod, "spec") or {}
    status = _get(pod, "status") or {}
    containers = _list(spec.get("containers"))
    init_specs = {c.get("name"): c for c in _list(spec.get("initContainers")) if isinstance(c, Mapping)}
    total = len(containers) + sum(1 for c in init_specs.values() if c.get("restartPolicy") == "Always")
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    sidecar_last_restart: datetime | None = None
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    conditions = [c for c in _list(status.get("conditions")) if isinstance(c, Mapping)]
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"

    def later(current: datetime | None, container: Mapping[str, Any]) -> datetime | None:
        finished = parse_time(_get(container, "lastState", "terminated", "finishedAt"))
        if finished and (current is None or finished > current):
            return finished
        return current

    initializing = False
    init_statuses = [c for c in _list(status.get("initContainerStatuses")) if isinstance(c, Mapping)]
    for index, cs in enumerate(init_statuses):
        restarts += _int(cs.get("restartCount"))
        last_restart = later(last_restart, cs)
        sidecar = _get(init_specs.get(cs.get("name")), "restartPolicy") == "Always"
        if sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            sidecar_last_restart = later(sidecar_last_restart, cs)
        terminated = _get(cs, "state", "terminated")
        waiting = _get(cs, "state", "waiting")
        if isinstance(terminated, Mapping) and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started") is True:
            ready += 1 if cs.get("ready") else 0
            continue
        if isinstance(terminated, Mapping):
            if terminated.get("reason"):
                reason = f"Init:{terminated['reason']}"
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif isinstance(waiting, Mapping) and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts = sidecar_restarts
        last_restart = sidecar_last_restart
        has_running = False
        for cs in reversed([c for c in _list(status.get("containerStatuses")) if isinstance(c, Mapping)]):
            restarts += _int(cs.get("restartCount"))
            last_restart = later(last_restart, cs)
            waiting = _get(cs, "state", "waiting")
            terminated = _get(cs, "state", "terminated")
            if isinstance(waiting, Mapping) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, Mapping) and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif isinstance(terminated, Mapping):
                reason = (
                    f"Signal:{terminated['signal']}"
                    if terminated.get("signal")
                    else f"ExitCode:{terminated.get('exitCode', 0)}"
                )
            elif cs.get("ready") and isinstance(_get(cs, "state", "running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    deleting = _meta(pod).get("deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"

    pod_ips = [p.get("ip") for p in _list(status.get("podIPs")) if isinstance(p, Mapping)]
    ip = pod_ips[0] if pod_ips and pod_ips[0] else status.get("podIP") or "<none>"
    gates = _list(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        by_type = {c.get("type"): c.get("status") for c in conditions}
        true_count = sum(1 for g in gates if isinstance(g, Mapping) and by_type.get(g.get("conditionType")) == "True")
        gates_text = f"{true_count}/{len(gates)}"
    cells: Cells = [
        _meta(pod).get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_text,
        age(_meta(pod).get("creationTimestamp"), now),
        ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]
    row_conditions: list[dict[str, Any]] = []
    if phase == "Succeeded":
        row_conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    elif phase == "Failed":
        row_conditions = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return cells, row_conditions


def _format_labels(selector: Any) -> str:
    if not isinstance(selector, Mapping) or not selector:
        return "<none>"
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector))


def _service_cells(svc: Obj, now: datetime) -> Cells:
    spec = _get(svc, "spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    cluster_ips = _list(spec.get("clusterIPs"))
    internal = cluster_ips[0] if cluster_ips else spec.get("clusterIP") or "<none>"
    external_ips = [str(i) for i in _list(spec.get("externalIPs"))]
    ingress = _list(_get(svc, "status", "loadBalancer", "ingress"))
    lb = [
        str(i.get("ip") or i.get("hostname"))
        for i in ingress
        if isinstance(i, Mapping) and (i.get("ip") or i.get("hostname"))
    ]
    if svc_type in ("ClusterIP", "NodePort"):
        external = ",".join(external_ips) or "<none>"
    elif svc_type == "LoadBalancer":
        external = ",".join(lb + external_ips) or "<pending>"
    elif svc_type == "ExternalName":
        external = str(spec.get("externalName", ""))
    else:
        external = "<unknown>"
    pieces = []
    for port in _list(spec.get("ports")):
        if not isinstance(port, Mapping):
            continue
        protocol = port.get("protocol") or "TCP"
        node_port = port.get("nodePort")
        pieces.append(f"{port.get('port')}:{node_port}/{protocol}" if node_port else f"{port.get('port')}/{protocol}")
    return [
        _meta(svc).get("name", ""),
        svc_type,
        internal,
        external,
        ",".join(pieces) or "<none>",
        age(_meta(svc).get("creationTimestamp"), now),
        _format_labels(spec.get("selector")),
    ]


def _containers_images(template_spec: Any) -> tuple[str, str]:
    containers = [c for c in _list(_get(template_spec, "containers")) if isinstance(c, Mapping)]
    return ",".join(str(c.get("name", "")) for c in containers), ",".join(str(c.get("image", "")) for c in containers)


def _deployment_cells(obj: Obj, now: datetime) -> Cells:
    spec = _get(obj, "spec") or {}
    status = _get(obj, "status") or {}
    desired = spec.get("replicas", 1)
    names, images = _containers_images(_get(spec, "template", "spec"))
    return [
        _meta(obj).get("name", ""),
        f"{_int(status.get('readyReplicas'))}/{_int(desired)}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        age(_meta(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _or_na(value: Any) -> Any:
    return "N/A" if value is None else value


def _statefulset_cells(obj: Obj, now: datetime) -> Cells:
    spec = _get(obj, "spec") or {}
    names, images = _containers_images(_get(spec, "template", "spec"))
    ready = f"{_int(_get(obj, 'status', 'readyReplicas'))}/{_int(spec.get('replicas', 1))}"
    return [_meta(obj).get("name", ""), ready, age(_meta(obj).get("creationTimestamp"), now), names, images]


def _replicaset_cells(obj: Obj, now: datetime) -> Cells:
    spec = _get(obj, "spec") or {}
    status = _get(obj, "status") or {}
    names, images = _containers_images(_get(spec, "template", "spec"))
    return [
        _meta(obj).get("name", ""),
        _int(spec.get("replicas", 1)),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        age(_meta(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _daemonset_cells(obj: Obj, now: datetime) -> Cells:
    spec = _get(obj, "spec") or {}
    status = _get(obj, "status") or {}
    names, images = _containers_images(_get(spec, "template", "spec"))
    return [
        _meta(obj).get("name", ""),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        _format_labels(_get(spec, "template", "spec", "nodeSelector")),
        age(_meta(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _job_cells(obj: Obj, now: datetime) -> Cells:
    spec = _get(obj, "spec") or {}
    status = _get(obj, "status") or {}
    completions = spec.get("completions")
    parallelism = spec.get("parallelism", 1)
    succeeded = _int(status.get("succeeded"))
    if completions is not None:
        completions_text = f"{succeeded}/{completions}"
    else:
        completions_text = f"{succeeded}/1 of {parallelism}" if parallelism and parallelism > 1 else f"{succeeded}/1"
    conditions = {c.get("type"): c.get("status") for c in _list(status.get("conditions")) if isinstance(c, Mapping)}
    if conditions.get("Complete") == "True":
        state = "Complete"
    elif conditions.get("Failed") == "True":
        state = "Failed"
    elif _meta(obj).get("deletionTimestamp"):
        state = "Terminating"
    elif conditions.get("Suspended") == "True":
        state = "Suspended"
    elif conditions.get("FailureTarget") == "True":
        state = "FailureTarget"
    else:
        state = "Running"
    start = parse_time(status.get("startTime"))
    end = parse_time(status.get("completionTime")) or now
    duration = human_duration((end - start).total_seconds()) if start else ""
    names, images = _containers_images(_get(spec, "template", "spec"))
    return [
        _meta(obj).get("name", ""),
        state,
        completions_text,
        duration,
        age(_meta(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _event_view(obj: Obj) -> dict[str, Any]:
    """An events.k8s.io/v1 Event seen through the core/v1 fields the printer reads."""
    if not str(obj.get("apiVersion", "")).startswith("events.k8s.io/"):
        return dict(obj)
    return {
        "metadata": _meta(obj),
        "type": obj.get("type"),
        "reason": obj.get("reason"),
        "message": obj.get("note"),
        "involvedObject": obj.get("regarding") or {},
        "source": obj.get("deprecatedSource") or {},
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": obj.get("reportingController"),
        "reportingInstance": obj.get("reportingInstance"),
    }


def _event_cells(raw: Obj, now: datetime) -> Cells:
    obj = _event_view(raw)
    first = age(obj.get("firstTimestamp"), now) if obj.get("firstTimestamp") else age(obj.get("eventTime"), now)
    last = age(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if isinstance(series, Mapping):
        last = age(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif not count:
        count = 1
    involved = obj.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or (obj.get("reportingInstance") if not source.get("component") else "") or ""
    source_text = f"{component}, {host}" if host else str(component)
    return [
        last,
        obj.get("type") or "",
        obj.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        source_text,
        str(obj.get("message") or "").strip(),
        first,
        _int(count),
        _meta(obj).get("name", ""),
    ]


def _node_cells(obj: Obj, now: datetime) -> Cells:
    status = _get(obj, "status") or {}
    conditions = {c.get("type"): c.get("status") for c in _list(status.get("conditions")) if isinstance(c, Mapping)}
    ready = conditions.get("Ready")
    state = "Unknown" if ready is None else "Ready" if ready == "True" else "NotReady"
    if _get(obj, "spec", "unschedulable"):
        state += ",SchedulingDisabled"
    labels = _meta(obj).get("labels") or {}
    role_set = {k.removeprefix("node-role.kubernetes.io/") for k in labels if k.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        role_set.add(str(labels["kubernetes.io/role"]))
    roles = sorted(role_set)
    addresses = [a for a in _list(status.get("addresses")) if isinstance(a, Mapping)]
    internal = next((a.get("address") for a in addresses if a.get("type") == "InternalIP"), "<none>")
    external = next((a.get("address") for a in addresses if a.get("type") == "ExternalIP"), "<none>")
    info = status.get("nodeInfo") or {}
    return [
        _meta(obj).get("name", ""),
        state,
        ",".join(r for r in roles if r) or "<none>",
        age(_meta(obj).get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        internal,
        external,
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _endpoints_text(obj: Obj) -> str:
    pieces: list[str] = []
    for subset in _list(obj.get("subsets")):
        if not isinstance(subset, Mapping):
            continue
        ports = [p for p in _list(subset.get("ports")) if isinstance(p, Mapping)] or [{}]
        for address in _list(subset.get("addresses")):
            if not isinstance(address, Mapping):
                continue
            for port in ports:
                pieces.append(f"{address.get('ip')}:{port['port']}" if "port" in port else str(address.get("ip")))
    if not pieces:
        return "<none>"
    if len(pieces) > 3:
        return ",".join(pieces[:3]) + f" + {len(pieces) - 3} more..."
    return ",".join(pieces)


def _ingress_cells(obj: Obj, now: datetime) -> Cells:
    spec = _get(obj, "spec") or {}
    rules = [r for r in _list(spec.get("rules")) if isinstance(r, Mapping)]
    hosts = [str(r.get("host")) for r in rules[:3] if r.get("host")]
    hosts_text = ",".join(hosts) or "*"
    if len(rules) > 3 and hosts:
        hosts_text += f" + {len(rules) - 3} more..."
    ingress = _list(_get(obj, "status", "loadBalancer", "ingress"))
    address = ",".join(str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, Mapping))
    return [
        _meta(obj).get("name", ""),
        spec.get("ingressClassName") or "<none>",
        hosts_text,
        address,
        "80, 443" if spec.get("tls") else "80",
        age(_meta(obj).get("creationTimestamp"), now),
    ]


def _binding_cells(obj: Obj, now: datetime) -> Cells:
    role = obj.get("roleRef") or {}
    subjects = [s for s in _list(obj.get("subjects")) if isinstance(s, Mapping)]
    users = ", ".join(str(s.get("name")) for s in subjects if s.get("kind") == "User")
    groups = ", ".join(str(s.get("name")) for s in subjects if s.get("kind") == "Group")
    accounts = ", ".join(
        f"{s.get('namespace', '')}/{s.get('name')}" for s in subjects if s.get("kind") == "ServiceAccount"
    )
    return [
        _meta(obj).get("name", ""),
        f"{role.get('kind', '')}/{role.get('name', '')}",
        age(_meta(obj).get("creationTimestamp"), now),
        users,
        groups,
        accounts,
    ]


def _named(*columns: dict[str, Any]) -> list[dict[str, Any]]:
    return [_name_column(), *columns]


_PrinterFn = Callable[[Obj, datetime], Cells]


def _simple(*extra: Callable[[Obj], Any]) -> _PrinterFn:
    def cells(obj: Obj, now: datetime) -> Cells:
        return [_meta(obj).get("name", ""), *(fn(obj) for fn in extra), age(_meta(obj).get("creationTimestamp"), now)]

    return cells


_CREATED_AT = _column("Created At", "date", _meta_description("creationTimestamp"))


def _created_at(obj: Obj, now: datetime) -> Cells:
    return [_meta(obj).get("name", ""), _rfc3339(_meta(obj).get("creationTimestamp"))]


_PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], _PrinterFn]] = {
    ("", "Service"): (
        _named(
            _column("Type", description="Type of the service."),
            _column("Cluster-IP", description="The IP address of the service inside the cluster."),
            _column("External-IP", description="The external addresses of the service."),
            _column("Port(s)", description="The ports the service exposes."),
            _age_column(),
            _column("Selector", description="The labels of the pods behind the service.", priority=1),
        ),
        _service_cells,
    ),
    ("", "Namespace"): (
        _named(_column("Status", description="The phase of the namespace."), _age_column()),
        _simple(lambda o: _get(o, "status", "phase") or ""),
    ),
    ("", "Secret"): (
        _named(
            _column("Type", description="The type of the secret."),
            _column("Data", description="The number of data entries."),
            _age_column(),
        ),
        _simple(lambda o: o.get("type") or "Opaque", lambda o: len(o.get("data") or {})),
    ),
    ("", "ConfigMap"): (
        _named(_column("Data", description="The number of data entries."), _age_column()),
        _simple(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
    ),
    ("", "ServiceAccount"): (
        _named(_column("Secrets", description="The number of secrets of the service account."), _age_column()),
        _simple(lambda o: len(_list(o.get("secrets")))),
    ),
    ("", "Endpoints"): (
        _named(_column("Endpoints", description="The addresses and ports of the endpoints."), _age_column()),
        _simple(_endpoints_text),
    ),
    ("", "Node"): (
        _named(
            _column("Status", description="The status of the node."),
            _column("Roles", description="The roles of the node."),
            _age_column(),
            _column("Version", description="The kubelet version of the node."),
            _column("Internal-IP", description="The internal IP of the node.", priority=1),
            _column("External-IP", description="The external IP of the node.", priority=1),
            _column("OS-Image", description="The OS image of the node.", priority=1),
            _column("Kernel-Version", description="The kernel version of the node.", priority=1),
            _column("Container-Runtime", description="The container runtime of the node.", priority=1),
        ),
        _node_cells,
    ),
    ("coordination.k8s.io", "Lease"): (
        _named(_column("Holder", description="The holder of the lease."), _age_column()),
        _simple(lambda o: _get(o, "spec", "holderIdentity") or ""),
    ),
    ("apps", "Deployment"): (
        _named(
            _column("Ready", description="Number of the pod with ready state."),
            _column(
                "Up-to-date",
                "string",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            _column(
                "Available",
                "string",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            _age_column(),
            _column("Containers", description="Names of each container in the template.", priority=1),
            _column("Images", description="Images referenced by each container in the template.", priority=1),
            _column("Selector", description="Label selector for pods.", priority=1),
        ),
        _deployment_cells,
    ),
    ("batch", "Job"): (
        _named(
            _column("Status", description="Status of the job."),
            _column(
                "Completions",
                description="The desired number of successfully finished pods the job should be run with.",
            ),
            _column("Duration", description="Time required to complete the job."),
            _age_column(),
            _column("Containers", description="Names of each container in the template.", priority=1),
            _column("Images", description="Images referenced by each container in the template.", priority=1),
            _column("Selector", description="Label selector for pods.", priority=1),
        ),
        _job_cells,
    ),
    ("networking.k8s.io", "Ingress"): (
        _named(
            _column("Class", description="The name of the IngressClass."),
            _column("Hosts", description="Hosts that incoming requests are matched against."),
            _column("Address", description="Address is a list containing ingress points for the load-balancer."),
            _column("Ports", description="Ports of TLS configurations that open."),
            _age_column(),
        ),
        _ingress_cells,
    ),
    ("policy", "PodDisruptionBudget"): (
        _named(
            _column("Min Available", description="The minimum number or percentage of available pods."),
            _column("Max Unavailable", description="The maximum number or percentage of unavailable pods."),
            _column("Allowed Disruptions", "integer", "The number of pod disruptions currently allowed."),
            _age_column(),
        ),
        _simple(
            lambda o: _or_na(_get(o, "spec", "minAvailable")),
            lambda o: _or_na(_get(o, "spec", "maxUnavailable")),
            lambda o: _int(_get(o, "status", "disruptionsAllowed")),
        ),
    ),
    ("apps", "StatefulSet"): (
        _named(
            _column("Ready", description="Number of the pod with ready state."),
            _age_column(),
            _column("Containers", description="Names of each container in the template.", priority=1),
            _column("Images", description="Images referenced by each container in the template.", priority=1),
        ),
        _statefulset_cells,
    ),
    ("apps", "ReplicaSet"): (
        _named(
            _column("Desired", "integer", "Number of desired pods."),
            _column("Current", "integer", "Number of actually running pods."),
            _column("Ready", "integer", "Number of ready pods."),
            _age_column(),
            _column("Containers", description="Names of each container in the template.", priority=1),
            _column("Images", description="Images referenced by each container in the template.", priority=1),
            _column("Selector", description="Label selector for pods.", priority=1),
        ),
        _replicaset_cells,
    ),
    ("apps", "DaemonSet"): (
        _named(
            _column("Desired", "integer", "The desired number of daemon pods."),
            _column("Current", "integer", "The current number of daemon pods."),
            _column("Ready", "integer", "The number of ready daemon pods."),
            _column("Up-to-date", "integer", "The number of daemon pods running the current template."),
            _column("Available", "integer", "The number of available daemon pods."),
            _column("Node Selector", description="The node selector of the daemon pods."),
            _age_column(),
            _column("Containers", description="Names of each container in the template.", priority=1),
            _column("Images", description="Images referenced by each container in the template.", priority=1),
            _column("Selector", description="Label selector for pods.", priority=1),
        ),
        _daemonset_cells,
    ),
    ("networking.k8s.io", "NetworkPolicy"): (
        _named(_column("Pod-Selector", description="The pods the policy applies to."), _age_column()),
        _simple(lambda o: format_label_selector(_get(o, "spec", "podSelector"))),
    ),
    ("rbac.authorization.k8s.io", "Role"): (_named(_CREATED_AT), _created_at),
    ("rbac.authorization.k8s.io", "ClusterRole"): (_named(_CREATED_AT), _created_at),
}

_EVENT_PRINTER: tuple[list[dict[str, Any]], _PrinterFn] = (
    [
        _column("Last Seen", description="The time at which the most recent occurrence of this event was recorded."),
        _column("Type", description="Type of this event (Normal, Warning)."),
        _column("Reason", description="A short, machine understandable string that gives the reason for the event."),
        _column("Object", description="The object that this event is about."),
        _column("Subobject", description="The field of the object this event is about.", priority=1),
        _column("Source", description="The component reporting this event.", priority=1),
        _column("Message", description="A human-readable description of the status of this operation."),
        _column("First Seen", description="The time at which the event was first recorded.", priority=1),
        _column("Count", description="The number of times this event has occurred.", priority=1),
        _column("Name", description=_meta_description("name"), priority=1, format_="name"),
    ],
    _event_cells,
)
_PRINTERS[("", "Event")] = _EVENT_PRINTER
_PRINTERS[("events.k8s.io", "Event")] = _EVENT_PRINTER
for _binding in ("RoleBinding", "ClusterRoleBinding"):
    _PRINTERS[("rbac.authorization.k8s.io", _binding)] = (
        _named(
            _column("Role", description="Role referenced by this binding."),
            _age_column(),
            _column("Users", description="Users in the binding.", priority=1),
            _column("Groups", description="Groups in the binding.", priority=1),
            _column("ServiceAccounts", description="ServiceAccounts in the binding.", priority=1),
        ),
        _binding_cells,
    )
for _webhook in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
    _PRINTERS[("admissionregistration.k8s.io", _webhook)] = (
        _named(_column("Webhooks", "integer", "Webhooks indicates the number of webhooks."), _age_column()),
        _simple(lambda o: len(_list(o.get("webhooks")))),
    )

_POD_COLUMNS = _named(
    _column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    _column("Status", description="The aggregate status of the containers in this pod."),
    _column(
        "Restarts",
        description="The number of times the containers in this pod have been restarted "
        "and when the last container in this pod has restarted.",
    ),
    _age_column(),
    _column("IP", description="IP address allocated to the pod.", priority=1),
    _column("Node", description="The node the pod is scheduled on.", priority=1),
    _column("Nominated Node", description="The node the scheduler nominated for the pod.", priority=1),
    _column("Readiness Gates", description="Pod readiness gates that are true, of all.", priority=1),
)


# -- the table -----------------------------------------------------------------------------------


def _fallback_cells(obj: Obj, width: int) -> Cells:
    """The name and empty cells, for a stored object too malformed for its printer."""
    name = _meta(obj).get("name", "") if isinstance(obj, Mapping) else ""
    return [name, *([None] * (width - 1))]


def _safe_cells(printer: _PrinterFn, obj: Obj, now: datetime, width: int) -> Cells:
    try:
        return printer(obj, now)
    except (AttributeError, TypeError, ValueError):
        return _fallback_cells(obj, width)


def _row_object(obj: Obj, include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return dict(obj)
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": dict(_meta(obj))}


def render_table(
    rt: ResourceType, objects: list[dict[str, Any]], *, include_object: str, now: datetime
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects``; the caller fills ``metadata.resourceVersion``/``continue``.

    ``include_object`` is the request's ``includeObject``: ``Metadata`` (the default: a
    PartialObjectMetadata, which kubectl needs for ``-A``), ``Object`` or ``None``.
    """
    rows: list[dict[str, Any]] = []
    if rt.is_custom:
        columns = custom_columns(rt.printer_columns)
        declared = [(col, _column_steps(col)) for col in _declared_columns(rt.printer_columns)]  # parsed once
        for obj in objects:
            cells: Cells = [_meta(obj).get("name", "")]
            cells.extend(_custom_cell(col, steps, obj, now) for col, steps in declared)
            rows.append({"cells": cells})
    elif (rt.group, rt.kind) == ("", "Pod"):
        columns = _POD_COLUMNS
        for obj in objects:
            try:
                pod_cells, conditions = _pod_cells(obj, now)
            except (AttributeError, TypeError, ValueError):
                pod_cells, conditions = _fallback_cells(obj, len(columns)), []
            row: dict[str, Any] = {"cells": pod_cells}
            if conditions:
                row["conditions"] = conditions
            rows.append(row)
    else:
        columns, printer = _PRINTERS.get((rt.group, rt.kind), (_named(_CREATED_AT), _created_at))
        rows = [{"cells": _safe_cells(printer, obj, now, len(columns))} for obj in objects]
    for row, obj in zip(rows, objects, strict=True):
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [dict(c) for c in columns],
        "rows": rows,
    }
