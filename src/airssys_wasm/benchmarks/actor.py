"""Side by side in one process: our actors vs a plain asyncio.Queue consumer vs Pykka.

Run: `airssys-wasm bench --suite actor` (or `python benches/compare_actor.py`). ns per message,
and the ratio baseline/ours (above 1 means we are faster). Workloads:

- enqueue+dispatch: a producer sends N messages (awaiting when the mailbox is full) to one actor
  that counts them; time until the last is handled.
- dispatch only: N messages already queued; time for the actor to drain and handle them
  (with a plain ``def handle``, dispatched from C, and with an ``async def handle``).
- ping-pong: two actors bounce a message N times (one wake-up per hop: latency, not batching).
- fan-out: publish M messages to 100 subscribers; ns per delivered message.

Pykka runs each actor in its own thread with an unbounded queue, so its numbers include thread
hand-offs; asyncio.Queue is the floor for "one coroutine per message" in the same event loop.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import time
from collections.abc import Callable
from typing import Any


from airssys_wasm.actor import Actor, ActorSystem
from airssys_wasm.benchmarks.timing import Comparison, not_installed

TITLE = "Actor runtime: mailboxes, dispatch, pub/sub"

CAPACITY = 1024
SUBSCRIBERS = 100


# -- ours ------------------------------------------------------------------------------------------
class _Counter(Actor):
    def __init__(self, total: int, done: asyncio.Future[None]) -> None:
        self.total = total
        self.count = 0
        self.done = done

    def handle(self, message: Any) -> None:
        self.count += 1
        if self.count == self.total:
            self.done.set_result(None)


class _AsyncCounter(_Counter):
    async def handle(self, message: Any) -> None:  # type: ignore[override]
        _Counter.handle(self, message)


async def ours_enqueue_dispatch(n: int) -> float:
    done = asyncio.get_running_loop().create_future()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: _Counter(n, done), "counter", capacity=CAPACITY)
        send = ref.send
        start = time.perf_counter()
        for i in range(n):
            await send(i)
        await done
        return time.perf_counter() - start


async def ours_dispatch_only(n: int, actor: type[_Counter] = _Counter) -> float:
    done = asyncio.get_running_loop().create_future()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: actor(n, done), "counter", capacity=n)
        try_send = ref.try_send
        for i in range(n):  # no await: the actor cannot run until everything is queued
            try_send(i)
        start = time.perf_counter()
        await done
        return time.perf_counter() - start


class _Pong(Actor):
    def __init__(self, rounds: int, done: asyncio.Future[None]) -> None:
        self.rounds = rounds
        self.done = done
        self.peer: Any = None

    def handle(self, message: Any) -> None:
        if message >= self.rounds:
            self.done.set_result(None)
        else:
            self.peer.try_send(message + 1)


async def ours_ping_pong(rounds: int) -> float:
    done = asyncio.get_running_loop().create_future()
    async with ActorSystem() as system:
        actors: list[_Pong] = []

        def make() -> _Pong:
            actors.append(_Pong(rounds, done))
            return actors[-1]

        a = await system.spawn(make, "ping", capacity=4)
        b = await system.spawn(make, "pong", capacity=4)
        actors[0].peer, actors[1].peer = b, a
        start = time.perf_counter()
        a.try_send(0)
        await done
        return time.perf_counter() - start


class _FanSink(Actor):
    def __init__(self, total: int, remaining: list[int], done: asyncio.Future[None]) -> None:
        self.total = total
        self.count = 0
        self.remaining = remaining
        self.done = done

    def handle(self, message: Any) -> None:
        self.count += 1
        if self.count == self.total:
            self.remaining[0] -= 1
            if not self.remaining[0]:
                self.done.set_result(None)


async def ours_fan_out(messages: int) -> float:
    done = asyncio.get_running_loop().create_future()
    remaining = [SUBSCRIBERS]
    async with ActorSystem() as system:
        for i in range(SUBSCRIBERS):
            ref = await system.spawn(lambda: _FanSink(messages, remaining, done), f"sub{i}",
                                     capacity=CAPACITY)
            system.broker.subscribe("t", ref)
        publish = system.broker.publish
        start = time.perf_counter()
        for i in range(messages):
            await publish("t", i)
        await done
        return time.perf_counter() - start


# -- asyncio.Queue baseline ------------------------------------------------------------------------
async def _queue_consumer(queue: asyncio.Queue[Any], total: int, done: asyncio.Future[None],
                          handler: Callable[[Any], None]) -> None:
    for _ in range(total):
        handler(await queue.get())
    done.set_result(None)


async def queue_enqueue_dispatch(n: int) -> float:
    done = asyncio.get_running_loop().create_future()
    queue: asyncio.Queue[Any] = asyncio.Queue(CAPACITY)
    task = asyncio.create_task(_queue_consumer(queue, n, done, lambda m: None))
    put = queue.put
    start = time.perf_counter()
    for i in range(n):
        await put(i)
    await done
    elapsed = time.perf_counter() - start
    await task
    return elapsed


async def queue_dispatch_only(n: int) -> float:
    done = asyncio.get_running_loop().create_future()
    queue: asyncio.Queue[Any] = asyncio.Queue(n)
    for i in range(n):
        queue.put_nowait(i)
    task = asyncio.create_task(_queue_consumer(queue, n, done, lambda m: None))
    start = time.perf_counter()
    await done
    elapsed = time.perf_counter() - start
    await task
    return elapsed


async def queue_ping_pong(rounds: int) -> float:
    done = asyncio.get_running_loop().create_future()
    qa: asyncio.Queue[int] = asyncio.Queue(4)
    qb: asyncio.Queue[int] = asyncio.Queue(4)

    async def player(inbox: asyncio.Queue[int], outbox: asyncio.Queue[int]) -> None:
        while True:
            message = await inbox.get()
            if message >= rounds:
                if not done.done():
                    done.set_result(None)
                return
            outbox.put_nowait(message + 1)

    tasks = [asyncio.create_task(player(qa, qb)), asyncio.create_task(player(qb, qa))]
    start = time.perf_counter()
    qa.put_nowait(0)
    await done
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed


async def queue_fan_out(messages: int) -> float:
    done = asyncio.get_running_loop().create_future()
    remaining = [SUBSCRIBERS]
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(CAPACITY) for _ in range(SUBSCRIBERS)]

    async def consumer(queue: asyncio.Queue[Any]) -> None:
        for _ in range(messages):
            await queue.get()
        remaining[0] -= 1
        if not remaining[0]:
            done.set_result(None)

    tasks = [asyncio.create_task(consumer(q)) for q in queues]
    start = time.perf_counter()
    for i in range(messages):
        for queue in queues:
            await queue.put(i)
    await done
    elapsed = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return elapsed


# -- driver ----------------------------------------------------------------------------------------
def best_of(repeats: int, run: Callable[[], float]) -> float:
    """The fastest of ``repeats`` whole runs, each after a GC (no collection lands inside)."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        best = min(best, run())
    return best


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """Each workload for ours, asyncio.Queue and (if installed) Pykka; ns per message.

    Whole workloads are timed (best of ``repeat``), not statements: the cost being measured
    includes event-loop wake-ups. ``min_seconds`` below 0.1 selects the small (quick) sizes.
    """
    quick = min_seconds < 0.1
    n = 20_000 if quick else 200_000
    rounds = 2_000 if quick else 20_000
    fan = 200 if quick else 2_000
    pykka_n = n // 10  # Pykka is slow enough that a tenth gives a stable per-message figure
    pk: Any = None  # the Pykka baselines' module, when pykka is installed
    if importlib.util.find_spec("pykka") is not None:
        pk = importlib.import_module("airssys_wasm.benchmarks.pykka_actors")
    cases: list[tuple[str, int, Callable[[], float], Callable[[], float],
                      tuple[int, Callable[[], float]] | None]] = [
        ("enqueue+dispatch", n,
         lambda: asyncio.run(ours_enqueue_dispatch(n)),
         lambda: asyncio.run(queue_enqueue_dispatch(n)),
         (pykka_n, lambda: pk.pykka_enqueue_dispatch(pykka_n))),
        ("dispatch only (batched, def handle)", n,
         lambda: asyncio.run(ours_dispatch_only(n)),
         lambda: asyncio.run(queue_dispatch_only(n)),
         None),
        ("dispatch only (async def handle)", n,
         lambda: asyncio.run(ours_dispatch_only(n, _AsyncCounter)),
         lambda: asyncio.run(queue_dispatch_only(n)),
         None),
        ("ping-pong hop", rounds,
         lambda: asyncio.run(ours_ping_pong(rounds)),
         lambda: asyncio.run(queue_ping_pong(rounds)),
         (rounds // 4, lambda: pk.pykka_ping_pong(rounds // 4))),
        (f"fan-out x{SUBSCRIBERS} (per delivery)", fan * SUBSCRIBERS,
         lambda: asyncio.run(ours_fan_out(fan)),
         lambda: asyncio.run(queue_fan_out(fan)),
         (fan // 4 * SUBSCRIBERS, lambda: pk.pykka_fan_out(fan // 4))),
    ]
    rows: list[Comparison] = []
    for label, units, ours, queue, pykka_case in cases:
        ours_ns = best_of(repeat, ours) / units * 1e9
        rows.append(Comparison(label, ours_ns, "asyncio.Queue", best_of(repeat, queue) / units * 1e9))
        if pykka_case is not None and pk is None:
            rows.append(Comparison(label, ours_ns, not_installed(["Pykka"]), None))
        elif pykka_case is not None:
            pykka_units, pykka_run = pykka_case
            pykka_ns = best_of(max(1, repeat // 2), pykka_run) / pykka_units * 1e9
            rows.append(Comparison(label, ours_ns, "Pykka", pykka_ns))
    return rows
