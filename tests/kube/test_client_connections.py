"""The API client keeps at most ``kube_max_connections`` connections: more requests wait, none fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from aiohttp import web

from ray_operator.kube.client import kube_api_client, request_json
from ray_operator.settings import Settings


async def test_requests_beyond_the_connection_cap_wait_for_a_free_connection(tmp_path: Path) -> None:
    in_flight = 0
    peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.json_response({"kind": "Status", "status": "Success"})

    app = web.Application()
    app.add_routes([web.get("/api/v1/namespaces", slow)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    try:
        async with kube_api_client(Settings(kubeconfig=str(kubeconfig), kube_max_connections=3)) as api:
            answers = await asyncio.gather(
                *(request_json(api, "GET", "/api/v1/namespaces", timeout=10) for _ in range(12))
            )
    finally:
        await runner.cleanup()
    assert [a.status for a in answers] == [200] * 12
    assert peak == 3
