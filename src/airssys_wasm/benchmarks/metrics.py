"""What metrics add to the message path, next to the path itself; and what a scrape costs.

Metrics are a pull model: the only work on the message path is the batch timer (two C calls
per drained batch) and the count of the permission decision a component -> component message
makes (one counter increment on the sender's send gate). Each row times that addition alone (``ours``)
against the cheapest path it sits on (``baseline``), so the ratio reads "the path costs N
times what metrics add to it":

* the batch timer against an actor ping-pong hop — one message per batch, the worst case;
  under load one timer covers up to ``batch_size`` messages;
* the count of an allowed ``messaging.send`` decision (``grant.gate.sent += 1`` in
  ``PermissionPolicy.check``, the upper bound: a send the gate passes counts in C; other
  decisions cost microseconds and are counted in a dict)
  against a component -> component message through the host, which makes one;
* a scrape (snapshot + Prometheus text) of a host with 100 components, per scrape, against
  nothing: it runs when Prometheus asks, not per message.

The before/after of whole paths (main's ``cell.py``/``audit.py`` against these) is in
BENCHMARKS.md; this suite is what `airssys-wasm bench --suite metrics` reruns.
"""

from __future__ import annotations

import asyncio
import time

from airssys_wasm._fast._metrics import LatencyHistogram
from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.actor import best_of, ours_ping_pong
from airssys_wasm.benchmarks.host import bench_c2c
from airssys_wasm.benchmarks.timing import Comparison, time_stmt
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.host.prometheus import render
from airssys_wasm.runtime import Engine
from airssys_wasm.security import AuditLog, PermissionPolicy
from airssys_wasm.security.trust import TrustLevel

TITLE = "Metrics: cost added to the message path, and per scrape"


def timer_ns(repeat: int, min_seconds: float) -> float:
    """ns per batch for ``start()`` + ``stop(n)``, called the way the batch loop calls them."""
    latency = LatencyHistogram()
    return time_stmt("start(); stop(1)", {"start": latency.start, "stop": latency.stop},
                     repeat=repeat, min_seconds=min_seconds)


def decision_count_ns(repeat: int, min_seconds: float) -> float:
    """ns per allowed ``messaging.send`` for its count on the policy's fast path (the statement
    ``PermissionPolicy.check`` runs, on a real grant)."""
    policy = PermissionPolicy(audit=AuditLog())
    grant = policy.register("stage", None, TrustLevel.UNKNOWN)
    return time_stmt("grant.gate.sent += 1", {"grant": grant}, repeat=repeat,
                     min_seconds=min_seconds)


async def scrape_seconds(engine: Engine, components: int, scrapes: int) -> float:
    """Seconds per ``render`` (snapshot + text) of a host with ``components`` components."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        minimal = guests.path("minimal")
        for i in range(components):
            await host.spawn(f"c{i}", minimal)
        render(host)  # warm: imports prometheus_client
        start = time.perf_counter()
        for _ in range(scrapes):
            render(host)
        return (time.perf_counter() - start) / scrapes


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects small workloads (quick mode)."""
    quick = min_seconds < 0.1
    rounds = 2_000 if quick else 20_000
    n = 500 if quick else 5000
    whole = max(1, min(repeat, 3))
    engine = Engine()
    try:
        hop = best_of(whole, lambda: asyncio.run(ours_ping_pong(rounds))) / rounds * 1e9
        c2c = best_of(whole, lambda: asyncio.run(bench_c2c(engine, n))) / n * 1e9
        scrape = min(asyncio.run(scrape_seconds(engine, 100, 5 if quick else 20))
                     for _ in range(whole)) * 1e9
        return [
            Comparison("batch timer start+stop (per batch)", timer_ns(repeat, min_seconds),
                       "actor ping-pong hop (1-message batches)", hop),
            Comparison("allowed-send decision count (per message)",
                       decision_count_ns(repeat, min_seconds),
                       "component -> component message", c2c),
            Comparison("scrape: snapshot + text, 100 components (per scrape)", scrape, "-", None),
        ]
    finally:
        engine.close()
