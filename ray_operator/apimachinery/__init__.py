"""Kubernetes primitives every layer needs, written once: the leaf of the package graph.

Quantities (``quantity``), the DNS-1123/1035 and label-syntax rules with apimachinery's own messages
(``names``), label selectors in both their string and ``metav1.LabelSelector`` forms (``selectors``)
and the Go-style printing of values inside error texts (``govalues``). The RayCluster API, the
builders, the API-server emulator and the webhook all import these instead of keeping private copies,
so an error text or a matching rule cannot differ between the webhook and the emulator.

This package imports nothing of ours; the import contracts in ``pyproject.toml`` (``lint-imports`` in CI) hold it
to that.
"""
