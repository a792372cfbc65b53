"""The request pipeline: every verb of every resource, in kube-apiserver's order, independent of HTTP.

``pipeline.Engine`` orders a write (decode, defaults, mutating admission, validation, validating
admission, commit); ``patch`` adds the four patch types and server-side apply, ``deletion`` the
DeleteOptions and finalizer rules, ``gc`` the garbage collector that finishes deletions in the
background. What differs per kind is a ``strategy.Strategy`` (implemented in ``builtins/``), and
``context`` holds the per-request options every stage shares.
Decided against: routing, content negotiation or watch streaming here (``server/`` does HTTP), so
the control API and the GC can drive the same pipeline without a request.
"""

from ray_operator.sandbox.engine.context import WriteContext
from ray_operator.sandbox.engine.pipeline import Engine

__all__ = ["Engine", "WriteContext"]
