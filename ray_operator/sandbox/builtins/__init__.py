"""The built-in kinds the emulator serves, the defaulting the real API server applies to them, their strategies.

Operators that compare desired with actual state must tolerate what kube-apiserver adds on write
(pod ``restartPolicy``, container ``imagePullPolicy``, service ``clusterIP``...), so the emulator adds
the same values; a test that passes here then passes against a real cluster. Only storage is
emulated for most kinds (no deployment or job controller). One module per kind or family (``pods``,
``services``, ``secrets``, ``namespaces``, ``workloads``, ``events``, ``reviews``,
``admissionregistration``, ``crds`` with the custom resources a CRD serves), each with its strategy
(``engine/strategy.py``); ``catalog`` lists the served types and which strategy serves each.
Defaulting is pure: functions take the object and return a defaulted copy; what they need from the
cluster (addresses in use) is read by the strategy and passed in.
Decided against: validating built-ins semantically (only their JSON types and unknown fields are
checked, ``strategy.py``, plus the few rules the kind modules name).
"""
