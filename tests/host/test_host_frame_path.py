"""A component actor's messages reach ``handle-message`` through its instance's C frame path.

After the first message no Python frame runs per message (watched with ``sys.setprofile``),
and every way an instance is replaced — a supervisor restart after a trap, a health probe that
trapped, a hot upgrade — gives the next message a path of its own, on the new instance.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import airssys_wasm as aw
from airssys_wasm import Host
from airssys_wasm.actor import ActorState
from airssys_wasm.host.component_actor import ComponentActor
from airssys_wasm.runtime.instance import ComponentInstance

from host_helpers import PINGPONG, PLAIN, POISON, REFUSE, eventually

PYTHON_PATH = {ComponentActor.handle.__code__, ComponentActor._other.__code__,
               ComponentInstance.handle_message.__code__}


@contextmanager
def python_frames() -> Iterator[list[str]]:
    """Names of the Python message-path functions called while the block runs."""
    seen: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in PYTHON_PATH:
            seen.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


def counted(reply: bytes) -> int:
    return struct.unpack("<I", reply)[0]


async def send_and_count(host: Host, name: str, n: int) -> list[str]:
    """One frame to ``name`` (its first batch installs the path), then ``n`` more: the Python
    frames those ``n`` ran. Checks that all arrived."""
    before = host.ref(name).stats.messages_out
    await host.send(name, PLAIN)
    await eventually(lambda: host.ref(name).stats.messages_out > before, "the first handled")
    with python_frames() as frames:
        for _ in range(n):
            await host.send(name, PLAIN)
        await eventually(lambda: host.ref(name).stats.messages_out >= before + 1 + n, "handled")
    return frames


async def test_messages_after_the_first_batch_run_no_python_frame(host: Host) -> None:
    await host.spawn("b", PINGPONG)
    assert await send_and_count(host, "b", 50) == []
    assert counted(await host.request("b", b"cnt?")) == 51


async def test_an_error_answer_is_a_dead_letter_and_the_path_stays(host: Host) -> None:
    await host.spawn("b", PINGPONG)
    assert await send_and_count(host, "b", 1) == []
    with python_frames() as frames:
        await host.send("b", REFUSE)
        for _ in range(10):
            await host.send("b", PLAIN)
        await eventually(lambda: host.ref("b").stats.messages_out >= 13, "handled")
    assert frames == []  # the error answer went back to Python through settle, not handle
    [letter] = host.dead_letters
    assert letter.message == (host.config.host_id, REFUSE)
    assert isinstance(letter.error, aw.GuestError) and letter.error.case == "internal-error"
    assert host.stats("b").guest_errors == 1 and host.ref("b").stats.restarts == 0
    assert counted(await host.request("b", b"cnt?")) == 12


async def test_a_restart_after_a_trap_gets_a_new_path(host: Host) -> None:
    ref = await host.spawn("b", PINGPONG)
    assert await send_and_count(host, "b", 5) == []
    first = host.registry.get("b").instance
    await host.send("b", POISON)
    await eventually(lambda: host.registry.get("b").instance not in (None, first), "restarted")
    await eventually(lambda: ref.state is ActorState.RUNNING, "running again")
    # A new incarnation: its first batch installs its own path, then C.
    assert await send_and_count(host, "b", 20) == []
    assert counted(await host.request("b", b"cnt?")) == 21


async def test_a_health_probe_that_traps_replaces_the_path_too(host: Host) -> None:
    await host.spawn("b", PINGPONG)
    assert await send_and_count(host, "b", 5) == []
    first = host.registry.get("b").instance
    assert await host.request("b", b"hbad") == b"ok"
    assert await host.health("b") is aw.HealthStatus.UNHEALTHY  # probe trapped: new instance
    assert host.registry.get("b").instance is not first and first is not None and first.closed
    assert await send_and_count(host, "b", 20) == []
    assert counted(await host.request("b", b"cnt?")) == 21  # counted by the new instance


async def test_an_upgrade_moves_the_path_to_the_new_code(host: Host) -> None:
    await host.spawn("b", PINGPONG)
    assert await send_and_count(host, "b", 5) == []
    first = host.registry.get("b").instance
    await host.upgrade("b", PINGPONG)
    assert host.registry.get("b").instance is not first and first is not None and first.closed
    assert await send_and_count(host, "b", 20) == []
    assert counted(await host.request("b", b"cnt?")) == 21
