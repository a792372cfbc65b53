"""Services: type and port defaults, and the cluster IP and node ports the API server allocates on create.

``spec.clusterIP`` is immutable once set, as upstream (422), and an update that omits it keeps the
allocated one, so ``kubectl apply`` of a manifest without a clusterIP works twice. IPs come from the
``10.96.0.0/12`` service range, skipping the low addresses a cluster keeps for its own services; node
ports from 30000-32767. Defaulting is pure: the addresses in use are read from the store and passed in.
Decided against: deriving Endpoints or EndpointSlices from Services (no endpoints controller runs).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.strategy import StrategyHost
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.store import GroupResource

SERVICE_GR: GroupResource = ("", "services")


def allocate_ip(used: Iterable[str], *, cidr: str = "10.96.0.0/12") -> str:
    taken = set(used)
    network = ipaddress.ip_network(cidr)
    for offset, host in enumerate(network.hosts()):
        if offset < 9:
            continue  # the low addresses are kept for the kubernetes and DNS services
        if str(host) not in taken:
            return str(host)
    raise errors.internal(f"range is full: no IP address left in {cidr}")


def default_service(
    svc: dict[str, Any],
    *,
    old: dict[str, Any] | None,
    used_ips: Callable[[], Iterable[str]],
    used_node_ports: Callable[[], Iterable[int]],
) -> dict[str, Any]:
    """Service defaulting and IP/nodePort allocation; ``spec.clusterIP`` is immutable once set."""
    out = copy.deepcopy(svc)
    spec = out.setdefault("spec", {})
    if not isinstance(spec, dict):
        return out
    old_spec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if spec["type"] != "ExternalName":
        if old_spec.get("clusterIP") and not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        if old_spec.get("clusterIP") and spec.get("clusterIP") != old_spec["clusterIP"]:
            raise errors.invalid(
                "Service",
                "",
                str((out.get("metadata") or {}).get("name", "")),
                [
                    errors.Cause(
                        reason="FieldValueInvalid",
                        field="spec.clusterIPs[0]",
                        message=f'Invalid value: []string{{"{spec.get("clusterIP")}"}}: may not change once set',
                    )
                ],
            )
        if not spec.get("clusterIP"):
            spec["clusterIP"] = allocate_ip(used_ips())
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        taken = set(used_node_ports())
        old_ports = {p.get("port"): p.get("nodePort") for p in old_spec.get("ports") or () if isinstance(p, dict)}
        for port in spec.get("ports") or ():
            if isinstance(port, dict) and not port.get("nodePort"):
                port["nodePort"] = old_ports.get(port.get("port")) or next(
                    n for n in range(30000, 32768) if n not in taken
                )
                taken.add(port["nodePort"])
    out.setdefault("status", {"loadBalancer": {}})
    return out


def _used_ips(host: StrategyHost) -> list[str]:
    return [str((s.get("spec") or {}).get("clusterIP")) for s in host.store.items(SERVICE_GR)]


def _used_node_ports(host: StrategyHost) -> list[int]:
    return [
        int(p["nodePort"])
        for s in host.store.items(SERVICE_GR)
        for p in (s.get("spec") or {}).get("ports") or ()
        if isinstance(p, dict) and isinstance(p.get("nodePort"), int)
    ]


class ServiceStrategy(BuiltinStrategy):
    def prepare_for_create(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return self._defaults(host, obj, None)

    def prepare_for_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        return self._defaults(host, obj, old)

    def _defaults(self, host: StrategyHost, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        return default_service(
            obj, old=old, used_ips=lambda: _used_ips(host), used_node_ports=lambda: _used_node_ports(host)
        )
