"""Reading container resources out of raw pod templates.

Why: ``ray start`` flags and the status' desired totals both read ``resources.limits`` and
``resources.requests`` of raw container dicts, and both must agree on what counts as a GPU. The
GPU rule is KubeRay's: a resource name ending in ``gpu`` (``nvidia.com/gpu``, ``amd.com/gpu``) or an
NVIDIA MIG slice (``nvidia.com/mig-<n>g.<m>gb``).

Entries whose value does not parse as a quantity are skipped, never raised: the API server
validates pod resources when the pod is created, and a builder must not crash a reconcile on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ray_operator.builders import quantities
from ray_operator.builders.quantities import Quantity

__all__ = ["container_resources", "fixed_resources", "is_gpu_resource", "pod_resource_totals"]

_MIG_RE = re.compile(r"nvidia\.com/mig-\d+g\.\d+gb$")


def is_gpu_resource(name: str) -> bool:
    return name.endswith("gpu") or _MIG_RE.search(name) is not None


def container_resources(container: Mapping[str, Any], kind: str) -> dict[str, Quantity]:
    """The parsed ``resources.<kind>`` (``limits`` or ``requests``) of a raw container, in manifest order."""
    resources = container.get("resources")
    section = resources.get(kind) if isinstance(resources, Mapping) else None
    result: dict[str, Quantity] = {}
    if isinstance(section, Mapping):
        for name, raw in section.items():
            parsed = quantities.parse(raw)
            if isinstance(name, str) and parsed is not None:
                result[name] = parsed
    return result


def pod_resource_totals(containers: Iterable[Mapping[str, Any]]) -> dict[str, Quantity]:
    """Per resource name, the sum over containers of the request, or the limit when there is no request.

    KubeRay's ``CalculatePodResource``: requests win over limits per container, init containers and
    operator-added sidecars are not counted (only the template's containers are).
    """
    totals: dict[str, Quantity] = {}
    for container in containers:
        merged = container_resources(container, "requests")
        for name, quantity in container_resources(container, "limits").items():
            merged.setdefault(name, quantity)
        for name, quantity in merged.items():
            totals[name] = totals[name] + quantity if name in totals else quantity
    return totals


def fixed_resources(cpu: str, memory: str) -> dict[str, Any]:
    """Requests equal to limits: what the operator's own containers get (ResourceQuota and GKE Autopilot need them)."""
    amounts = {"cpu": cpu, "memory": memory}
    return {"limits": dict(amounts), "requests": dict(amounts)}
