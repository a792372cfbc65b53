"""The emulator's HTTP side: the ``Sandbox`` a test or ``ray-operator sandbox`` starts, and what it serves.

``sandbox.Sandbox`` (re-exported here: ``from ray_operator.sandbox.server import Sandbox``) assembles
one emulated API server — store, engine, garbage collector, admission chain, optional fake kubelet —
on a local port with its own CA. ``handlers`` routes Kubernetes paths, authenticates and answers in
the negotiated shape (``responses``), reading request bodies with ``bodies`` (JSON, YAML and the few
protobuf kinds of ``protobuf``); ``discovery`` and ``watch`` serve discovery documents and watch
streams; ``control`` is the test-control API under ``/_sandbox/``; ``tls`` makes the throw-away
certificates; ``main`` is ``ray-operator sandbox --api-only``.
Decided against: aiohttp routes per resource (they cannot change after start; CRDs add resources).
"""

from ray_operator.sandbox.server.sandbox import NODE_NAME, Sandbox

__all__ = ["NODE_NAME", "Sandbox"]
