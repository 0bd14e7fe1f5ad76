"""pytest-benchmark for the actor layer (`pytest benches/test_bench_actor.py --benchmark-enable`).

Each benchmark runs a whole workload from airssys_wasm.benchmarks.actor (which also runs the asyncio.Queue and
Pykka baselines side by side); with the default `--benchmark-disable` each body runs once on a
small N, so CI still checks they work.
"""

from __future__ import annotations

import asyncio

from airssys_wasm.benchmarks.actor import (
    ours_dispatch_only,
    ours_enqueue_dispatch,
    ours_fan_out,
    ours_ping_pong,
)

from airssys_wasm._fast._mailbox import Ring

N = 10_000


def test_ring_push_drain_256(benchmark) -> None:
    ring = Ring(256)
    push = ring.push
    items = list(range(256))

    def cycle() -> list[int]:
        for item in items:
            push(item)
        return ring.drain()

    assert benchmark(cycle) == items


def test_enqueue_dispatch_10k(benchmark) -> None:
    assert benchmark.pedantic(lambda: asyncio.run(ours_enqueue_dispatch(N)), rounds=5) > 0


def test_dispatch_only_batched_10k(benchmark) -> None:
    assert benchmark.pedantic(lambda: asyncio.run(ours_dispatch_only(N)), rounds=5) > 0


def test_ping_pong_1k_hops(benchmark) -> None:
    assert benchmark.pedantic(lambda: asyncio.run(ours_ping_pong(1_000)), rounds=5) > 0


def test_fan_out_100_subscribers_100_messages(benchmark) -> None:
    assert benchmark.pedantic(lambda: asyncio.run(ours_fan_out(100)), rounds=5) > 0
