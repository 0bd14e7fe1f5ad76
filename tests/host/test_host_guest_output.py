"""Through the public Host API: a guest's stderr before a trap is in the TrapError of its dead
letter, and its output is logged under airssys_wasm.guest.<name>."""

from __future__ import annotations

import logging
from pathlib import Path

from host_helpers import RAW, eventually

import airssys_wasm as aw
from airssys_wasm.actor import DeadLetterReason

#: A WASI guest writing to stdout/stderr (and trapping after it on 'E'); see its header.
STDIO_GUEST = Path(__file__).resolve().parents[1] / "runtime" / "stdio-guest.wat"


async def test_stderr_before_a_trap_is_in_the_dead_letter(host, caplog) -> None:
    caplog.set_level(logging.INFO, logger="airssys_wasm.guest")
    await host.spawn("talker", STDIO_GUEST)
    await host.send("talker", RAW + b"ohello from the guest\n")
    await host.send("talker", RAW + b"ETraceback (most recent call last):\nValueError: bad input\n")
    await eventually(lambda: bool(host.dead_letters), "the dead letter")
    [letter] = host.dead_letters
    assert letter.reason is DeadLetterReason.FAILED
    trap = letter.error
    assert isinstance(trap, aw.TrapError) and trap.kind is aw.TrapKind.UNREACHABLE
    assert trap.stderr == ("Traceback (most recent call last):", "ValueError: bad input")
    assert "ValueError: bad input" in str(trap)
    assert "guest stderr (last 2 lines):" in trap.backtrace
    logged = [(r.name, r.getMessage()) for r in caplog.records if r.name.startswith("airssys_wasm.guest")]
    assert ("airssys_wasm.guest.talker", "hello from the guest") in logged
    assert ("airssys_wasm.guest.talker", "ValueError: bad input") in logged
