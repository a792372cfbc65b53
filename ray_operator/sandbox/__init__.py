"""A Kubernetes API-server emulator (and fake kubelet) that kubectl and kubernetes_asyncio use as a real cluster.

It exists because no machine this project is developed or tested on runs kube-apiserver; it
follows the real server's status codes and error texts so that what passes here passes there.
Start one with ``from ray_operator.sandbox.server import Sandbox``; drive kubectl against it with
``ray_operator.sandbox.testing``.

The packages follow kube-apiserver's own seams, each importing only those listed after it:

* ``server/`` — HTTP: the ``Sandbox``, routing, bodies, content negotiation, discovery, watch
  streams, the test-control API, TLS and the ``--api-only`` command;
* ``builtins/`` — the built-in kinds and CRDs: what is served, their defaults, validation and strategies;
* ``engine/`` — the request pipeline of every verb, the per-kind ``Strategy`` hooks it calls (which
  ``builtins/`` implements, and the ``Sandbox`` hands in), and the garbage collector;
* ``admission/`` — the webhook chain: matching, configuration checks, the review format, transport;
* ``storage/`` — the store with its resourceVersions, history and watchers, lists, selectors,
  managedFields;
* ``schema/`` — structural schemas, CEL, the vendored built-in definitions, OpenAPI, patches;
* ``resources.py`` (what a served type is, and which are served), ``errors.py`` (Status errors) and
  ``limits.py`` (kube-apiserver's size, depth and alias limits on requests), which everything shares.

Beside them, ``tables/`` renders ``kubectl get`` Tables for the server, and ``kubelet/`` is the node:
an ordinary API client with an API-client loop and pod runtimes, importing nothing of the rest.
It imports nothing of the operator but the shared primitives (``ray_operator.apimachinery``).
Decided against: one flat package (thirty modules with no visible order between them).
"""
