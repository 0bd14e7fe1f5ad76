"""``Host.spawn`` of a small component, one spawn at a time, as a latency distribution:

* every spawn of the bundled ``echo`` guest (all lifecycle exports, every host-services import)
  is timed on its own with ``perf_counter_ns``, ``count`` of them into one host (10,000 in the
  full run: a host that grows to that many actors also pays the garbage collector's passes
  over them, which a mean of 100 spawns hides), after one warm-up spawn that links the imports;
* the floor: the same artifact's ``instantiate`` + ``init`` + ``metadata`` (a fresh Store, the
  two guest calls every spawn makes) in the same process, with the instances kept alive as the
  spawned ones are. ``Host.spawn`` minus that floor is what the host adds: admission, the
  registry, the actor cell, supervision and events;
* the whole run: ``count`` spawns back to back, until every new actor's loop has started;
* the same spawns into a host with the default ``HostConfig``, which probes every actor's
  health: its mean beside the ``health=None`` mean is what periodic probing adds to a spawn.

Figures are ns per spawn (mean, p50, p99, max) and seconds for the whole run.
"""

from __future__ import annotations

import asyncio
import gc
import time

from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.timing import Comparison, distribution
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import Engine

TITLE = "Spawn: Host.spawn latency distribution, the instantiation floor, 10,000 spawns"

#: Budgets of issue 17: a spawn's mean, and 10,000 spawns into one host.
MEAN_BUDGET_NS = 100_000.0
TOTAL_BUDGET_NS_PER_10K = 1.5e9
#: What spawning may add over instantiation (the floor: ``instantiate`` + ``init`` + ``metadata``).
HOST_SHARE_BUDGET_NS = 85_000.0


async def spawn_samples(engine: Engine, count: int,
                        config: HostConfig | None = None) -> tuple[list[int], int]:
    """(ns of each of ``count`` spawns of ``echo`` into one host, ns for all of them until every
    actor's loop runs); ``HostConfig(health=None)`` unless ``config`` is given."""
    async with Host(config or HostConfig(health=None), engine=engine) as host:
        echo = guests.path("echo")
        await host.spawn("warm", echo)  # compiles, links the imports: once per host, not timed
        clock = time.perf_counter_ns
        samples: list[int] = []
        append = samples.append
        spawn = host.spawn
        start = clock()
        for i in range(count):
            before = clock()
            await spawn(f"c{i}", echo)
            append(clock() - before)
        await asyncio.sleep(0)  # the actors' loops take their first step (and park)
        total = clock() - start
        return samples, total


def floor_samples(engine: Engine, count: int) -> list[int]:
    """ns of each ``instantiate`` + ``init`` + ``metadata`` of ``echo``, instances kept alive."""
    artifact = engine.load(guests.path("echo"))
    clock = time.perf_counter_ns
    samples: list[int] = []
    kept = []
    try:
        for _ in range(count):
            before = clock()
            instance = artifact.instantiate()
            instance.init(None)
            instance.metadata()
            samples.append(clock() - before)
            kept.append(instance)
    finally:
        for instance in kept:
            instance.close()
    return samples


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects 300 spawns instead of 10,000 (quick mode)."""
    count = 300 if min_seconds < 0.1 else 10_000
    engine = Engine()
    try:
        # The floor first, and a collection after each part: otherwise the collector frees one
        # part's instances (munmap of their Stores) while the other part is being timed.
        floor = distribution(floor_samples(engine, min(count, 2000)))
        gc.collect()
        samples, total = asyncio.run(spawn_samples(engine, count))
        gc.collect()
        # The default HostConfig probes every actor's health: what that adds to a spawn.
        probed, _ = asyncio.run(spawn_samples(engine, count, HostConfig()))
        gc.collect()
    finally:
        engine.close()
    dist = distribution(samples)
    probed_mean = distribution(probed).mean
    label = f"Host.spawn of echo ({count:,} into one host)"
    return [
        Comparison(f"{label}: mean", dist.mean, "budget 100 µs", MEAN_BUDGET_NS, target=True),
        Comparison(f"{label}: mean", dist.mean, "instantiate + init + metadata (floor)", floor.mean),
        Comparison(f"{label}: p50", dist.p50, "floor p50", floor.p50),
        Comparison(f"{label}: p99", dist.p99, "floor p99", floor.p99),
        Comparison(f"{label}: max", dist.max, "floor max", floor.max),
        Comparison("  what spawn adds over the floor (mean - floor mean)", dist.mean - floor.mean,
                   "budget 85 µs", HOST_SHARE_BUDGET_NS, target=True),
        Comparison(f"{label}, default HostConfig (health probing on): mean", probed_mean,
                   "health=None mean (above)", dist.mean),
        Comparison(f"{count:,} spawns into one host, until every actor runs", float(total),
                   f"budget {TOTAL_BUDGET_NS_PER_10K * count / 10_000 / 1e9:g} s",
                   TOTAL_BUDGET_NS_PER_10K * count / 10_000, target=True),
    ]
