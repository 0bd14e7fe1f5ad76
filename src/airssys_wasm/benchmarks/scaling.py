"""Scaling: how the cost of a message grows with the number of actors, with the payload size
and with the number of busy neighbours. Rows for the figures a target speaks of, and curves
(``curves()``) that ``airssys-wasm bench --plot DIR`` draws and BENCHMARKS.md embeds.

* **actors**: ``Host.send`` of a 16-byte frame round-robin over 10 / 100 / 1,000 / 10,000
  actors of the bundled ``echo`` guest (quick mode stops at 1,000), in batches of ``BATCH``
  messages, each batch timed until every message in it was handled, after untimed batches
  that gave every actor its first message (a first call pays page faults that belong to
  starting an instance, not to the steady state). With 10 actors a batch
  gives each actor 100 messages, drained in batches; with 10,000 each actor gets one, so
  every message pays an actor's wake-up. Each count is measured beside a 10-actor host, both
  alive, batches taken in turn (``_paired``): the ratio comes from one window of time. A
  sample is one batch's time / its size, so p50 and p99 are over batches; the target is the
  10 -> 10,000 ratio of the p50 (≤ 1.5x).
* **payload**: what a message of 16 B ... 64 KiB costs on the component lane (``list<u8>``)
  and on the core-ABI lane, in and out (``payload.lane_costs``); a curve only, the payload
  suite has the rows.
* **busy neighbours**: an idle sibling's request latency (p50/p99) beside 0, 1, 2, 4 and 8
  guests spinning in ``execute`` (``suspend.sibling_latency``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from airssys_wasm.benchmarks import guests, payload, suspend
from airssys_wasm.benchmarks.timing import Comparison, Curve, Distribution, distribution
from airssys_wasm.host import ComponentRef, Host, HostConfig
from airssys_wasm.runtime import ComponentId, Engine

__all__ = ["ACTORS", "ActorCost", "BATCH", "BUSY", "QUICK_SIZES", "RATIO_BUDGET", "SIZES", "TITLE",
           "actor_costs", "curves", "neighbour_latency", "run"]

TITLE = "Scaling: cost per message vs actors, payload size and busy neighbours"

#: Actor counts (quick mode drops the last), busy-neighbour counts, payload sizes.
ACTORS = (10, 100, 1000, 10_000)
BUSY = (0, 1, 2, 4, 8)
SIZES = (16, 64, 256, 1024, 4096, 16384, 65536)
QUICK_SIZES = (16, 1024, 65536)
#: Messages per timed batch.
BATCH = 1000
#: The target: per-message cost with the most actors ≤ this many times the cost with 10.
RATIO_BUDGET = 1.5

FRAME = b"\x55" + b"x" * 15  # a 16-byte raw frame


class _Fanout:
    """One host of ``actors`` echo guests and the round-robin cursor over them."""

    def __init__(self, host: Host, refs: list[ComponentRef]) -> None:
        self.host, self.refs = host, refs
        self.names = [ref.name for ref in refs]
        self.expected = [0] * len(refs)
        self.cursor = 0

    async def batch(self, size: int) -> float:
        """ns per message of ``size`` ``Host.send`` calls, until each was handled."""
        # Untimed: who gets this batch's messages, and what each one's count will be.
        actors = len(self.refs)
        order = [(self.cursor + k) % actors for k in range(size)]
        self.cursor = (self.cursor + size) % actors
        targets = [self.names[i] for i in order]
        for i in order:
            self.expected[i] += 1
        waits = [(self.refs[i], self.expected[i]) for i in dict.fromkeys(order)]
        send = self.host.send
        start = time.perf_counter_ns()
        for name in targets:
            await send(name, FRAME)
        # Every actor the batch reached, in send order; each check is one stats() call.
        for ref, count in waits:
            while ref.stats.messages_out < count:
                await asyncio.sleep(0)
        return (time.perf_counter_ns() - start) / size


async def _paired(engine: Engine, base: int, count: int, batches: int, batch: int
                  ) -> tuple[list[float], list[float]]:
    """ns per message of each batch on a host of ``base`` actors and one of ``count`` actors,
    both alive, batches taken in turn, so a noisy neighbour on the machine slows both alike
    instead of whichever ran at that moment. (All counts at once would be better still, but
    10,000 instances already use most of Linux's default 65,530 memory maps per process: the
    11,111th instantiation fails with ENOMEM.) The price: a turn of the small host starts with
    caches the big one evicted; 1,000 messages per turn amortise it."""
    echo = guests.path("echo")
    async with contextlib.AsyncExitStack() as stack:
        fanouts = []
        for n in (base, count):
            host = await stack.enter_async_context(Host(HostConfig(health=None, name=f"h{n}"),
                                                        engine=engine))
            host.load(echo)
            fanouts.append(_Fanout(host, [await host.spawn(f"a{i}", echo) for i in range(n)]))
        few: list[float] = []
        many: list[float] = []
        warm = _warm_up_rounds(count, batch)
        for round_ in range(batches + warm):
            took = await fanouts[0].batch(batch), await fanouts[1].batch(batch)
            if round_ >= warm:
                few.append(took[0])
                many.append(took[1])
        return few, many


def _warm_up_rounds(count: int, batch: int) -> int:
    """Untimed batches before the samples: enough for every one of ``count`` instances to have
    had its first call (page faults on its fiber stack and linear memory belong to starting it,
    not to the steady state measured here), and at least two."""
    return max(2, -(-count // batch))


def _floor_paired(engine: Engine, base: int, count: int, batches: int, batch: int
                  ) -> tuple[list[float], list[float]]:
    """The engine's floor under ``_paired``: ns per call of ``Instance.handle_message`` of the
    same frame, round-robin over ``base`` and over ``count`` plain ``echo`` instances (no host,
    no actor, no loop), batches taken in turn the same way. What ``Host.send`` costs above this
    at the same N is what the host adds."""
    artifact = engine.load(guests.path("echo"))
    sender = ComponentId("scaling", "bench")
    pools = [[artifact.instantiate() for _ in range(n)] for n in (base, count)]
    cursors = [0, 0]
    few: list[float] = []
    many: list[float] = []
    try:
        warm = _warm_up_rounds(count, batch)
        for round_ in range(batches + warm):
            took = []
            for k, pool in enumerate(pools):
                n = len(pool)
                order = [pool[(cursors[k] + j) % n].handle_message for j in range(batch)]
                cursors[k] = (cursors[k] + batch) % n
                start = time.perf_counter_ns()
                for call in order:
                    call(sender, FRAME)
                took.append((time.perf_counter_ns() - start) / batch)
            if round_ >= warm:  # as in _paired
                few.append(took[0])
                many.append(took[1])
    finally:
        for pool in pools:
            for inst in pool:
                inst.close()
    return few, many


class ActorCost:
    """One actor count's per-message distributions: ``send`` (``Host.send``) and ``floor``
    (bare ``Instance.handle_message``), each beside the base count's (``send_base``,
    ``floor_base``) measured in the same pairing."""

    __slots__ = ("send_base", "send", "floor_base", "floor")

    def __init__(self, send_base: Distribution, send: Distribution, floor_base: Distribution,
                 floor: Distribution) -> None:
        self.send_base, self.send = send_base, send
        self.floor_base, self.floor = floor_base, floor

    @property
    def added(self) -> float:
        """p50 ns per message the host adds over the engine's floor at this count."""
        return self.send.p50 - self.floor.p50


