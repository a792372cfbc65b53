"""The per-kind steps of the write pipeline, after kube-apiserver's ``rest.RESTCreateStrategy`` and friends.

The engine orders a write the same way for every kind; what differs per kind — defaults, validation,
a status computed on write, what a commit or a deletion sets off — is a ``Strategy``. Each hook is
named after the point of the pipeline where the engine calls it, and every default does nothing, so
a kind overrides only what it needs. The strategies live with their kinds (``builtins/``, and
``builtins/crds.py`` for custom resources); ``Strategies`` picks one per request type: custom
resources share one, built-in kinds are looked up by (group, resource) with a default for the rest.
Hooks receive the engine as a ``StrategyHost`` (store, served types, clock) rather than holding it,
so one strategy object serves every sandbox.
Decided against: ``if kind == ...`` branches in the engine (thirteen of them had grown there), and one
strategy class per verb (the hooks of create and update share most of their kinds' logic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ray_operator.sandbox import errors
from ray_operator.sandbox.engine.context import WriteContext
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.store import GroupResource, Store, clone

if TYPE_CHECKING:
    from ray_operator.sandbox.resources import Registry


class StrategyHost(Protocol):
    """What a strategy may use of the engine that calls it."""

    store: Store
    registry: Registry
    graceful_pods: bool
    """Pods on a node are deleted gracefully (a kubelet finishes them)."""

    def now(self) -> str:
        """The server clock as an RFC 3339 timestamp."""
        ...

    def gr(self, rt: ResourceType) -> GroupResource:
        """Where objects of ``rt`` are stored."""
        ...

    def remove(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Remove a stored object for good, announcing it as DELETED."""
        ...


class Collector(Protocol):
    """What the garbage collector offers a strategy that finishes a deletion (``finish_deletion``)."""

    def storage_type(self, gr: GroupResource) -> ResourceType | None:
        """The type objects under ``gr`` are stored as, or None when it is no longer served."""
        ...

    def delete_dependent(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Background deletion: mark ``obj`` deleted when it has finalizers, remove it otherwise."""
        ...

    def drop_finalizer(self, rt: ResourceType, obj: dict[str, Any], finalizer: str) -> None:
        """Commit ``obj`` without ``finalizer`` (removing it when it was the last one of a deleted object)."""
        ...


def report_unknown_fields(rt: ResourceType, unknown: list[str], ctx: WriteContext) -> None:
    """``fieldValidation``: unknown fields are a 400 under ``Strict``, warnings under ``Warn``, else ignored."""
    if unknown and ctx.field_validation == "Strict":
        listed = ", ".join(f'unknown field "{u}"' for u in unknown)
        raise errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {listed}'
        )
    if unknown and ctx.field_validation == "Warn":
        ctx.warnings.extend(f'unknown field "{u}"' for u in unknown)


def storage_api_version(rt: ResourceType) -> str:
    """The apiVersion objects of ``rt`` are stored in (a CRD's storage version)."""
    version = rt.extra.get("storage_version", rt.version)
    return f"{rt.group}/{version}" if rt.group else str(version)


class Strategy:
    """Every hook of the pipeline, in the order a write calls them; the defaults change nothing."""

    # ---- representation -------------------------------------------------------------------------

    def to_view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of the stored object as ``rt``'s version shows it."""
        out = clone(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    def to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The request-version object in its stored form (may change ``obj`` in place)."""
        obj["apiVersion"] = storage_api_version(rt)
        obj["kind"] = rt.kind
        return obj

    def decode(
        self, rt: ResourceType, obj: dict[str, Any], ctx: WriteContext, *, subresource: str = ""
    ) -> dict[str, Any]:
        """Decode-level checks of a request body; the object to go on with (pruned, defaulted).

        Called on create and update bodies (again after mutating admission, with ``fieldValidation:
        Ignore``), and on ``status`` writes with ``subresource="status"``, where only the checks apply.
        Unknown fields go to ``report_unknown_fields``.
        """
        return obj

    # ---- create and update ----------------------------------------------------------------------

    def check_create(self, host: StrategyHost, rt: ResourceType) -> None:
        """Refuse a create before anything else is looked at (e.g. a CRD being deleted)."""

    def prepare_for_create(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Defaults and server-set fields of a new object, before mutating admission."""
        return obj

    def prepare_for_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        """Defaults of an updated object (``old`` is the stored one), before mutating admission."""
        return obj

    def validate(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        """The kind's causes against a new object (object metadata is checked by the engine)."""
        return []

    def validate_update(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str
    ) -> list[errors.Cause]:
        """The kind's causes against an update; ``old`` is the stored object in the request's version."""
        return []

    def validate_seed(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> list[errors.Cause]:
        """What a seeded object (control API, no admission or validation) must still satisfy to be served."""
        return []

    def before_commit(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        """Last changes to the storage form after validation (validating admission and dry-run see them)."""

    def after_commit(
        self, host: StrategyHost, rt: ResourceType, stored: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        """What a committed create or update sets off (served types of a CRD, a namespace's service account)."""

    def admission_namespace(self, namespace: str, name: str, operation: str) -> str:
        """The namespace admission sees the request in (a Namespace is admitted in itself)."""
        return namespace

    # ---- delete ---------------------------------------------------------------------------------

    def check_delete(self, host: StrategyHost, rt: ResourceType, name: str) -> None:
        """Refuse a delete before admission (e.g. the namespaces a cluster cannot lose)."""

    def begin_delete(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], finalizers: list[str]) -> bool:
        """Mark a copy of the object for deletion (``finalizers`` may be extended in place).

        True when the object must stay, marked, even without finalizers: a controller finishes it.
        """
        return False

    def grace_period(
        self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any], options: Mapping[str, Any]
    ) -> int:
        """Seconds of graceful termination before the object goes; 0 deletes at once."""
        return 0

    def before_remove(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Just before the object leaves the store for good (its last state is ``obj``)."""

    def after_remove(self, host: StrategyHost, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Just after the object left the store (announced as DELETED)."""

    def finish_deletion(
        self, host: StrategyHost, collector: Collector, rt: ResourceType, obj: dict[str, Any]
    ) -> bool | None:
        """The garbage collector's turn on an object being deleted; None when the kind has nothing to do.

        Otherwise whether anything changed (the collector sweeps again until nothing does).
        """
        return None


class Strategies:
    """The strategy of each request type: one for custom resources, built-ins by (group, resource)."""

    def __init__(self, *, builtin: Strategy, custom: Strategy, kinds: Mapping[tuple[str, str], Strategy]) -> None:
        self.builtin = builtin
        """For built-in kinds with nothing of their own."""
        self.custom = custom
        self.kinds = dict(kinds)

    def for_type(self, rt: ResourceType) -> Strategy:
        if rt.is_custom:
            return self.custom
        return self.kinds.get((rt.group, rt.resource), self.builtin)
