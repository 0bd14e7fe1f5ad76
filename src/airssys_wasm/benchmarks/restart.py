"""Restarts: a new Store, instantiate, close -- what a supervisor pays to replace a trapped actor.

A trap poisons a wasmtime Store, so every restart is a fresh Store plus an instantiation from the
compiled artifact; the compile is done once. The baseline is bare wasmtime-py doing the same
(a Store, its limits and epoch deadline, instantiate, the ``handle-message`` lookup for
components / the exports for core modules, close) on the same wasmtime Engine, so both sides use
the same allocator. Rows in pairs: wasmtime's default on-demand allocator (mmap/munmap per
Store) and the pooling allocator (``EngineConfig(pooling=...)``, slots reused). The target row
is the restart budget of issue 17 (<= 10 us); the p50/p99 rows time single restarts, the tail a
supervisor restarting many actors at once sees. The component model has no instance-pre in the
pinned C API (wasmtime 50), so only core modules skip linking per restart.

The supervised row is a restart end to end through the public Host API: the ``pingpong`` actor
gets a message that traps its guest, its supervisor replaces the instance (zero backoff), and
the next message is handled by the new one; one cycle is timed until that message is counted.
Its baseline is the same loop without the trap (one message handled per cycle).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import wasmtime

from airssys_wasm.actor import Backoff
from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.runtime import bare_component_restart, bare_core_restart, per_call_ns
from airssys_wasm.benchmarks.timing import Comparison, distribution
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import Engine, EngineConfig, PoolingConfig

#: pingpong commands (after the 1-byte codec prefix): 'u' traps, 'x' is counted.
_TRAP, _COUNT = b"\x55u", b"\x55x"

TITLE = "Restart: Store + instantiate + close (vs bare wasmtime-py)"

BARE = "bare wasmtime-py"
#: Issue 17's budget for one restart of a small component.
RESTART_BUDGET_NS = 10_000.0
#: Slots for the pooled engine: enough for the suite, a small reservation.
POOL = PoolingConfig(total_component_instances=64, total_core_instances=256, total_memories=64,
                     total_tables=128, total_stacks=64)


def _wasm(name: str) -> bytes:
    return bytes(wasmtime.wat2wasm(guests.text(name)))


def _samples(fn: Callable[[], object], n: int) -> list[float]:
    """Per-restart wall times (ns) of ``n`` single restarts, after a warm-up."""
    for _ in range(10):
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        start = clock()
        fn()
        out.append(float(clock() - start))
    return out


async def _supervised_cycles(engine: Engine, cycles: int, trap: bool) -> float:
    """ns per cycle: (a trapping message, then) a message the actor must handle, awaited."""

    config = HostConfig(health=None, max_restarts=cycles + 1, within=3600.0)
    async with Host(config, engine=engine) as host:
        ref = await host.spawn("loop", _wasm("pingpong"), backoff=Backoff(initial=0.0, jitter=0.0))
        send, pause, clock = host.try_send, asyncio.sleep, time.perf_counter_ns
        start = clock()
        for i in range(1, cycles + 1):
            if trap:
                send("loop", _TRAP)
            send("loop", _COUNT)
            while ref.stats.messages_out < i:
                await pause(0)
        elapsed = clock() - start
        stats = ref.stats
        assert stats.messages_out == cycles and stats.restarts == (cycles if trap else 0), stats
    return elapsed / cycles


def _supervised(engine: Engine, cycles: int, repeat: int, trap: bool) -> float:
    """Best of ``repeat`` runs. The host logs every failure and restart as a real one would;
    the records go to a NullHandler here (not to stderr through logging's last resort)."""
    log = logging.getLogger("airssys_wasm")
    sink = logging.NullHandler()
    log.addHandler(sink)
    try:
        return min(asyncio.run(_supervised_cycles(engine, cycles, trap)) for _ in range(repeat))
    finally:
        log.removeHandler(sink)


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects small loop counts (quick mode)."""
    scale = 0.1 if min_seconds < 0.1 else 1.0
    n, n_samples = max(20, int(1000 * scale)), max(50, int(5000 * scale))
    echo, core = _wasm("echo"), _wasm("core_actor")
    rows: list[Comparison] = []
    pooled_component = 0.0
    for label, config in (("on-demand", EngineConfig()), ("pooling", EngineConfig(pooling=POOL))):
        engine = Engine(config)
        try:
            artifact, core_artifact = engine.load(echo), engine.load(core)

            def ours() -> None:
                artifact.instantiate().close()

            def ours_core() -> None:
                core_artifact.instantiate().close()

            bare, bare_core = (bare_component_restart(engine.wasm_engine, echo),
                               bare_core_restart(engine.wasm_engine, core))
            ours_ns = per_call_ns(ours, n, repeat)
            rows.append(Comparison(f"restart, component, {label} allocator", ours_ns, BARE,
                                   per_call_ns(bare, n, repeat)))
            rows.append(Comparison(f"restart, core module, {label} allocator",
                                   per_call_ns(ours_core, n, repeat), BARE,
                                   per_call_ns(bare_core, n, repeat)))
            if label == "pooling":
                pooled_component = ours_ns
                mine, theirs = distribution(_samples(ours, n_samples)), \
                    distribution(_samples(bare, n_samples))
                rows.append(Comparison("restart, component, pooling: p50", mine.p50, BARE,
                                       theirs.p50))
                rows.append(Comparison("restart, component, pooling: p99", mine.p99, BARE,
                                       theirs.p99))
                cycles = max(20, int(500 * scale))
                rows.append(Comparison(
                    "supervised restart, pooling: trap -> supervisor restarts -> next message "
                    "handled, per cycle", _supervised(engine, cycles, repeat, True),
                    "same message loop, no trap", _supervised(engine, cycles, repeat, False)))
        finally:
            engine.close()
    rows.append(Comparison("restart, component, pooling: issue 17 target", pooled_component,
                           "budget 10 us", RESTART_BUDGET_NS, target=True))
    return rows
