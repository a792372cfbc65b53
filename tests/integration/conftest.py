"""The operator in webhook mode, in-process, against a fresh sandbox: the real certificate source
bootstraps through the emulator, and the emulator calls the webhooks over verified TLS.

``operator_stack`` does what ``ray-operator sandbox`` does (same install and round-trip functions, the
operator in ``--mode all``) but keeps handles on the runtime state so tests can read metrics, ports,
the controller and the request log; it returns once the webhooks answer and the controller's caches
have synced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ray_operator.devstack import admission_round_trip, install, operator_settings
from ray_operator.kube.client import kube_api_client
from ray_operator.metrics import new_registry
from ray_operator.runtime import EXIT_OK, RuntimeState, run
from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox_rbac import operator_kubeconfig
from ray_operator.settings import Settings
from tests.integration.rayclusters import fast_settings


@dataclass
class OperatorStack:
    sandbox: Sandbox
    settings: Settings
    state: RuntimeState
    task: asyncio.Task[int]


StackFactory = Callable[..., Any]


@pytest.fixture
async def start_operator(sandbox: Sandbox, kubeconfig_path: Path) -> AsyncIterator[StackFactory]:
    stacks: list[OperatorStack] = []

    async def start(*, settings: Settings | None = None, leading: bool = True, **run_kw: Any) -> OperatorStack:
        """Start one operator; with ``leading`` (and a controller) wait until it leads and its caches synced."""
        cfg = settings or operator_settings(kubeconfig=kubeconfig_path)
        async with kube_api_client(cfg) as api:
            await install(api, cfg)
        state = RuntimeState(registry=new_registry(process_metrics=False))
        task = asyncio.create_task(run(cfg, state=state, handle_signals=False, **run_kw))
        async with asyncio.timeout(30):
            waiter = asyncio.create_task(state.webhook_serving.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        assert not task.done(), f"operator exited with {task.result()}"
        assert state.webhook_port is not None
        sandbox.register_service_endpoint(cfg.namespace, cfg.webhook_service_name, 443, "127.0.0.1", state.webhook_port)
        async with kube_api_client(cfg) as api:
            await admission_round_trip(api, deadline_seconds=30)
        if cfg.mode != "webhook" and leading:
            async with asyncio.timeout(30):
                await state.controller_created.wait()
                assert state.controller is not None
                await state.controller.synced.wait()
        stack = OperatorStack(sandbox=sandbox, settings=cfg, state=state, task=task)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.state.stop.set()
        assert await asyncio.wait_for(stack.task, 20) == EXIT_OK


@pytest.fixture
async def operator_stack(start_operator: StackFactory) -> OperatorStack:
    stack: OperatorStack = await start_operator()
    return stack


# --- the operator confined to config/rbac (tests of its permissions and of secure metrics) ----------


@pytest.fixture
async def confined_operator(
    sandbox: Sandbox, kubeconfig_path: Path, tmp_path: Path
) -> AsyncIterator[tuple[Sandbox, RuntimeState]]:
    """The operator in --mode all as its ServiceAccount with secure metrics, webhooks routed, caches synced."""
    admin = fast_settings(kubeconfig_path)
    async with kube_api_client(admin) as client:
        await install(client, admin)
        confined = await operator_kubeconfig(sandbox, client, tmp_path / "operator.kubeconfig")
    # A short retry period so the scenarios, which take a few seconds, see the Lease renewed too.
    settings = fast_settings(confined, metrics_secure=True, retry_period_seconds=0.2)
    state = RuntimeState(registry=new_registry(process_metrics=False))
    task = asyncio.create_task(run(settings, state=state, handle_signals=False))
    async with asyncio.timeout(30):
        waiter = asyncio.create_task(state.webhook_serving.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    assert not task.done(), f"operator exited with {task.result()}"
    assert state.webhook_port is not None
    sandbox.register_service_endpoint(
        settings.namespace, settings.webhook_service_name, 443, "127.0.0.1", state.webhook_port
    )
    async with kube_api_client(admin) as client:
        await admission_round_trip(client, deadline_seconds=30)
    async with asyncio.timeout(30):
        await state.controller_created.wait()
        assert state.controller is not None
        await state.controller.synced.wait()
    yield sandbox, state
    state.stop.set()
    assert await asyncio.wait_for(task, 20) == EXIT_OK
