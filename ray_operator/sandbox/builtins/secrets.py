"""Secrets: ``stringData`` merged into base64 ``data`` and ``type: Opaque`` defaulted, as on write upstream;
Secrets and ConfigMaps: their data limited to 1 MiB (``limits``).

A client that writes ``stringData`` reads back only ``data``; an operator comparing the two must see
the same here as on a real cluster.
Decided against: checking the per-type required keys (``kubernetes.io/tls`` needs ``tls.crt``...), which
no test of ours relies on.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from ray_operator.sandbox import errors, limits
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.strategy import StrategyHost
from ray_operator.sandbox.resources import ResourceType


def prepare_secret(secret: dict[str, Any]) -> dict[str, Any]:
    """Merge ``stringData`` into base64 ``data`` and default ``type: Opaque``."""
    out = copy.deepcopy(secret)
    out.setdefault("type", "Opaque")
    string_data = out.pop("stringData", None)
    if isinstance(string_data, dict):
        data = out.setdefault("data", {}) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        out["data"] = data
    return out


class SecretStrategy(BuiltinStrategy):
    def defaults(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return prepare_secret(obj)

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        return limits.config_data_causes("Secret", obj)

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        return limits.config_data_causes("Secret", obj)


class ConfigMapStrategy(BuiltinStrategy):
    """ConfigMaps are stored as sent; only upstream's 1 MiB limit on their data is checked."""

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        return limits.config_data_causes("ConfigMap", obj)

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        return limits.config_data_causes("ConfigMap", obj)
