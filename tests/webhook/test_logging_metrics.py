"""Logs and metrics a user relies on: JSON lines carrying ``admission_uid``, controller-runtime metric names."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import structlog
from prometheus_client import generate_latest

from ray_operator.logging import configure_logging, level_number, resolve_format
from ray_operator.metrics import WebhookMetrics, new_registry
from tests.webhook.conftest import review
from webhook.handlers import validate_request
from webhook.review import AdmissionRequest
from webhook.rules import raycluster_rules


@pytest.fixture
def restore_structlog() -> Any:
    yield
    structlog.reset_defaults()


def test_a_denial_is_logged_as_json_with_the_admission_uid(restore_structlog: Any) -> None:
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo"},
        "spec": {"workerGroupSpecs": 7},
    }
    request = AdmissionRequest.model_validate(review(obj)["request"])
    validate_request(request, rules=raycluster_rules(), logger=structlog.get_logger("webhook"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    denial = next(line for line in lines if line["event"] == "admission_denied")
    assert denial["admission_uid"] == request.uid and denial["raycluster"] == "demo"
    assert denial["level"] == "info" and "timestamp" in denial
    assert any("spec.workerGroupSpecs" in cause for cause in denial["causes"])


def test_debug_lines_are_dropped_at_info(restore_structlog: Any) -> None:
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    structlog.get_logger("x").debug("hidden")
    structlog.get_logger("x").info("shown")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["shown"]


def test_format_and_level_choices() -> None:
    assert resolve_format("auto", io.StringIO()) == "json"  # not a terminal: a pod, a pipe, a file
    assert resolve_format("console", io.StringIO()) == "console"
    with pytest.raises(ValueError, match="--log-format"):
        resolve_format("xml", io.StringIO())
    with pytest.raises(ValueError, match="--log-level"):
        level_number("loud")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_never_carry_local_variables(fmt: str, restore_structlog: Any) -> None:
    """structlog's defaults print each frame's locals (JSON dict_tracebacks, rich on a console): Secret data,
    private keys and review bodies would end up in the log."""
    out = io.StringIO()
    configure_logging(level="info", fmt=fmt, stream=out)

    def load_key() -> None:
        private_key_pem = "-----BEGIN PRIVATE KEY----- sekrit-4711"
        raise RuntimeError(f"cannot parse a key of {len(private_key_pem)} bytes")

    try:
        load_key()
    except RuntimeError:
        structlog.get_logger("x").exception("root_task_crashed")
    text = out.getvalue()
    assert "cannot parse a key" in text and "load_key" in text  # the traceback is there ...
    assert "sekrit-4711" not in text  # ... without the frame's variables


def test_webhook_metrics_use_controller_runtime_names() -> None:
    registry = new_registry(process_metrics=False)
    metrics = WebhookMetrics(registry)
    metrics.started("/validate-ray-io-v1-raycluster")
    metrics.finished("/validate-ray-io-v1-raycluster", 200, 0.002)
    metrics.started("/validate-ray-io-v1-raycluster")
    metrics.finished("/validate-ray-io-v1-raycluster", 400, 0.001)
    text = generate_latest(registry).decode()
    path = 'webhook="/validate-ray-io-v1-raycluster"'
    assert f'controller_runtime_webhook_requests_total{{code="200",{path}}} 1.0' in text
    assert f'controller_runtime_webhook_requests_total{{code="400",{path}}} 1.0' in text
    assert f"controller_runtime_webhook_latency_seconds_count{{{path}}} 2.0" in text
    assert f"controller_runtime_webhook_requests_in_flight{{{path}}} 0.0" in text
