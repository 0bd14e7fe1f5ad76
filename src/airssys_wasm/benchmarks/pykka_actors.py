"""Pykka baselines for the actor suite (imported only when pykka is installed)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka

SUBSCRIBERS = 100


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


