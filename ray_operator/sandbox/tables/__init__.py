"""``meta.k8s.io/v1`` Table rendering for ``kubectl get``: CRD printer columns and the built-in printers.

kubectl asks for ``as=Table`` and prints whatever columns the server returns; without a Table it
falls back to ``NAME AGE``. So the emulator renders Tables like kube-apiserver: custom resources get
``Name`` plus the CRD's ``additionalPrinterColumns`` (``custom``); built-ins get kube-apiserver's
printer columns (``pods`` with kubectl's STATUS logic, ``printers`` for services, deployments, …);
``render`` assembles the Table and ``columns`` holds what the printers share.
Decided against: one 1k-line module; the printers are independent and read best one family at a time.
"""

from ray_operator.sandbox.tables.render import render_table

__all__ = ["render_table"]
