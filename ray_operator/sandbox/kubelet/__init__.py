"""The sandbox's node: a kubelet (and scheduler) for one node, talking to the emulator through the API only.

The kubelet is split at its runtime seam: ``agent`` is the API-client loop every runtime shares (list
and watch pods, bind them, allocate IPs, write ``pods/status``, delete after the grace period);
``runtime`` is the ``PodRuntime`` protocol it drives; ``fake`` is the runtime that reports pods
Running/Ready without running anything, with ``FakeKubelet`` (the loop plus the fake runtime and its
control API) as what ``Sandbox(kubelet=True)`` starts; ``process`` (``Sandbox(runtime="process")``) runs
each pod as real local processes in its own network and mount namespaces, so real Ray runs.
Decided against: one kubelet class per runtime (binding, retries and status writes would be copied).
"""

from ray_operator.sandbox.kubelet.agent import Kubelet
from ray_operator.sandbox.kubelet.fake import FakeKubelet, FakeRuntime
from ray_operator.sandbox.kubelet.runtime import PodReport, PodRuntime

__all__ = ["FakeKubelet", "FakeRuntime", "Kubelet", "PodReport", "PodRuntime"]
