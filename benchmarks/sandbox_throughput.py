"""Sandbox throughput on this machine: creates per second and watch fan-out, printed as numbers.

Not a test: run ``python benchmarks/sandbox_throughput.py [--creates N] [--watchers W] [--events E]``.
It measures the emulator in-process over loopback HTTP with a plain aiohttp client (the floor: a bare
aiohttp endpoint answering the same request), so the ratio shows the emulator's own cost per write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from typing import Any

import aiohttp
from aiohttp import web

from ray_operator.sandbox.server import Sandbox


async def _creates(session: aiohttp.ClientSession, url: str, count: int, concurrency: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = {"metadata": {"name": f"cm-{i}", "labels": {"ray.io/cluster": "bench"}}, "data": {"k": "v" * 64}}
            async with session.post(url, json=body) as resp:
                if resp.status not in (200, 201):
                    raise RuntimeError(f"create failed: HTTP {resp.status}: {await resp.text()}")
                await resp.read()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def _floor(count: int, concurrency: int) -> float:
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(body, status=201)

    app = web.Application()
    app.add_routes([web.post("/api/v1/namespaces/default/configmaps", handler)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            return await _creates(
                session, f"http://127.0.0.1:{port}/api/v1/namespaces/default/configmaps", count, concurrency
            )
    finally:
        await runner.cleanup()


async def _fanout(sb: Sandbox, session: aiohttp.ClientSession, watchers: int, events: int) -> dict[str, Any]:
    url = f"{sb.url}/api/v1/namespaces/default/configmaps"
    start_rv = sb.store.rv
    done = asyncio.Event()
    received = [0] * watchers

    async def watch(index: int) -> None:
        params = {
            "watch": "true",
            "resourceVersion": str(start_rv),
            "timeoutSeconds": "120",
            "labelSelector": "fan=out",
        }
        async with session.get(url, params=params) as resp:
            async for line in resp.content:
                if json.loads(line)["type"] == "ADDED":
                    received[index] += 1
                    if received[index] == events:
                        if all(r == events for r in received):
                            done.set()
                        return

    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    for _ in range(1000):  # until every watch is registered (bounded: 10 s)
        if sb.store.watcher_count() >= watchers:
            break
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    for i in range(events):
        async with session.post(url, json={"metadata": {"name": f"fan-{i}", "labels": {"fan": "out"}}}) as resp:
            await resp.read()
    writes_done = time.perf_counter() - started
    await asyncio.wait_for(done.wait(), 120)
    total = time.perf_counter() - started
    await asyncio.gather(*tasks)
    return {"deliveries_per_s": watchers * events / total, "writes_s": writes_done, "total_s": total}


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}")
    floor = await _floor(args.creates, args.concurrency)
    sandbox = Sandbox(tls=False, history_size=max(10000, args.creates * 2))
    async with sandbox as sb, aiohttp.ClientSession() as session:
        url = f"{sb.url}/api/v1/namespaces/default/configmaps"
        ours = await _creates(session, url, args.creates, args.concurrency)
        fan = await _fanout(sb, session, args.watchers, args.events)
    print(f"creates/s: sandbox {ours:,.0f}  bare aiohttp floor {floor:,.0f}  ratio {ours / floor:.2f}")
    print(
        f"watch fan-out: {args.watchers} watchers x {args.events} events: {fan['deliveries_per_s']:,.0f} "
        f"deliveries/s; writes took {fan['writes_s']:.2f}s, all delivered after {fan['total_s']:.2f}s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--watchers", type=int, default=20)
    parser.add_argument("--events", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