def actor_costs(counts: tuple[int, ...], *, batches: int, batch: int = BATCH
                ) -> dict[int, ActorCost]:
    """For each count after the first: its ``Host.send`` and floor distributions over batches,
    each measured as a pair with the first count (``_paired``, ``_floor_paired``; the floor
    after the hosts closed, so at most count + base instances are alive). The first count maps
    to its samples of every pairing pooled."""
    base, pooled, pooled_floor = counts[0], [], []
    out: dict[int, ActorCost] = {}
    with Engine() as engine:
        for n in counts[1:]:
            few, many = asyncio.run(_paired(engine, base, n, batches, batch))
            floor_few, floor_many = _floor_paired(engine, base, n, batches, batch)
            pooled += few
            pooled_floor += floor_few
            out[n] = ActorCost(distribution(few), distribution(many), distribution(floor_few),
                               distribution(floor_many))
    alone, floor_alone = distribution(pooled), distribution(pooled_floor)
    return {base: ActorCost(alone, alone, floor_alone, floor_alone), **out}


def neighbour_latency(counts: tuple[int, ...], *, window: float) -> dict[int, Distribution]:
    """An idle sibling's request latency (ns) beside each number of spinning guests."""
    with Engine() as engine:
        return {k: distribution([s * 1e9 for s in asyncio.run(
            suspend.sibling_latency(engine, k, window))]) for k in counts}


def _plan(quick: bool) -> tuple[tuple[int, ...], int, float]:
    """(actor counts, batches per count, neighbour window in seconds)."""
    return (ACTORS[:-1], 6, 0.15) if quick else (ACTORS, 40, 1.0)


