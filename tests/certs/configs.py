"""``CertConfig`` values for the certificate tests, built by keyword from one base.

The base uses the operator's default names and lifetimes; each test overrides what it is about. The
certs package has no defaults of its own (they live in ``ray_operator.settings``), so this is a test's
choice, not a second copy of them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from certs.config import CertConfig

BASE = CertConfig(
    source="self-signed",
    namespace="ray-system",
    service_name="ray-operator-webhook-service",
    secret_name="ray-operator-webhook-certs",
    validating_webhook_name="ray-operator-validating-webhook-configuration",
    mutating_webhook_name="ray-operator-mutating-webhook-configuration",
    cert_dir="/tmp/k8s-webhook-server/serving-certs",
    key_algorithm="ecdsa-p256",
    ca_validity_days=3650,
    serving_cert_validity_days=365,
    check_interval_seconds=60.0,
    rollover_grace_seconds=300.0,
    file_poll_seconds=10.0,
    request_timeout_seconds=10.0,
)


def cert_config(**overrides: Any) -> CertConfig:
    return dataclasses.replace(BASE, **overrides)
