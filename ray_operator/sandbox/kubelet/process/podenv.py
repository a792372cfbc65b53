"""What a container sees, computed as the kubelet computes it: environment, cluster DNS names, limits.

Pure functions of the pod and the objects it references, so they are tested without processes:

* ``container_env`` resolves ``env`` the way the kubelet does - ``value`` with ``$(VAR)`` expansion over
  the variables defined before it (``$$`` escapes, unknown references stay literal), ``fieldRef``
  (metadata.name/namespace/uid, labels['k'], annotations['k'], spec.nodeName, spec.serviceAccountName,
  status.podIP/hostIP), ``resourceFieldRef`` (limits/requests with a divisor), ``secretKeyRef`` and
  ``configMapKeyRef`` (a missing optional key is skipped, a missing required one is an error naming it),
  ``envFrom`` - and adds ``KUBERNETES_SERVICE_*`` pointing at the API server's in-pod address.
  Expanding ``$(VAR)`` here matters: a shell would read it as command substitution.
* ``hosts_file`` maps every name a pod may use for a Service (``svc``, ``svc.ns``, ``svc.ns.svc``,
  ``svc.ns.svc.cluster.local``) to an endpoint pod IP, as cluster DNS would for a headless Service.
* ``expand_command`` applies ``$(VAR)`` to command and args, as the kubelet does before exec.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from ray_operator.apimachinery.quantity import parse_quantity
from ray_operator.apimachinery.selectors import label_selector_from_object

CLUSTER_DOMAIN = "cluster.local"
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")
_FIELD_LABEL = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class EnvError(ValueError):
    """A reference the container cannot start without (the kubelet's CreateContainerConfigError)."""


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def expand(text: str, env: Mapping[str, str]) -> str:
    """``$(VAR)`` → its value when defined; ``$$`` → ``$``; anything else unchanged."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REF.sub(sub, text)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    meta, spec, status = _d(pod.get("metadata")), _d(pod.get("spec")), _d(pod.get("status"))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    match = _FIELD_LABEL.match(path)
    if match:
        return str(_d(meta.get(match.group(1))).get(match.group(2), ""))
    raise EnvError(f"unsupported fieldRef fieldPath {path!r}")


def resource_value(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise EnvError(f"unsupported resourceFieldRef resource {resource!r}")
    resources = _d(container.get("resources"))
    amount = parse_quantity(_d(resources.get(kind)).get(name))
    if amount is None and kind == "requests":
        amount = parse_quantity(_d(resources.get("limits")).get(name))
    if amount is None:
        return "0"  # the kubelet reports node allocatable; there is no node size to report here
    divisor = parse_quantity(ref.get("divisor") or "1") or Decimal(1)
    return str(int((amount / divisor).to_integral_value(rounding=ROUND_CEILING)))


def _key_ref(ref: Mapping[str, Any], objects: Mapping[str, Mapping[str, Any]], kind: str, var: str) -> str | None:
    name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
    obj = objects.get(name)
    optional = ref.get("optional") is True
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind} "{name}" not found (env {var})')
    if kind == "secret":
        data = _d(obj.get("data"))
        if key in data:
            return base64.b64decode(str(data[key])).decode(errors="replace")
        value = _d(obj.get("stringData")).get(key)
    else:
        value = _d(obj.get("data")).get(key)
    if value is None:
        if optional:
            return None
        raise EnvError(f'couldn\'t find key {key} in {kind} "{name}" (env {var})')
    return str(value)


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    api_host: str,
    api_port: int,
    secrets: Mapping[str, Mapping[str, Any]],
    config_maps: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """The container's environment as the kubelet builds it (before any base variables like PATH)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        source = _d(source)
        prefix = str(source.get("prefix") or "")
        for kind, objects in (("configMapRef", config_maps), ("secretRef", secrets)):
            ref = _d(source.get(kind))
            if not ref:
                continue
            obj = objects.get(str(ref.get("name") or ""))
            if obj is None:
                if ref.get("optional") is True:
                    continue
                raise EnvError(f'{"secret" if kind == "secretRef" else "configmap"} "{ref.get("name")}" not found')
            data = dict(_d(obj.get("data")))
            for key, raw in data.items():
                text = base64.b64decode(str(raw)).decode(errors="replace") if kind == "secretRef" else str(raw)
                env[prefix + key] = text
    env.update(
        {
            "KUBERNETES_SERVICE_HOST": api_host,
            "KUBERNETES_SERVICE_PORT": str(api_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(api_port),
            "KUBERNETES_PORT": f"tcp://{api_host}:{api_port}",
        }
    )
    for item in container.get("env") or []:
        item = _d(item)
        name = str(item.get("name") or "")
        if not name:
            continue
        if "value" in item or not item.get("valueFrom"):
            env[name] = expand(str(item.get("value") or ""), env)
            continue
        source = _d(item.get("valueFrom"))
        value: str | None
        if "fieldRef" in source:
            value = field_value(pod, str(_d(source["fieldRef"]).get("fieldPath") or ""))
        elif "resourceFieldRef" in source:
            value = resource_value(container, _d(source["resourceFieldRef"]))
        elif "secretKeyRef" in source:
            value = _key_ref(_d(source["secretKeyRef"]), secrets, "secret", name)
        elif "configMapKeyRef" in source:
            value = _key_ref(_d(source["configMapKeyRef"]), config_maps, "configmap", name)
        else:
            raise EnvError(f"env {name}: unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[name] = value
    return env


def expand_command(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """command + args with ``$(VAR)`` expanded; empty when the container relies on its image's entrypoint."""
    parts = [str(p) for p in (container.get("command") or [])] + [str(p) for p in (container.get("args") or [])]
    return [expand(p, env) for p in parts]


def referenced_names(pod: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(secret names, configmap names) the pod's env, envFrom and volumes refer to."""
    secrets: set[str] = set()
    maps: set[str] = set()
    spec = _d(pod.get("spec"))
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        container = _d(container)
        for item in container.get("env") or []:
            source = _d(_d(item).get("valueFrom"))
            if "secretKeyRef" in source:
                secrets.add(str(_d(source["secretKeyRef"]).get("name") or ""))
            if "configMapKeyRef" in source:
                maps.add(str(_d(source["configMapKeyRef"]).get("name") or ""))
        for source in container.get("envFrom") or []:
            source = _d(source)
            if source.get("secretRef"):
                secrets.add(str(_d(source["secretRef"]).get("name") or ""))
            if source.get("configMapRef"):
                maps.add(str(_d(source["configMapRef"]).get("name") or ""))
    for volume in spec.get("volumes") or []:
        volume = _d(volume)
        if volume.get("secret"):
            secrets.add(str(_d(volume["secret"]).get("secretName") or ""))
        if volume.get("configMap"):
            maps.add(str(_d(volume["configMap"]).get("name") or ""))
    secrets.discard("")
    maps.discard("")
    return secrets, maps


# ------------------------------------------------------------------------------------------ DNS


def service_names(name: str, namespace: str) -> list[str]:
    base = f"{name}.{namespace}.svc"
    return [f"{base}.{CLUSTER_DOMAIN}", base, f"{name}.{namespace}", name]


def pod_ready(pod: Mapping[str, Any]) -> bool:
    for cond in _d(pod.get("status")).get("conditions") or []:
        if _d(cond).get("type") == "Ready":
            return _d(cond).get("status") == "True"
    return False


def endpoint_ip(service: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The IP that the Service's name resolves to: its first ready endpoint pod (any with an IP when
    ``publishNotReadyAddresses``); ``None`` without a selector or endpoints."""
    meta, spec = _d(service.get("metadata")), _d(service.get("spec"))
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return None
    wanted = label_selector_from_object({"matchLabels": selector})
    not_ready_ok = spec.get("publishNotReadyAddresses") is True
    candidates = []
    for pod in pods:
        pmeta, status = _d(pod.get("metadata")), _d(pod.get("status"))
        ip = status.get("podIP")
        if pmeta.get("namespace") != meta.get("namespace") or not isinstance(ip, str) or not ip:
            continue
        if pmeta.get("deletionTimestamp") or not wanted.matches(_d(pmeta.get("labels"))):
            continue
        if not_ready_ok or pod_ready(pod):
            candidates.append((str(pmeta.get("name")), ip))
    return sorted(candidates)[0][1] if candidates else None


def hosts_file(
    pod: Mapping[str, Any],
    pod_ip: str,
    services: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    *,
    api_host: str,
) -> str:
    """``/etc/hosts`` for ``pod``: localhost, the pod's own name, the API server and every resolvable Service."""
    meta = _d(pod.get("metadata"))
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"{pod_ip}\t{meta.get('name')}",
        f"{api_host}\t{' '.join(service_names('kubernetes', 'default'))}",
    ]
    for service in sorted(
        services, key=lambda s: (_d(s.get("metadata")).get("namespace", ""), _d(s.get("metadata")).get("name", ""))
    ):
        smeta = _d(service.get("metadata"))
        ip = endpoint_ip(service, pods)
        if ip is None:
            continue
        names = service_names(str(smeta.get("name")), str(smeta.get("namespace")))
        if smeta.get("namespace") != meta.get("namespace"):
            names = names[:3]  # the bare name resolves only in the pod's own namespace (search path)
        lines.append(f"{ip}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
"""No DNS server answers inside a pod namespace: a name not in /etc/hosts fails at once, and no query
can leave the machine."""


# ------------------------------------------------------------------------------------------ limits


def memory_limit_bytes(container: Mapping[str, Any]) -> int | None:
    amount = parse_quantity(_d(_d(container.get("resources")).get("limits")).get("memory"))
    return int(amount) if amount is not None and amount > 0 else None


def cpu_limit_cores(container: Mapping[str, Any]) -> Decimal | None:
    amount = parse_quantity(_d(_d(container.get("resources")).get("limits")).get("cpu"))
    return amount if amount is not None and amount > 0 else None
