"""``/readyz`` with the real self-signed source: not ready until a certificate is loaded and served.

The operator starts before its namespace exists, so the certificate Secret cannot be created: the
probe must say so (503) while the process stays up. Once the namespace appears the source creates
the Secret, the server starts, and ``/readyz`` turns 200 only because a verified handshake with its
own port succeeds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from ray_operator.devstack import operator_settings
from ray_operator.metrics import new_registry
from ray_operator.runtime import EXIT_OK, RuntimeState, run


async def readyz(http: aiohttp.ClientSession, port: int) -> tuple[int, str]:
    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
        return resp.status, await resp.text()


async def test_readyz_waits_for_a_certificate_from_the_real_source(kubeconfig_path: Path, api_client: Any) -> None:
    # Webhook mode: without the CRD installed a controller would (rightly) keep /readyz at 503 too.
    settings = operator_settings(kubeconfig=kubeconfig_path, mode="webhook")
    state = RuntimeState(registry=new_registry(process_metrics=False))
    task = asyncio.create_task(run(settings, state=state, handle_signals=False))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with asyncio.timeout(10):
                while state.probe_port is None:  # noqa: ASYNC110  # filled in by the runtime task
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # several certificate attempts fail meanwhile (no namespace)
            status, text = await readyz(http, state.probe_port)
            assert status == 503 and "no serving certificate loaded yet" in text, text
            assert not state.webhook_serving.is_set()

            core: Any = client.CoreV1Api(api_client)  # a dict body: the client's stubs only admit models
            await core.create_namespace({"metadata": {"name": settings.namespace}})
            async with asyncio.timeout(20):
                while (await readyz(http, state.probe_port))[0] != 200:  # noqa: ASYNC110  # polls over HTTP
                    await asyncio.sleep(0.05)
            assert state.webhook_serving.is_set()
            status, text = await readyz(http, state.probe_port)
            assert "[+]webhook ok" in text
    finally:
        state.stop.set()
        assert await asyncio.wait_for(task, 20) == EXIT_OK
