"""What objects may look like, and how a change is applied to one: the emulator's schemas and patches.

Custom resources are checked as apiextensions-apiserver checks them: ``prune`` (drop unknown fields),
``apply_defaults`` and ``validate`` (value validations, list types and CEL rules, ``cel/``), with
``is_structural`` guarding a CRD's schema when it is written (``pruning``, ``validation``,
``structural``; these four are re-exported here). Built-in kinds are checked against the vendored
v1.32 OpenAPI definitions (``definitions``): JSON types as Go's decoder words them (``decoding``)
and ObjectMeta for every kind (``objectmeta``). The same definitions feed the ``/openapi/v3``
documents kubectl reads (``openapi``) and the merge keys of strategic merge patch (``smp``);
merge patch, JSON patch and the basic server-side apply are in ``patching``.
Every cause carries the reason, field and message text the real server renders, because kubectl
prints them and our tests assert them.
Decided against: a JSON-schema library for any of it (its texts and paths are not kube-openapi's).
"""

from ray_operator.sandbox.schema.pruning import apply_defaults, prune
from ray_operator.sandbox.schema.structural import is_structural
from ray_operator.sandbox.schema.validation import validate

__all__ = ["apply_defaults", "is_structural", "prune", "validate"]
