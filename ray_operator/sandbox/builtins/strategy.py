"""What every built-in kind's strategy starts from: decoding against the vendored v1.32 definitions.

kube-apiserver decodes a built-in object into Go structs, so a value of the wrong JSON type is a 400
before anything else, and a field the struct does not have is dropped (an error or a warning under
``fieldValidation``). ``BuiltinStrategy`` does both with ``schema/decoding.py`` and
``schema/definitions.py``; the kinds with more to do (pods, services, namespaces, CRDs...) extend it.
Decided against: semantic validation of built-ins beyond what the kind modules do (only JSON types
and unknown fields are checked for the others, see docs/emulator-fidelity.md).
"""

from __future__ import annotations

from typing import Any

from ray_operator.sandbox.engine.context import WriteContext
from ray_operator.sandbox.engine.strategy import Strategy, StrategyHost, report_unknown_fields
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema import decoding, definitions


class BuiltinStrategy(Strategy):
    """JSON types checked as Go's decoder does, unknown fields pruned and reported per ``fieldValidation``.

    Most kinds default alike on create and update (upstream's ``SetDefaults_<Kind>`` runs on every
    decode), so they override ``defaults`` only.
    """

    def defaults(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The kind's defaults, applied on create and update alike; a defaulted copy."""
        return obj

    def prepare_for_create(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return self.defaults(rt, obj)

    def prepare_for_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        return self.defaults(rt, obj)

    def decode(
        self, rt: ResourceType, obj: dict[str, Any], ctx: WriteContext, *, subresource: str = ""
    ) -> dict[str, Any]:
        decoding.check_types(obj, group=rt.group, version=rt.version, kind=rt.kind)
        if subresource == "status":
            return obj
        pruned, unknown = definitions.prune_unknown_fields(obj, api_version=rt.api_version, kind=rt.kind)
        report_unknown_fields(rt, unknown, ctx)
        return pruned
