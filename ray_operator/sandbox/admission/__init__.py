"""The admission chain: the emulator calls Mutating/ValidatingWebhookConfigurations like kube-apiserver.

The operator's webhooks are only trustworthy if something calls them the way the real API server
does: over verified TLS, with a real ``AdmissionReview`` v1 body, enforcing the timeout, the failure
policy and the dry-run side-effect rules, and turning denials and call failures into the exact
``Status`` bodies kubectl prints. One module per concern: ``attributes`` (the request as admission
sees it), ``matching`` (which webhooks to call), ``configuration`` (validation of the configuration
objects themselves), ``review`` (the wire format and the errors it produces), ``transport`` (TLS,
connections and Go's error texts) and ``chain`` (the order of calls, the log).
Decided against: one module for all of it; each concern has its own upstream source to be read against.
"""

from ray_operator.sandbox.admission.attributes import AdmissionAttributes, AdmissionError
from ray_operator.sandbox.admission.chain import AdmissionChain

__all__ = ["AdmissionAttributes", "AdmissionChain", "AdmissionError"]