def _actors_label(n: int) -> str:
    return f"{n:,} actor{'s' if n != 1 else ''}"


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects quick mode (up to 1,000 actors, shorter windows)."""
    counts, batches, window = _plan(min_seconds < 0.1)
    # The small workloads first: 10,000 actors leave a heap behind (freed, not returned).
    busy = neighbour_latency(BUSY, window=window)
    costs = actor_costs(counts, batches=batches)
    base = _actors_label(counts[0])
    last, first = costs[counts[-1]], costs[counts[0]]
    few, most = last.send_base, last.send
    rows = [Comparison(f"Host.send 16 B round-robin, {_actors_label(counts[-1])} vs {counts[0]}: "
                       f"p50 per message, {most.p50 / few.p50:.1f}x", most.p50, f"budget {RATIO_BUDGET}x the {base} p50 "
                       f"({few.p50 / 1e3:.2f} µs)", RATIO_BUDGET * few.p50, target=True)]
    # What the host adds over the engine at the same N: the part the host can keep flat.
    added_base = first.added
    rows.append(Comparison(
        f"host's added cost (Host.send p50 - engine floor p50), {_actors_label(counts[-1])} vs "
        f"{counts[0]}: {last.added / added_base:.1f}x" if added_base > 0 else
        f"host's added cost, {_actors_label(counts[-1])}", last.added,
        f"{RATIO_BUDGET}x the {base} added cost ({added_base / 1e3:.2f} µs)",
        RATIO_BUDGET * added_base if added_base > 0 else None))
    for n, cost in costs.items():
        label = f"Host.send 16 B round-robin over {_actors_label(n)}"
        d, ref = cost.send, cost.send_base
        if n == counts[0]:
            rows.append(Comparison(f"{label}: p50 (every pairing)", d.p50, "-", None))
        else:
            rows.append(Comparison(f"{label}: p50", d.p50, f"{base}, batches in turn", ref.p50))
        rows.append(Comparison(f"  p99 ({d.n} batches of {BATCH})", d.p99, "-", None))
        rows.append(Comparison("  engine floor: Instance.handle_message round-robin, p50",
                               cost.floor.p50, "-", None))
        rows.append(Comparison("  host's added cost (p50 - floor p50)", cost.added, "-", None))
    idle = busy[0]
    for k, d in busy.items():
        label = f"sibling request beside {k} spinning guest{'s' if k != 1 else ''}"
        rows.append(Comparison(f"{label}: p50", d.p50, "-", None))
        rows.append(Comparison(f"  p99 ({d.n} requests)", d.p99, "-", None) if k == 0 else
                    Comparison(f"  p99 ({d.n} requests)", d.p99, "same, no busy neighbour",
                               idle.p99))
    return rows


def curves(*, quick: bool) -> list[Curve]:
    """The three scaling curves: per-message cost vs actors, per-call cost vs payload size on
    each lane (log-log), neighbour latency vs busy neighbours."""
    counts, batches, window = _plan(quick)
    # The small workloads first: 10,000 actors leave a heap behind (freed, not returned).
    lanes = payload.lane_costs(QUICK_SIZES if quick else SIZES, repeat=1 if quick else 5,
                               min_seconds=0.01 if quick else 0.1)
    busy = neighbour_latency(BUSY, window=window)
    costs = actor_costs(counts, batches=batches)
    return [
        Curve("scaling-actors", "Host.send 16 B round-robin: cost per message vs actors",
              "actors", "per message",
              {"p50": [(float(n), c.send.p50) for n, c in costs.items()],
               "p99": [(float(n), c.send.p99) for n, c in costs.items()],
               "engine floor p50 (Instance.handle_message)":
                   [(float(n), c.floor.p50) for n, c in costs.items()],
               "host's added p50 (p50 - floor)":
                   [(float(n), max(c.added, 1.0)) for n, c in costs.items()]},
              log_x=True, log_y=True),  # log y: one slow batch at 10,000 would flatten the p50
        Curve("scaling-payload", "Cost per call vs payload size, component vs core-ABI lane",
              "payload", "per call", lanes, log_x=True, log_y=True, x_unit="bytes"),
        Curve("scaling-neighbours", "Idle sibling's request latency vs busy (spinning) neighbours",
              "spinning neighbours", "request latency",
              {"p50": [(float(k), d.p50) for k, d in busy.items()],
               "p99": [(float(k), d.p99) for k, d in busy.items()]}),
    ]
