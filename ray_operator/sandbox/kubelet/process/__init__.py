"""The ``process`` pod runtime: the sandbox kubelet runs each pod as real local processes.

``runtime.ProcessRuntime`` implements ``kubelet.runtime.PodRuntime``; ``netns`` makes the per-pod network
namespaces (behind a blackhole route for the pod range), ``podenv`` and ``status`` are the pure kubelet
rules (environment, /etc/hosts, phase and conditions), ``enter`` is each container's first process,
``probes`` and ``forward`` run probes and pipe TCP between the host's loopback and pod namespaces,
``cgroups`` bounds memory and CPU where the machine allows. It needs root on Linux; elsewhere
``ProcessRuntime.start`` raises ``NamespacesUnavailable`` whose message names ``--runtime fake``.
"""

from ray_operator.sandbox.kubelet.process.netns import NamespacesUnavailable, check_support
from ray_operator.sandbox.kubelet.process.runtime import ProcessRuntime, sweep_leftovers

__all__ = ["NamespacesUnavailable", "ProcessRuntime", "check_support", "sweep_leftovers"]
