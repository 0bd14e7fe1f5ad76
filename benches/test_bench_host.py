"""Host benchmarks: Host.send end to end, component -> component, the router, spawning, and a
crash loop (restarts per second: trap, dead letter, fresh Store + instantiate + init).

Run: python -m pytest benches/test_bench_host.py --benchmark-enable -q
Side-by-side ratios against bare wasmtime-py and Pykka, and the 10,000-component spawn (RSS),
are in benches/compare_host.py.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from airssys_wasm import Host, HostConfig
from airssys_wasm._fast._router import Router
from airssys_wasm.actor import ActorState, Backoff, Mailbox
from airssys_wasm.runtime import Engine
from airssys_wasm.benchmarks import guests

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "wat"
MINIMAL = guests.path("minimal")
PINGPONG = guests.path("pingpong")
FRAME = b"\x55" + b"x" * 15
N = 200


@pytest.fixture(scope="module")
def engine():
    with Engine() as eng:
        yield eng


def run(benchmark, coro_fn) -> None:
    benchmark.pedantic(lambda: asyncio.run(coro_fn()), rounds=5, iterations=1, warmup_rounds=1)


def test_host_send_200_messages(benchmark, engine) -> None:
    async def body() -> None:
        async with Host(HostConfig(health=None), engine=engine) as host:
            ref = await host.spawn("m", MINIMAL)
            for _ in range(N):
                await host.send("m", FRAME)
            while ref.stats.messages_out < N:
                await asyncio.sleep(0)

    run(benchmark, body)


def test_component_to_component_200_messages(benchmark, engine) -> None:
    async def body() -> None:
        async with Host(HostConfig(health=None), engine=engine) as host:
            await host.spawn("a", PINGPONG)
            b = await host.spawn("b", PINGPONG)
            await host.request("a", b"brst" + struct.pack("<I", N) + b"b", timeout=60)
            while b.stats.messages_out < N:
                await asyncio.sleep(0)

    run(benchmark, body)


def test_crash_loop_200_restarts(benchmark, engine) -> None:
    """200 poison messages, zero backoff: each traps, is dead-lettered, and the supervisor puts
    a fresh instance in place; the 201st failure is over the intensity and the component ends
    ``failed``. Restarts per second = 200 / the time of one round."""
    restarts = 200

    async def body() -> None:
        config = HostConfig(health=None, max_restarts=restarts, within=3600.0)
        async with Host(config, engine=engine) as host:
            ref = await host.spawn("loop", PINGPONG, backoff=Backoff(initial=0.0, jitter=0.0),
                                   capacity=restarts + 8)
            for _ in range(restarts + 1):
                host.try_send("loop", b"\x55u")
            while ref.state is not ActorState.FAILED or not ref.actor.mailbox.closed:
                await asyncio.sleep(0)
            assert ref.stats.restarts == restarts

    run(benchmark, body)


def test_spawn_100_components(benchmark, engine) -> None:
    async def body() -> None:
        async with Host(HostConfig(health=None), engine=engine) as host:
            for i in range(100):
                await host.spawn(f"c{i}", MINIMAL)

    run(benchmark, body)


def test_router_send_512_then_drain(benchmark) -> None:
    router = Router()
    box = Mailbox(1024)
    router.add("t", box, None)
    send = router.send

    def body() -> None:
        for _ in range(512):
            send("t", None, FRAME)
        box.drain(512)

    benchmark(body)
