"""A bug in the leader task ends the process: exit 1 after one ``root_task_crashed`` line naming ``leader``.

The election retries what the API server may answer (errors, timeouts, broken connections); anything
else is a bug, and a replica that silently stopped campaigning would look healthy forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from ray_operator.metrics import new_registry
from ray_operator.runtime import EXIT_CRASHED, RuntimeState, run
from ray_operator.settings import Settings


class BrokenClient:
    """An API client whose every call hits a bug (not an API error the elector could retry)."""

    async def call_api(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the client")


async def test_an_unexpected_error_in_the_election_ends_the_process_non_zero() -> None:
    settings = Settings(
        mode="controller",
        probe_host="127.0.0.1",
        probe_port=0,
        metrics_host="127.0.0.1",
        metrics_port=0,
        shutdown_delay_seconds=0.0,
        shutdown_timeout_seconds=0.5,
    )
    state = RuntimeState(registry=new_registry(process_metrics=False))
    with structlog.testing.capture_logs() as logs:
        code = await asyncio.wait_for(
            run(
                settings,
                api_client_factory=lambda _: contextlib.nullcontext(BrokenClient()),  # type: ignore[arg-type,return-value]
                state=state,
                handle_signals=False,
            ),
            10,
        )
    assert code == EXIT_CRASHED
    crashes = [e for e in logs if e["event"] == "root_task_crashed"]
    assert len(crashes) == 1 and crashes[0]["task"] == "leader"
    assert "RuntimeError: a bug in the client" in crashes[0]["error"]
    assert [e["reason"] for e in logs if e["event"] == "operator_stopped"] == ["a root task crashed"]
