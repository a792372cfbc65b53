"""Adding environment variables to raw container dicts, with the two semantics the builders need.

Why: KubeRay adds variables in two ways, and the difference is visible to users (§2.7):

* ``if unset`` (``RAY_PORT``, ``RAY_ADDRESS``, ``RAY_AUTH_MODE``…): a user's own value wins and the
  operator adds nothing;
* operator-owned (``RAY_CLUSTER_NAME``, ``KUBERAY_GEN_RAY_START_CMD``, ``FQ_RAY_IP``…): the operator's
  value must be the effective one. KubeRay appends a second entry with the same name, which works
  only because the kubelet lets the later entry win and which the API server warns about
  ("hides previous definition"). ``set_owned`` removes the user's entry instead, so the pod has the
  same effective environment without the duplicate.

Functions mutate the container dict they are given; builders only ever pass their own copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["add_if_unset", "env_list", "field_ref", "has_env", "set_owned", "value"]


def env_list(container: dict[str, Any]) -> list[Any]:
    """The container's ``env`` list, created when absent."""
    env = container.get("env")
    if not isinstance(env, list):
        env = []
        container["env"] = env
    return env


def has_env(container: Mapping[str, Any], name: str) -> bool:
    env = container.get("env")
    return isinstance(env, list) and any(isinstance(e, Mapping) and e.get("name") == name for e in env)


def add_if_unset(container: dict[str, Any], entry: Mapping[str, Any]) -> None:
    """Append ``entry`` unless the container already has a variable of that name."""
    if not has_env(container, entry["name"]):
        env_list(container).append(dict(entry))


def set_owned(container: dict[str, Any], entry: Mapping[str, Any]) -> None:
    """Make ``entry`` the variable of its name: earlier entries of that name are dropped, this one appended."""
    env = env_list(container)
    env[:] = [e for e in env if not (isinstance(e, Mapping) and e.get("name") == entry["name"])]
    env.append(dict(entry))


def value(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "value": text}


def field_ref(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}
