"""The progress view of ``ray-operator sandbox --apply``: what each RayCluster is doing, as a person reads it.

Per RayCluster one block: its state, desired and ready workers of each group, the head's IP and the
last event about it. ``summarize`` turns API objects into a ``ClusterView`` and ``render`` lays views
out as lines: pure functions, tested without a terminal. ``watch_progress`` polls the API (every
``interval`` seconds) and either redraws the block in place on a terminal (cursor up, clear to the
end of the screen) or, when stdout is not a terminal, prints one plain line per RayCluster whenever
what it shows changes, so a log file or CI output reads as a history instead of escape codes.

Reads go to the API server, like ``kubectl get``: the view shows what a user would see, not the
operator's caches. Desired counts come from ``builders.replicas`` (the rule the reconciler scales by).

Decided against: a watch (three kinds, one small poll is simpler and a view is allowed to lag half a
second) and a curses full-screen UI (it would hide the usage text and the kubectl commands above it).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from pydantic import ValidationError

from ray_operator.api import constants as c
from ray_operator.api.models import WorkerGroupSpec
from ray_operator.builders.replicas import desired_worker_count
from ray_operator.kube.client import ApiError, request_json

__all__ = ["ClusterView", "GroupView", "render", "render_plain", "summarize", "watch_progress"]

CLEAR_TO_END = "\x1b[J"


@dataclass(frozen=True)
class GroupView:
    name: str
    desired: int
    ready: int


@dataclass(frozen=True)
class ClusterView:
    namespace: str
    name: str
    state: str
    head_ready: bool
    head_ip: str
    groups: tuple[GroupView, ...]
    last_event: str


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _ready(pod: Mapping[str, Any]) -> bool:
    """Running, with the Ready condition True, and not being deleted."""
    if _meta(pod).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(cond.get("type") == "Ready" and cond.get("status") == "True" for cond in status.get("conditions") or ())


def _desired(group: Mapping[str, Any], suspended: bool) -> int:
    if suspended:
        return 0
    try:
        return desired_worker_count(WorkerGroupSpec.model_validate(group))
    except ValidationError:
        return int(group.get("replicas") or 0)


def _event_time(event: Mapping[str, Any]) -> str:
    series = event.get("series") or {}
    return str(
        series.get("lastObservedTime")
        or event.get("lastTimestamp")
        or event.get("eventTime")
        or _meta(event).get("creationTimestamp")
        or ""
    )


def summarize(
    cluster: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
) -> ClusterView:
    """One RayCluster's view from the cluster, its pods and the core/v1 events of the namespace."""
    meta = _meta(cluster)
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    spec = cluster.get("spec") or {}
    status = cluster.get("status") or {}
    mine = [p for p in pods if (_meta(p).get("labels") or {}).get(c.RAY_CLUSTER_LABEL) == name]
    heads = [p for p in mine if (_meta(p).get("labels") or {}).get(c.RAY_NODE_TYPE_LABEL) == "head"]
    groups = []
    suspended = bool(spec.get("suspend"))
    for group in spec.get("workerGroupSpecs") or ():
        group_name = str(group.get("groupName") or "")
        ready = sum(
            1
            for p in mine
            if (_meta(p).get("labels") or {}).get(c.RAY_GROUP_LABEL) == group_name
            and (_meta(p).get("labels") or {}).get(c.RAY_NODE_TYPE_LABEL) != "head"
            and _ready(p)
        )
        groups.append(GroupView(group_name, _desired(group, suspended), ready))
    head_ip = str((status.get("head") or {}).get("podIP") or "")
    if not head_ip and heads:
        head_ip = str((heads[0].get("status") or {}).get("podIP") or "")
    about = [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("kind") == "RayCluster"
        and (e.get("involvedObject") or {}).get("name") == name
    ]
    last = max(about, key=_event_time, default=None)
    last_event = f"{last.get('reason')}: {last.get('message') or ''}".strip() if last is not None else ""
    return ClusterView(
        namespace=namespace,
        name=name,
        state=str(status.get("state") or "pending"),
        head_ready=any(_ready(h) for h in heads),
        head_ip=head_ip,
        groups=tuple(groups),
        last_event=last_event,
    )


def _groups_text(view: ClusterView) -> str:
    return ", ".join(f"{g.name} {g.ready}/{g.desired}" for g in view.groups) or "no worker groups"


def render(views: Sequence[ClusterView], *, width: int = 100) -> list[str]:
    """The terminal block: a header line, then per RayCluster its state line and its last event."""
    if not views:
        return ["RayClusters: none yet"]
    lines = [f"RayClusters ({len(views)}):"]
    for view in views:
        head = f"head {'ready' if view.head_ready else 'not ready'}" + (f" {view.head_ip}" if view.head_ip else "")
        lines.append(f"  {view.namespace}/{view.name}  {view.state}  {head}  workers: {_groups_text(view)}")
        if view.last_event:
            lines.append(f"    last event: {view.last_event}")
    return [line if len(line) <= width else line[: max(width - 1, 1)] + "…" for line in lines]


def render_plain(view: ClusterView) -> str:
    """One log line for a RayCluster (non-terminal output)."""
    parts = [
        f"raycluster {view.namespace}/{view.name}",
        f"state={view.state}",
        f"head={'ready' if view.head_ready else 'not-ready'}",
        f"head_ip={view.head_ip or '-'}",
        f"workers={_groups_text(view).replace(' ', '')}",
    ]
    if view.last_event:
        parts.append(f"last_event={view.last_event!r}")
    return " ".join(parts)


async def _items(api_client: Any, path: str, **query: str) -> list[dict[str, Any]]:
    body = (await request_json(api_client, "GET", path, timeout=10, query=list(query.items()))).body
    items: list[dict[str, Any]] = (body or {}).get("items") or []
    return items


async def snapshot(api_client: Any) -> list[ClusterView]:
    """Every RayCluster's view, from three reads across all namespaces."""
    clusters = await _items(api_client, "/apis/ray.io/v1/rayclusters")
    pods = await _items(api_client, "/api/v1/pods", labelSelector=c.RAY_CLUSTER_LABEL)
    events = await _items(api_client, "/api/v1/events", fieldSelector="involvedObject.kind=RayCluster")
    views = [summarize(cl, pods, events) for cl in clusters]
    return sorted(views, key=lambda v: (v.namespace, v.name))


async def watch_progress(
    api_client: Any, *, out: TextIO, tty: bool, interval: float = 0.5, width: int | None = None
) -> None:
    """Show the view until cancelled: redrawn in place on a terminal, one line per change otherwise."""
    drawn = 0
    shown: dict[tuple[str, str], str] = {}
    while True:
        try:
            views = await snapshot(api_client)
        except (ApiError, OSError, TimeoutError) as exc:  # the view must not end the sandbox; try again
            if not tty:
                print(f"progress: cannot read the cluster: {exc}", file=out, flush=True)
            await asyncio.sleep(interval)
            continue
        if tty:
            lines = render(views, width=width or shutil.get_terminal_size((100, 24)).columns)
            up = f"\x1b[{drawn}F" if drawn else ""
            out.write(up + CLEAR_TO_END + "\n".join(lines) + "\n")
            out.flush()
            drawn = len(lines)
        else:
            for view in views:
                line = render_plain(view)
                if shown.get((view.namespace, view.name)) != line:
                    shown[(view.namespace, view.name)] = line
                    print(line, file=out, flush=True)
        await asyncio.sleep(interval)
