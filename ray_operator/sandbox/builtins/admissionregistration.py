"""Mutating/ValidatingWebhookConfigurations: checked on every write as admissionregistration checks them.

A configuration the real server would refuse is refused here with its texts
(``admission/configuration.py``), rather than stored and then failing at call time. Webhooks are
never called for these objects themselves (``admission/matching.py``).
Decided against: defaulting the configurations (``failurePolicy``, ``matchPolicy``, ``timeoutSeconds``
...) on write; the admission chain applies the v1 defaults where it reads them.
"""

from __future__ import annotations

from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.admission.configuration import validate_webhook_configuration
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.engine.strategy import StrategyHost
from ray_operator.sandbox.resources import ResourceType


class WebhookConfigurationStrategy(BuiltinStrategy):
    def __init__(self, *, mutating: bool) -> None:
        self.mutating = mutating

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        return validate_webhook_configuration(obj, mutating=self.mutating)

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        return validate_webhook_configuration(obj, mutating=self.mutating)
