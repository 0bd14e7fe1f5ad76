"""Async host functions as an API (runtime.suspend): ``async def`` implementations and
``@suspending`` functions, driven by the actor scheduler or called from synchronous code."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from airssys_wasm import CallCancelled, TrapError, TrapKind
from airssys_wasm._fast.fastcall import GuestCall, HostWait
from airssys_wasm.actor.scheduler import Scheduler
from airssys_wasm.runtime import ComponentId, HostServices, Limits
from airssys_wasm.runtime.suspend import call_deadline, offload, suspending

from .conftest import example

FS = "airssys:ext-filesystem/filesystem@1.0.0"
ME = ComponentId("probe", "tests", "1.0.0")


@pytest.fixture
def probe(engine):
    return engine.load(example("fs-probe.wat"))  # execute(path) -> read-file(path)


async def test_an_async_def_host_function_suspends_its_guest(probe) -> None:
    events: list[str] = []

    async def read_file(services: HostServices, path: str) -> Any:
        events.append(f"start {path}")
        await asyncio.sleep(0.02)
        events.append(f"done {path}")
        return ("ok", f"{services.component.name}:{path}".encode())

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(services=HostServices(ME))
    inst.suspendable = True
    call = inst.execute(b"/a")
    assert type(call) is GuestCall and inst.pending is call
    # Suspended on its host call, or (on a loaded box) by a time slice that ran out first.
    assert call.waiting is None or "read-file" in call.waiting.what

    async def neighbour() -> None:
        events.append("neighbour ran")

    scheduler = Scheduler()
    result, _ = await asyncio.gather(scheduler.finish(call), neighbour())
    assert result == b"probe:/a"
    # The loop was free while the guest waited (before "start" too, if a time slice ran out
    # before the guest reached its host call).
    assert events.index("neighbour ran") < events.index("done /a")
    assert sorted(events) == ["done /a", "neighbour ran", "start /a"]
    assert inst.pending is None and scheduler.stats.wakeups >= 1


def test_the_same_async_def_serves_a_synchronous_caller(probe) -> None:
    async def read_file(services: HostServices, path: str) -> Any:
        await asyncio.sleep(0.01)
        return ("ok", b"sync " + path.encode())

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(services=HostServices(ME))  # suspendable is False
    assert inst.execute(b"/b") == b"sync /b"


async def test_a_suspending_function_may_answer_at_once_or_later(probe) -> None:
    waits: list[HostWait] = []

    @suspending
    def read_file(services: HostServices, path: str) -> Any:
        if path == "/now":
            return ("ok", b"at once")
        wait = HostWait()
        waits.append(wait)
        return wait

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(services=HostServices(ME))
    inst.suspendable = True
    now = inst.execute(b"/now")  # answered at once (a GuestCall only if a time slice ran out)
    assert (await Scheduler().finish(now) if type(now) is GuestCall else now) == b"at once"
    call = inst.execute(b"/later")
    asyncio.get_running_loop().call_later(0.01, lambda: waits[0].set_result(("ok", b"later")))
    assert await Scheduler().finish(call) == b"later"


async def test_offloaded_work_sees_the_guest_deadline(probe) -> None:
    seen: list[Any] = []

    def blocking_read(path: str) -> Any:
        seen.append((threading.current_thread().name, call_deadline()))
        return ("ok", b"from " + threading.current_thread().name.encode())

    @suspending
    def read_file(services: HostServices, path: str) -> Any:
        return offload(blocking_read, path, what=f"read {path}")

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(Limits(timeout_ms=500), services=HostServices(ME))
    inst.suspendable = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await Scheduler().finish(inst.execute(b"/c"))
    assert reply.startswith(b"from airssys-io")
    [(thread, deadline)] = seen
    assert thread.startswith("airssys-io") and started < deadline <= started + 0.6


async def test_a_wait_that_outlives_the_deadline_traps_with_timeout(probe) -> None:
    cancelled: list[bool] = []

    async def read_file(services: HostServices, path: str) -> Any:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return ("ok", b"never")

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(Limits(timeout_ms=50), services=HostServices(ME))
    inst.suspendable = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TrapError) as info:
        await Scheduler().finish(inst.execute(b"/slow"))
    assert info.value.kind is TrapKind.TIMEOUT and loop.time() - started < 0.3
    await asyncio.sleep(0)
    assert cancelled == [True]  # the task behind the wait was cancelled with the call
    assert inst.poisoned and inst.closed  # a fresh instance is needed, as after a trap


async def test_cancelling_the_driver_cancels_the_call_and_poisons_the_instance(probe) -> None:
    async def read_file(services: HostServices, path: str) -> Any:
        await asyncio.sleep(10)
        return ("ok", b"never")

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(Limits(timeout_ms=5000), services=HostServices(ME))
    inst.suspendable = True
    scheduler = Scheduler()
    task = asyncio.create_task(scheduler.finish(inst.execute(b"/x")))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert scheduler.stats.cancelled == 1
    assert isinstance(inst.trap, CallCancelled) and inst.closed
    fresh = inst.fresh()
    fresh.suspendable = True
    assert type(fresh.execute(b"/y")) is GuestCall  # the next incarnation works
    fresh.close()  # closing cancels its suspended call first
    assert fresh.pending is None


async def test_time_the_host_takes_to_resume_a_done_wait_is_not_the_guests(probe) -> None:
    """Isolation in time: the deadline ends a guest still waiting for its host work, not one
    the host (a busy loop, other actors' turns) was slow to resume once that work was done."""

    async def read_file(services: HostServices, path: str) -> Any:
        await asyncio.sleep(0.01)
        return ("ok", b"read " + path.encode())

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(Limits(timeout_ms=100, slice_us=20_000), services=HostServices(ME))
    inst.suspendable = True
    call = inst.execute(b"/busy")
    assert type(call) is GuestCall
    while call.waiting is not None and not call.waiting.done():
        await asyncio.sleep(0.002)
    time.sleep(0.25)  # the host is busy for 2.5x the guest's timeout before it resumes the call
    assert call.poll() is True
    assert call.finish() == b"read /busy"  # no "exceeded its 100 ms wall-clock deadline"


async def test_a_guest_queued_behind_a_busy_host_is_not_timed_out_by_the_scheduler(probe) -> None:
    """The same through the scheduler: the loop is blocked right after the wait completes
    (its resume is queued behind), and the deadline timer armed at the wait must not end it."""
    waits: list[HostWait] = []

    @suspending
    def read_file(services: HostServices, path: str) -> Any:
        wait = HostWait()
        waits.append(wait)
        return wait

    def complete_then_block() -> None:
        waits[0].set_result(("ok", b"answered"))
        time.sleep(0.2)  # the host is busy past the guest's 80 ms before it gets to resume it

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(Limits(timeout_ms=80, slice_us=20_000), services=HostServices(ME))
    inst.suspendable = True
    call = inst.execute(b"/queued")
    asyncio.get_running_loop().call_later(0.02, complete_then_block)
    scheduler = Scheduler()
    assert await scheduler.finish(call) == b"answered"
    assert scheduler.stats.expired == 0 and not inst.poisoned


def test_a_call_whose_slice_ran_out_is_not_timed_out_while_it_waits_for_its_turn(probe) -> None:
    """Issue 17: trivial calls of 10k round-robin actors trapped with "exceeded its 1000 ms
    wall-clock deadline" -- they had yielded at a slice end and then queued behind the others.
    A host function that holds the guest for 30 ms (past its 20 ms slice) makes it yield on its
    return; the 20 ms slice it gets on the late resume keeps OS noise on a shared machine from
    making it yield again before it finishes."""

    def read_file(services: HostServices, path: str) -> Any:
        time.sleep(0.03)  # the guest's own time: it counts
        return ("ok", b"read")

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(Limits(timeout_ms=100, slice_us=20_000), services=HostServices(ME))
    inst.suspendable = True
    call = inst.execute(b"/slice")
    assert type(call) is GuestCall and call.waiting is None  # runnable: its slice ran out
    time.sleep(0.25)  # every other actor has its turn first, for 2.5x the guest's timeout
    assert call.poll() is True and call.finish() == b"read"

