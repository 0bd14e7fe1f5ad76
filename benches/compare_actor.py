"""Side by side in one process: our actors vs a plain asyncio.Queue consumer vs Pykka.

Run: `python benches/compare_actor.py [--quick]`. Prints ns per message (lower is better) and
the ratio baseline/ours (above 1 means we are faster). Workloads:

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
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from airssys_wasm.actor import Actor, ActorSystem

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


# -- Pykka baseline --------------------------------------------------------------------------------
class _PykkaCounter(pykka.ThreadingActor):
    def __init__(self, total: int, done: threading.Event) -> None:
        super().__init__()
        self.total = total
        self.count = 0
        self.done = done

    def on_receive(self, message: Any) -> None:
        self.count += 1
        if self.count == self.total:
            self.done.set()


def pykka_enqueue_dispatch(n: int) -> float:
    done = threading.Event()
    ref = _PykkaCounter.start(n, done)
    tell = ref.tell
    start = time.perf_counter()
    for i in range(n):
        tell(i)
    done.wait()
    elapsed = time.perf_counter() - start
    ref.stop()
    return elapsed


class _PykkaPong(pykka.ThreadingActor):
    def __init__(self, rounds: int, done: threading.Event) -> None:
        super().__init__()
        self.rounds = rounds
        self.done = done
        self.peer: Any = None

    def on_receive(self, message: Any) -> None:
        if isinstance(message, pykka.ActorRef):
            self.peer = message
        elif message >= self.rounds:
            self.done.set()
        else:
            self.peer.tell(message + 1)


def pykka_ping_pong(rounds: int) -> float:
    done = threading.Event()
    a = _PykkaPong.start(rounds, done)
    b = _PykkaPong.start(rounds, done)
    a.ask(b)
    b.ask(a)
    start = time.perf_counter()
    a.tell(0)
    done.wait()
    elapsed = time.perf_counter() - start
    a.stop()
    b.stop()
    return elapsed


def pykka_fan_out(messages: int) -> float:
    done = threading.Event()
    remaining = [SUBSCRIBERS]
    lock = threading.Lock()

    class Sink(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> None:
            self.count += 1
            if self.count == messages:
                with lock:
                    remaining[0] -= 1
                    if not remaining[0]:
                        done.set()

    refs = [Sink.start() for _ in range(SUBSCRIBERS)]
    start = time.perf_counter()
    for i in range(messages):
        for ref in refs:
            ref.tell(i)
    done.wait()
    elapsed = time.perf_counter() - start
    pykka.ActorRegistry.stop_all()
    return elapsed


# -- driver ----------------------------------------------------------------------------------------
def best_of(repeats: int, run: Callable[[], float]) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        best = min(best, run())
    return best


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    n = 20_000 if quick else 200_000
    rounds = 2_000 if quick else 20_000
    fan = 200 if quick else 2_000
    pykka_n = n // 10  # Pykka is slow enough that a tenth gives a stable per-message figure
    repeats = 3 if quick else 5
    rows = [
        ("enqueue+dispatch", n, n,
         lambda: asyncio.run(ours_enqueue_dispatch(n)),
         lambda: asyncio.run(queue_enqueue_dispatch(n)),
         (pykka_n, lambda: pykka_enqueue_dispatch(pykka_n))),
        ("dispatch only (batched)", n, n,
         lambda: asyncio.run(ours_dispatch_only(n)),
         lambda: asyncio.run(queue_dispatch_only(n)),
         None),
        ("dispatch only, async def handle", n, n,
         lambda: asyncio.run(ours_dispatch_only(n, _AsyncCounter)),
         lambda: asyncio.run(queue_dispatch_only(n)),
         None),
        ("ping-pong hop", rounds, rounds,
         lambda: asyncio.run(ours_ping_pong(rounds)),
         lambda: asyncio.run(queue_ping_pong(rounds)),
         (rounds // 4, lambda: pykka_ping_pong(rounds // 4))),
        (f"fan-out x{SUBSCRIBERS} (per delivery)", fan, fan * SUBSCRIBERS,
         lambda: asyncio.run(ours_fan_out(fan)),
         lambda: asyncio.run(queue_fan_out(fan)),
         (fan // 4, lambda: pykka_fan_out(fan // 4))),
    ]
    print(f"python {sys.version.split()[0]}, best of {repeats}; ns per message "
          "(ratio = baseline / ours, > 1 means ours is faster)")
    print(f"{'workload':32} {'ours':>10} {'asyncio.Queue':>14} {'ratio':>7} {'pykka':>10} {'ratio':>8}")
    for label, _, units, ours, queue, pykka_case in rows:
        ours_ns = best_of(repeats, ours) / units * 1e9
        queue_ns = best_of(repeats, queue) / units * 1e9
        line = f"{label:32} {ours_ns:10.0f} {queue_ns:14.0f} {queue_ns / ours_ns:7.2f}"
        if pykka_case is not None:
            pykka_units = pykka_case[0] * (SUBSCRIBERS if label.startswith("fan-out") else 1)
            pykka_ns = best_of(max(1, repeats // 2), pykka_case[1]) / pykka_units * 1e9
            line += f" {pykka_ns:10.0f} {pykka_ns / ours_ns:8.2f}"
        else:
            line += f" {'-':>10} {'-':>8}"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
