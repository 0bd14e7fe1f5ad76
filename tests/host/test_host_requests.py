"""Request/response: Host.request -> execute, guest send-request -> handle-callback, timeouts,
cancellation and late replies."""

from __future__ import annotations

import asyncio
import struct

import pytest
from host_helpers import MINIMAL, PINGPONG, callbacks, eventually, request_op

import airssys_wasm as aw
from airssys_wasm.runtime import Limits


async def first_callback(host, name: str) -> tuple[int, int, bytes]:
    """Poll the guest until its handle-callback has run once."""
    for _ in range(200):
        seen = callbacks(await host.request(name, b"cbk?"))
        if seen[0]:
            return seen
        await asyncio.sleep(0.005)
    raise AssertionError(f"{name} never got a callback")


async def test_request_returns_the_reply_of_execute(host) -> None:
    await host.spawn("pp", PINGPONG)
    assert await host.request("pp", b"anything at all") == b"anything at all"
    assert await host.request("pp", b"ini?") == b"\x01\x00\x00\x00"  # init ran on spawn


async def test_each_request_gets_a_fresh_id_and_its_timeout(host) -> None:
    await host.spawn("pp", PINGPONG)
    ids = {await host.request("pp", b"rid?") for _ in range(5)}
    assert len(ids) == 5 and all(ids)
    (timeout_ms,) = struct.unpack("<Q", await host.request("pp", b"tmo?", timeout=0.5))
    assert 0 < timeout_ms <= 500


async def test_request_timeout_cancels_the_suspended_guest_call(host) -> None:
    await host.spawn("pp", PINGPONG)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(aw.RequestTimeout, match="within 20 ms"):
        await host.request("pp", b"nap!", timeout=0.02)  # the guest sleeps 100 ms
    assert loop.time() - started < 0.08  # on time: the sleeping guest does not hold the host
    stats = host.request_stats()
    assert (stats.timed_out, stats.late_replies, stats.replied, stats.pending) == (1, 0, 0, 0)
    # The sleeping call was cancelled with the request: its envelope is a dead letter with
    # the reason, and the component (in a fresh Store) answers the next request.
    await eventually(lambda: any(isinstance(d.error, aw.CallCancelled)
                                 for d in host.dead_letters), "the cancelled call's dead letter")
    [letter] = [d for d in host.dead_letters if isinstance(d.error, aw.CallCancelled)]
    assert "timed out" in str(letter.error) and "sleep-millis" in str(letter.error)
    assert await host.request("pp", b"ok?") == b"ok?"


async def test_requests_expired_in_the_mailbox_are_not_executed(host) -> None:
    await host.spawn("pp", PINGPONG)
    slow = asyncio.create_task(host.request("pp", b"nap!", timeout=1.0))
    queued = asyncio.create_task(host.request("pp", b"sick", timeout=0.03))
    assert await slow == b"awake"
    with pytest.raises(aw.RequestTimeout):
        await queued  # timed out on time, 30 ms, while the guest before it slept
    stats = host.request_stats()
    assert (stats.timed_out, stats.replied) == (1, 1)
    assert await host.health("pp") is aw.HealthStatus.HEALTHY  # "sick" never ran


async def test_abandoned_python_request_drops_its_reply() -> None:
    from airssys_wasm.host import RequestTable

    table = RequestTable("t", lambda req, cb: None, asyncio.get_running_loop())
    pending = table.open(aw.ComponentId("host"), "target", 1.0)
    table.abandon(pending)  # what Host.request does when its caller is cancelled
    assert not table.reply(pending, b"too late")
    assert not pending.future.done()
    stats = table.stats()
    assert (stats.cancelled, stats.late_replies, stats.pending) == (1, 1, 0)


async def test_guest_error_and_missing_execute_raise_guest_error(host) -> None:
    await host.spawn("min", MINIMAL)
    with pytest.raises(aw.GuestError) as info:
        await host.request("min", b"x")
    assert info.value.case == "unsupported"
    assert host.request_stats().failed == 1


async def test_trap_in_execute_fails_the_request_and_restarts(host) -> None:
    ref = await host.spawn("pp", PINGPONG, limits=Limits(timeout_ms=30))
    with pytest.raises(aw.TrapError) as info:
        await host.request("pp", b"loop", timeout=2.0)
    assert info.value.kind is aw.TrapKind.TIMEOUT
    assert await host.request("pp", b"ini?") == b"\x01\x00\x00\x00"  # a new, initialised instance
    assert ref.stats.restarts == 1


