"""Helpers for the host tests: example paths, pingpong command builders, a bounded poller."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any
from airssys_wasm.benchmarks import guests

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wat"
PINGPONG = guests.path("pingpong")
MINIMAL = guests.path("minimal")
ECHO = guests.path("echo")

RAW = b"\x55"
PLAIN = RAW + b"x"  # counted by pingpong
POISON = RAW + b"u"  # pingpong traps (unreachable)
REFUSE = RAW + b"e"  # pingpong answers err(internal-error)


def ping(ttl: int) -> bytes:
    return RAW + b"p" + bytes([ttl])


def send_op(target: str, ttl: int) -> bytes:
    return b"send" + bytes([ttl]) + target.encode()


def burst_op(target: str, n: int) -> bytes:
    return b"brst" + struct.pack("<I", n) + target.encode()


def request_op(target: str, payload: bytes, timeout_ms: int, *, cancel: bool = False) -> bytes:
    return ((b"rqcn" if cancel else b"rqst") + struct.pack("<I", timeout_ms)
            + bytes([len(payload)]) + payload + target.encode())


def u32(reply: bytes) -> int:
    return struct.unpack("<I", reply)[0]


def callbacks(reply: bytes) -> tuple[int, int, bytes]:
    """Decode pingpong's "cbk?" reply: (callbacks seen, last tag 0 ok/1 err, last outcome)."""
    return u32(reply[:4]), reply[4], reply[5:]


def events_of(host: Any, kind: type) -> list[Any]:
    """Events of type ``kind`` recorded by the ``host`` fixture's listener."""
    return [e for e in host.events if isinstance(e, kind)]


async def eventually(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Yield to the loop until ``predicate()`` holds (bounded, so a bug fails instead of hanging)."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0)
    for _ in range(300):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")
