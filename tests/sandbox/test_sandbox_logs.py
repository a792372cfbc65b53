"""The sandbox's own logs: the request and admission logs stay bounded, and log events follow one naming rule.

A sandbox that serves an operator for hours must not grow without bound: the admission log, like the
request log, keeps only its newest entries (and can still be sliced, as tests do). Its structlog
events are snake_case ``noun_verb`` names with the context as fields, like the rest of the project.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

import ray_operator.sandbox
from ray_operator.sandbox.engine.gc import GarbageCollector
from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.storage.store import Event

VALIDATING = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"

UNREACHABLE_WEBHOOK: dict[str, Any] = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "logged"},
    "webhooks": [
        {
            "name": "logged.example.io",
            "clientConfig": {"service": {"namespace": "system", "name": "nowhere", "port": 443}},
            "rules": [
                {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}
            ],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }
    ],
}


async def _post(sb: Sandbox, path: str, body: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sb.token}"}) as session,
        session.post(sb.url + path, json=body, ssl=sb.client_ssl_context()) as response,
    ):
        await response.read()
        return response.status


@pytest.mark.parametrize("sandbox", [{"log_size": 3}], indirect=True)
async def test_admission_log_keeps_only_its_newest_entries(sandbox: Sandbox) -> None:
    assert await _post(sandbox, VALIDATING, UNREACHABLE_WEBHOOK) == 201
    for i in range(5):  # the webhook cannot be reached; failurePolicy Ignore admits, and every call is logged
        assert await _post(sandbox, CONFIGMAPS, {"metadata": {"name": f"cm-{i}"}}) == 201

    assert [e["name"] for e in sandbox.admission_log] == ["cm-2", "cm-3", "cm-4"]
    assert [e["name"] for e in sandbox.admission_log[1:]] == ["cm-3", "cm-4"]
    assert sandbox.admission_log[-1]["failed_open"] is True
    assert len(sandbox.control.requests) == 3

    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as session,
        session.get(sandbox.url + "/_sandbox/admission-log", ssl=sandbox.client_ssl_context()) as resp,
    ):
        assert [e["name"] for e in (await resp.json())["items"]] == ["cm-2", "cm-3", "cm-4"]

    sandbox.control.reset()
    assert len(sandbox.admission_log) == 0


def _log_calls(tree: ast.AST) -> list[ast.Call]:
    levels = {"debug", "info", "warning", "error", "exception", "critical"}
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in levels
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "log"
    ]


def test_sandbox_log_events_are_snake_case_noun_verb_names() -> None:
    root = Path(ray_operator.sandbox.__file__).parent
    events: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        assert "logging.getLogger" not in source, f"{path.name}: the sandbox logs with structlog, as the project does"
        for call in _log_calls(ast.parse(source)):
            first = call.args[0] if call.args else None
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), f"{path}:{call.lineno}"
            assert len(call.args) == 1, f"{path}:{call.lineno}: context goes in fields, not format arguments"
            events[first.value] = f"{path.relative_to(root)}:{call.lineno}"
    assert events, "the sandbox logs something"
    bad = {name: where for name, where in events.items() if not re.fullmatch(r"[a-z]+(_[a-z]+)+", name)}
    assert not bad


class _BrokenStore:
    def __init__(self) -> None:
        self.listeners: list[Any] = []

    def by_uid(self, uid: str) -> Any:
        return None

    def get(self, *key: Any) -> Any:
        raise RuntimeError("broken store")


class _Engine:
    def __init__(self) -> None:
        self.store = _BrokenStore()


async def test_a_failed_gc_sweep_is_logged_as_an_event_and_the_collector_keeps_running() -> None:
    engine = _Engine()
    collector = GarbageCollector(engine=engine)  # type: ignore[arg-type]
    task = asyncio.create_task(collector.run())
    try:
        with structlog.testing.capture_logs() as logs:
            # A dependent is written: the collector looks at it, and reading it fails.
            dependent = {"metadata": {"name": "d", "namespace": "default", "ownerReferences": [{"uid": "gone"}]}}
            for listener in engine.store.listeners:
                listener(Event("ADDED", ("", "configmaps"), dependent, None, 1))
            collector.kick()
            await collector.settle(limit=2)
        assert [(e["event"], e["log_level"]) for e in logs] == [("gc_sweep_failed", "error")]
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
