"""Pure desired-state builders: from a validated, defaulted RayCluster to the objects it should own.

Every function here takes the ``ray_operator.api.models.RayCluster`` model (plus a ``BuildConfig``
of operator switches, and any random token or time as an argument) and returns plain dicts in
Kubernetes wire form. Nothing does I/O, reads the clock or the environment, or mutates its input,
so the reconciler can call them freely and tests can pin their output (``tests/unit/builders``).

Modules: ``config`` (the switches), ``names`` (names, identity, owner references), ``replicas``
(desired pod counts), ``raystart`` (the ``ray start`` command), ``probes``, ``pods`` (head and worker
pods), ``autoscaler`` (sidecar and RBAC), ``services`` and ``ingress`` (with drift patches), ``gcsft``
(GCS fault tolerance and the Redis cleanup Job), ``auth`` (the token Secret), ``revisions`` (Recreate
hashes), ``health`` (which pods to replace) and ``status`` (the status and whether to write it).
Helpers: ``quantities``, ``resources``, ``envs``, ``drift``.

Decided against: re-exporting everything from this package (the modules' names say where a rule
lives) and classes with state (a builder is a function of its arguments).
"""
