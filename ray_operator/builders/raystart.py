"""The ``ray start`` command of a head or worker container (reference §2.3).

Why its own module: the rendered command is what Ray actually runs, users read it in
``$KUBERAY_GEN_RAY_START_CMD`` and compare it with KubeRay's, and the Ray autoscaler reads the same
``rayStartParams`` from the RayCluster. Every rule below is KubeRay's, in its order:

1. group ``resources`` become ``num-cpus``/``memory``/``num-gpus`` (integer, rounded up) or entries of
   ``--resources='{"name":float}'``; group ``labels`` become ``labels=k1=v1,k2=v2`` sorted by key;
2. missing defaults: workers ``address=<head FQDN>:<head port>``, the head ``dashboard-host=0.0.0.0``,
   both ``metrics-export-port=8080`` and ``dashboard-agent-listen-port=52365``; ``block=true`` always;
3. with autoscaling the head gets ``no-monitor=true``; callers add feature params (GCS FT's
   ``redis-password=$REDIS_PASSWORD``) through ``forced``;
4. from the Ray container's resources, when absent: ``num-cpus`` from the CPU limit (else request),
   ``memory`` from the memory limit only, ``num-gpus`` from the first GPU limit in name order, and
   the first accelerator limit (``aws.amazon.com/neuroncore`` → ``neuron_cores``, ``google.com/tpu`` →
   ``TPU``) merged into the ``resources`` JSON unless it names either already;
5. rendering: keys sorted; ``true`` (any case) is a bare `` --key ``, ``false`` drops the flag, except
   ``log-color``, ``include-dashboard`` and ``include-log-monitor``, which render ``--key=false``;
   anything else is `` --key=value `` (the doubled spaces between flags are KubeRay's, kept so the
   command string is byte-identical).

One deliberate difference: KubeRay gives up on GPUs and accelerators alike when the user's
``resources`` param is not valid JSON; here an unparsable ``resources`` only stops the accelerator
merge (it is passed through as written), and ``num-gpus`` is still derived.

The JSON is printed like Go's ``encoding/json`` (sorted keys, no spaces, ``1`` not ``1.0``, ``<>&``
escaped) so the flag matches KubeRay's byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ray_operator.api import constants as c
from ray_operator.builders import quantities
from ray_operator.builders.resources import container_resources, is_gpu_resource

__all__ = [
    "build_ray_start_params",
    "container_command",
    "head_port",
    "ray_start_command",
    "render_flags",
    "wrap_user_command",
]

_ACCELERATORS = {
    c.NEURON_CORE_CONTAINER_RESOURCE: c.NEURON_CORE_RAY_RESOURCE,
    c.TPU_CONTAINER_RESOURCE: c.TPU_RAY_RESOURCE,
}
_EXPLICIT_BOOLEAN_PARAMS = frozenset({c.PARAM_LOG_COLOR, c.PARAM_INCLUDE_DASHBOARD, c.PARAM_INCLUDE_LOG_MONITOR})


def head_port(head_params: Mapping[str, str] | None) -> str:
    """The GCS port workers connect to: head ``rayStartParams.port``, default 6379 (kept as the user wrote it)."""
    if head_params and c.PARAM_PORT in head_params:
        return head_params[c.PARAM_PORT]
    return str(c.DEFAULT_GCS_SERVER_PORT)


def _go_float(value: float) -> str:
    """A float as Go's encoding/json prints it: shortest round-trip digits, integers without a fraction."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-6 <= magnitude < 1e21:
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    text = repr(value)  # '1e-07' / '1e+21'; Go trims the exponent's leading zero
    mantissa, _, exponent = text.partition("e")
    sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
    return f"{mantissa}e{sign}{digits}"


def _go_json_object(values: Mapping[str, float]) -> str:
    def key(text: str) -> str:
        encoded = json.dumps(text, ensure_ascii=False)
        for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            encoded = encoded.replace(char, escape)
        return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")

    return "{" + ",".join(f"{key(name)}:{_go_float(values[name])}" for name in sorted(values)) + "}"


def _quoted_resources(values: Mapping[str, float]) -> str:
    return f"'{_go_json_object(values)}'"


def _parse_resources_param(text: str) -> dict[str, float] | None:
    """The user's ``resources`` JSON (quotes around it allowed), or None when it is not an object of numbers."""
    try:
        parsed = json.loads(text.strip("'\"` "))
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    result: dict[str, float] = {}
    for name, amount in parsed.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        result[name] = float(amount)
    return result


def _apply_group_resources(params: dict[str, str], group_resources: Mapping[str, str]) -> None:
    custom: dict[str, float] = {}
    for name, raw in group_resources.items():
        amount = quantities.parse(raw)
        if amount is None:  # validation reports it; KubeRay skips it too
            continue
        lowered = name.lower()
        if lowered == "cpu":
            params[c.PARAM_NUM_CPUS] = str(amount.value())
        elif lowered == "memory":
            params[c.PARAM_MEMORY] = str(amount.value())
        elif is_gpu_resource(lowered):
            params[c.PARAM_NUM_GPUS] = str(amount.value())
        else:
            custom[name] = amount.as_float()
    if custom:
        params[c.PARAM_RESOURCES] = _quoted_resources(custom)