async def test_guest_request_is_answered_through_handle_callback(host) -> None:
    await host.spawn("a", PINGPONG)
    await host.spawn("b", PINGPONG)
    await host.send("b", b"\x55x")
    request_id = await host.request("a", request_op("b", b"cnt?", 1000))
    assert request_id.startswith(b"host-")
    seen, tag, outcome = await first_callback(host, "a")
    assert (seen, tag, outcome) == (1, 0, b"\x01\x00\x00\x00")


async def test_guest_request_timeout_is_a_callback_error_and_late_reply_dropped(host) -> None:
    await host.spawn("a", PINGPONG)
    await host.spawn("b", PINGPONG)
    await host.request("a", request_op("b", b"nap!", 20))
    seen, tag, outcome = await first_callback(host, "a")
    assert (seen, tag) == (1, 1) and b"no reply within 20 ms" in outcome
    assert host.request_stats().late_replies == 1
    await asyncio.sleep(0.03)  # nothing else arrives later
    assert callbacks(await host.request("a", b"cbk?"))[0] == 1


async def test_guest_cancel_request_stops_execution_and_callback(host) -> None:
    # A long time slice: "a" sends and cancels within one slice, so "b" cannot run in between.
    await host.spawn("a", PINGPONG, limits=Limits(slice_us=200_000))
    await host.spawn("b", PINGPONG)
    before = host.request_stats()
    assert await host.request("a", request_op("b", b"sick", 1000, cancel=True)) == b"ok"
    await eventually(lambda: host.ref("b").stats.messages_out >= 1, "b to see the request")
    assert await host.health("b") is aw.HealthStatus.HEALTHY  # "sick" never ran
    assert callbacks(await host.request("a", b"cbk?"))[0] == 0
    after = host.request_stats()
    assert after.cancelled - before.cancelled == 1 and after.pending == 0
    # the control: without the cancel, b does run it and a gets the callback
    await host.request("a", request_op("b", b"sick", 1000))
    assert (await first_callback(host, "a"))[:2] == (1, 0)
    assert await host.health("b") is aw.HealthStatus.UNHEALTHY


async def test_cancelling_an_unknown_request_is_reported_to_the_guest(host) -> None:
    await host.spawn("a", PINGPONG)
    reply = await host.request("a", b"cncl" + b"host-999")
    assert b"no open request" in reply


async def test_request_table_only_lets_the_caller_cancel() -> None:
    from airssys_wasm.host import RequestTable

    delivered: list[object] = []
    table = RequestTable("t", lambda req, cb: delivered.append(cb), asyncio.get_running_loop())
    owner, other = aw.ComponentId("owner"), aw.ComponentId("other")
    pending = table.open(owner, "target", 1.0, reply_to="owner")
    with pytest.raises(aw.PermissionDenied, match="only its own"):
        table.cancel(pending.id, by=other)
    table.cancel(pending.id, by=owner)
    assert not table.reply(pending, b"late")  # closed: dropped and counted
    assert table.stats().late_replies == 1 and delivered == []
    with pytest.raises(aw.ComponentNotFound):
        table.cancel(pending.id, by=owner)


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1.0, 0])
async def test_a_request_timeout_that_is_no_deadline_is_refused(host, timeout) -> None:
    await host.spawn("pp", PINGPONG)
    with pytest.raises(aw.ConfigError, match="a request timeout must be a finite number of "
                                             "seconds > 0"):
        await host.request("pp", b"cnt?", timeout=timeout)
    assert host.request_stats().issued == 0  # refused before a request was opened
    assert await host.request("pp", b"cnt?") == b"\x00\x00\x00\x00"


async def test_the_farthest_deadline_reaches_the_guest_as_the_largest_u64(host) -> None:
    # The time left goes to the guest as a u64 of milliseconds: 2**64 - 1 ms through a float
    # is 2**64, which the canonical ABI refused (the request failed with a ValueError).
    await host.spawn("pp", PINGPONG)
    for timeout in ((2 ** 64 - 1) / 1000, 1e300):
        assert await host.request("pp", b"cnt?", timeout=timeout) == b"\x00\x00\x00\x00"


def test_an_infinite_default_request_timeout_is_refused() -> None:
    with pytest.raises(aw.ConfigError, match="HostConfig.request_timeout must be a finite"):
        aw.HostConfig(request_timeout=float("inf"))