def _apply_container_resources(params: dict[str, str], container: Mapping[str, Any]) -> None:
    limits = container_resources(container, "limits")
    requests = container_resources(container, "requests")
    if c.PARAM_NUM_CPUS not in params:
        cpu = limits.get("cpu")
        if cpu is None or cpu.is_zero():
            cpu = requests.get("cpu")
        if cpu is not None and not cpu.is_zero():
            params[c.PARAM_NUM_CPUS] = str(cpu.value())
    memory = limits.get("memory")
    if c.PARAM_MEMORY not in params and memory is not None and not memory.is_zero():
        params[c.PARAM_MEMORY] = str(memory.value())
    if not limits:
        return
    existing = params.get(c.PARAM_RESOURCES)
    custom = _parse_resources_param(existing) if existing is not None else {}
    accelerator_done = custom is None or any(name in custom for name in _ACCELERATORS.values())
    for name in sorted(limits):
        amount = limits[name]
        if amount.is_zero():
            continue
        if c.PARAM_NUM_GPUS not in params and is_gpu_resource(name):
            params[c.PARAM_NUM_GPUS] = str(amount.value())
        ray_name = _ACCELERATORS.get(name)
        if not accelerator_done and ray_name is not None and custom is not None:
            custom[ray_name] = amount.as_float()
            params[c.PARAM_RESOURCES] = _quoted_resources(custom)
            accelerator_done = True


def build_ray_start_params(
    *,
    node_type: c.NodeType,
    params: Mapping[str, str] | None,
    group_resources: Mapping[str, str] | None,
    group_labels: Mapping[str, str] | None,
    worker_address: str | None,
    autoscaling: bool,
    forced: Mapping[str, str],
    ray_container: Mapping[str, Any],
) -> dict[str, str]:
    """The complete ``rayStartParams`` of one Ray container (rules 1-4 of the module docstring).

    ``worker_address`` (``<head FQDN>:<port>``) is used for workers only; ``forced`` entries win over
    the user's (features that own a flag, such as GCS FT's Redis credentials).
    """
    result = dict(params or {})
    if group_resources:
        _apply_group_resources(result, group_resources)
    if group_labels:
        result[c.PARAM_LABELS] = ",".join(f"{key}={group_labels[key]}" for key in sorted(group_labels))
    if node_type is c.NodeType.WORKER and worker_address is not None:
        result.setdefault(c.PARAM_ADDRESS, worker_address)
    if node_type is c.NodeType.HEAD:
        result.setdefault(c.PARAM_DASHBOARD_HOST, c.DEFAULT_DASHBOARD_HOST)
    result.setdefault(c.PARAM_METRICS_EXPORT_PORT, str(c.DEFAULT_METRICS_PORT))
    result[c.PARAM_BLOCK] = "true"
    result.setdefault(c.PARAM_DASHBOARD_AGENT_LISTEN_PORT, str(c.DEFAULT_DASHBOARD_AGENT_LISTEN_PORT))
    if node_type is c.NodeType.HEAD and autoscaling:
        result[c.PARAM_NO_MONITOR] = "true"
    result.update(forced)
    _apply_container_resources(result, ray_container)
    return result


def render_flags(params: Mapping[str, str]) -> str:
    """The flags of ``ray start`` (rule 5), each wrapped in spaces as KubeRay renders them."""
    parts: list[str] = []
    for key in sorted(params):
        value = params[key]
        lowered = value.lower()
        if lowered in ("true", "false") and key not in _EXPLICIT_BOOLEAN_PARAMS:
            if lowered == "true":
                parts.append(f" --{key} ")
        else:
            parts.append(f" --{key}={value} ")
    return "".join(parts)


def ray_start_command(*, node_type: c.NodeType, params: Mapping[str, str]) -> str:
    """``ray start --head <flags>`` or ``ray start <flags>``: the value of ``KUBERAY_GEN_RAY_START_CMD``."""
    prefix = "ray start --head" if node_type is c.NodeType.HEAD else "ray start"
    return f"{prefix} {render_flags(params)}"


def container_command(*, login_shell: bool) -> list[str]:
    """The shell every generated command runs in: ``/bin/bash -c --`` (``-cl`` with the login-shell switch)."""
    return ["/bin/bash", "-cl" if login_shell else "-c", "--"]


def _joined(words: list[Any] | None) -> str:
    return "".join(f" {word} " for word in words or ())


def wrap_user_command(
    *, command: list[Any] | None, args: list[Any] | None, generated: str, overwrite: bool, login_shell: bool
) -> tuple[list[str], list[str]] | None:
    """The Ray container's new (command, args), or None to leave the user's untouched.

    Untouched when ``ray.io/overwrite-container-cmd`` is true or the user's command/args already run
    ``ray start``. Otherwise the args are ``ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; <ray start>``,
    after the user's own command and args (each word wrapped in spaces) and ``&&`` when there are any:
    ``ray start --block`` never returns, so anything meant to run first has to come before it.
    """
    user = _joined(command) + _joined(args)
    if overwrite or "ray start" in user:
        return None
    ulimit = f"ulimit -n ${{{c.ENV_RAY_START_ULIMIT_OPEN_FILES}:-{c.DEFAULT_ULIMIT_OPEN_FILES}}}"
    line = f"{ulimit}; {generated}"
    if user:
        line = f"{user} && {line}"
    return container_command(login_shell=login_shell), [line]
