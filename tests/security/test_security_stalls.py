"""Isolation in time: no guest can stall the host or its neighbours (the suspendable call path).

Each stall that used to hold the host's one event loop -- a guest sleeping, computing, reading
a FIFO, waiting on a silent TCP peer, on a slow child process or on a locked storage database --
is reproduced with a real guest next to a neighbour that must keep answering; then the blocked
guest must get its error or timeout on time. Cancellation is checked in every state a guest can
be suspended in: sleeping, in host I/O, between time slices. Timing bounds here are generous
(functional: "did not wait for the stall"); the latency figures are in the benchmarks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import stat
import time
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.host.ext_storage import DB_NAME
from airssys_wasm.runtime import Limits
from airssys_wasm.security import MemoryAuditSink

from security_helpers import EXAMPLES, EchoServer, argv, err, manifest, ok
from airssys_wasm.benchmarks import guests

PINGPONG = guests.path("pingpong")
EXT_FS = EXAMPLES / "ext-fs.wat"
EXT_NET = guests.path("ext-net")
EXT_PROC = guests.path("ext-proc")
EXT_STORE = guests.path("ext-store")
FILE_DENIED = 1
NET_TIMEOUT = 2
PROC_TIMEOUT = 3
STORE_IO = 3


async def answers_meanwhile(host: Host, name: str, n: int = 20) -> float:
    """Time for ``n`` requests to ``name`` (a pingpong), one after the other."""
    started = time.monotonic()
    for _ in range(n):
        assert await host.request(name, b"cnt?", timeout=2.0) == b"\x00\x00\x00\x00"
    return time.monotonic() - started


def cancelled_letters(host: Host) -> list[aw.CallCancelled]:
    return [d.error for d in host.dead_letters if isinstance(d.error, aw.CallCancelled)]


# --- sleeping and computing guests -----------------------------------------------------------

async def test_a_sleeping_guest_does_not_delay_its_neighbours(host) -> None:
    await host.spawn("sleeper", PINGPONG)
    await host.spawn("b", PINGPONG)
    nap = asyncio.create_task(host.request("sleeper", b"nap!"))  # sleep-millis(100)
    await asyncio.sleep(0.01)
    assert not nap.done()
    # Before: the neighbour's first request waited for the whole sleep (102-106 ms).
    assert await answers_meanwhile(host, "b", 5) < 0.05
    assert not nap.done()
    assert await nap == b"awake"


async def test_a_hundred_guests_sleep_at_the_same_time(host) -> None:
    names = [f"s{i}" for i in range(100)]
    for name in names:
        await host.spawn(name, PINGPONG)
    started = time.monotonic()
    replies = await asyncio.gather(*(host.request(n, b"nap!", timeout=5.0) for n in names))
    elapsed = time.monotonic() - started
    assert replies == [b"awake"] * 100
    assert elapsed < 1.0  # 100 x 100 ms one after the other would be 10 s


async def test_a_spinning_guest_does_not_hold_its_neighbours(host) -> None:
    await host.spawn("spinner", PINGPONG, limits=Limits(timeout_ms=2000))
    await host.spawn("b", PINGPONG)
    started = time.monotonic()
    spin = asyncio.create_task(host.request("spinner", b"loop", timeout=10.0))
    await asyncio.sleep(0.02)
    assert await answers_meanwhile(host, "b") < 1.0  # before: nothing until the 2 s timeout
    assert not spin.done()  # ... and all of them came while it was still spinning
    with pytest.raises(aw.TrapError) as trap:
        await spin
    assert trap.value.kind is aw.TrapKind.TIMEOUT
    assert 1.95 < time.monotonic() - started < 3.5  # its own deadline still holds
    assert await host.request("spinner", b"cnt?") == b"\x00\x00\x00\x00"  # restarted


async def test_busy_guests_share_the_cpu_and_all_meet_their_deadlines(host) -> None:
    """Four spinners, round robin: each one keeps getting slices (so each notices its own
    deadline on time) and a neighbour still answers between their slices."""
    spinners = [f"spin{i}" for i in range(4)]
    for name in spinners:
        await host.spawn(name, PINGPONG, limits=Limits(timeout_ms=1500))
    await host.spawn("b", PINGPONG)
    slices_before = host.system.scheduler.stats.slices

    async def spin(name: str) -> float:
        started = time.monotonic()
        with pytest.raises(aw.TrapError, match="deadline"):
            await host.request(name, b"loop", timeout=5.0)
        return time.monotonic() - started

    tasks = [asyncio.create_task(spin(n)) for n in spinners]
    await asyncio.sleep(0.02)
    assert await answers_meanwhile(host, "b") < 1.0
    assert not any(t.done() for t in tasks)  # answered while all four still spun
    durations = await asyncio.gather(*tasks)
    assert all(1.45 < d < 2.5 for d in durations), durations  # nobody starved past its deadline
    assert host.system.scheduler.stats.slices - slices_before > 100  # interleaved, not one by one


async def test_a_longer_slice_is_a_per_component_limit(host) -> None:
    """A component with a long slice computes longer between yields: the same spin costs its
    neighbour more latency per slice, which is why long slices are for trusted components."""
    await host.spawn("long", PINGPONG, limits=Limits(timeout_ms=400, slice_us=100_000))
    await host.spawn("b", PINGPONG)
    spin = asyncio.create_task(host.request("long", b"loop", timeout=5.0))
    await asyncio.sleep(0)
    assert await answers_meanwhile(host, "b", 5) > 0.05  # waited for 100 ms slices
    with pytest.raises(aw.TrapError):
        await spin


async def test_a_manifest_sets_the_slice_within_the_trust_ceiling(host) -> None:
    await host.spawn("p", PINGPONG, manifest=manifest("p", limits="slice_us = 5000"))
    assert host.registry.get("p").limits.slice_us == 5000
    with pytest.raises(aw.ManifestError, match="slice_us = 50000 exceeds the untrusted ceiling"):
        await host.spawn("q", PINGPONG, trust="untrusted",
                         manifest=manifest("q", limits="slice_us = 50000"))
    with pytest.raises(aw.ManifestError, match="slice_us"):
        await host.spawn("r", PINGPONG, manifest=manifest("r", limits="slice_us = 10"))
    await host.spawn("t", PINGPONG, trust="trusted",
                     manifest=manifest("t", limits="slice_us = 50000"))
    assert host.registry.get("t").limits.slice_us == 50000


# --- cancellation in every state ------------------------------------------------------------

async def test_stopping_cancels_a_sleeping_guest(host) -> None:
    await host.spawn("sleeper", PINGPONG)
    nap = asyncio.create_task(host.request("sleeper", b"nap!", timeout=5.0))
    await asyncio.sleep(0.02)
    started = time.monotonic()
    await host.ref("sleeper").actor.stop(drain=False)
    assert time.monotonic() - started < 0.05
    with pytest.raises(aw.CallCancelled, match="sleep-millis"):
        await nap
    [letter] = cancelled_letters(host)
    assert isinstance(letter.__cause__, aw.ActorStateError)
    assert "stopped while its guest call was suspended" in str(letter.__cause__)


async def test_stopping_cancels_a_guest_between_time_slices(host) -> None:
    await host.spawn("spinner", PINGPONG, limits=Limits(timeout_ms=5000))
    spin = asyncio.create_task(host.request("spinner", b"loop", timeout=10.0))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await host.ref("spinner").actor.stop(drain=False)
    assert time.monotonic() - started < 0.1  # not its 5 s deadline
    with pytest.raises(aw.CallCancelled, match="between time slices"):
        await spin


async def test_a_restart_cancels_a_guest_waiting_on_io(host) -> None:
    """A one_for_all supervisor restarts a sibling that waits on a silent peer: its call is
    cancelled (the I/O abandoned), its envelope dead-lettered, and it comes back fresh."""
    silent = EchoServer(limit=1, silent=True)
    try:
        granted = f"127.0.0.1:{silent.port}"
        caps = f'[capabilities.network]\nconnect = ["{granted}"]'
        sup = await host.supervisor("pair", strategy="one_for_all", max_restarts=5, within=10)
        await host.spawn("net", EXT_NET, supervisor=sup,
                         manifest=manifest("net", caps, limits="timeout_ms = 5000"))
        await host.spawn("crashy", PINGPONG, supervisor=sup)
        op = b"x" + bytes([len(granted)]) + granted.encode() + b"hi"
        waiting = asyncio.create_task(host.request("net", op, timeout=10.0))
        for _ in range(500):  # bounded: on a loaded box the accept can take longer than 0.1 s
            if silent.accepted:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # connected: the guest sends, then waits in receive
        started = time.monotonic()
        await host.send("crashy", b"\x55u")  # traps: one_for_all restarts "net" too
        with pytest.raises(aw.CallCancelled, match="receive from"):
            await waiting
        assert time.monotonic() - started < 0.5
        assert await host.request("net", b"c" + bytes(8)) == b"\x00"  # the new instance answers
    finally:
        silent.close()


async def test_closing_the_host_cancels_suspended_guests(engine) -> None:
    silent = EchoServer(limit=1, silent=True)
    try:
        granted = f"127.0.0.1:{silent.port}"
        caps = f'[capabilities.network]\nconnect = ["{granted}"]'
        host = Host(HostConfig(health=None, audit=MemoryAuditSink()), engine=engine)
        await host.start()
        await host.spawn("net", EXT_NET, manifest=manifest("net", caps, limits="timeout_ms = 5000"))
        op = b"x" + bytes([len(granted)]) + granted.encode() + b"hi"
        waiting = asyncio.create_task(host.request("net", op, timeout=10.0))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await host.close(drain=False)
        assert time.monotonic() - started < 0.5
        with pytest.raises((aw.CallCancelled, aw.ComponentNotFound)):
            await waiting
    finally:
        silent.close()


# --- host I/O that used to block the loop -----------------------------------------------------

@pytest.fixture
def specials(tmp_path: Path) -> Path:
    root = tmp_path.resolve() / "grant"
    root.mkdir()
    os.mkfifo(root / "fifo")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(root / "sock"))
    try:
        os.mknod(root / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    except (PermissionError, OSError):
        pass  # not root, or a filesystem without device nodes: the FIFO and socket remain
    (root / "plain").write_bytes(b"regular")
    yield root
    unix.close()


async def test_special_files_inside_a_read_grant_answer_at_once(host, specials) -> None:
    caps = f'[capabilities.filesystem]\nread = ["{specials}/**"]\nwrite = ["{specials}/**"]'
    await host.spawn("files", EXT_FS, manifest=manifest("files", caps, limits="timeout_ms = 200"))
    assert ok(await host.request("files", b"r" + str(specials / "plain").encode())) == b"regular"
    kinds = {"fifo": "a FIFO", "sock": "a socket", "zero": "a character device"}
    for name, kind in kinds.items():
        path = specials / name
        if not path.exists():
            continue
        for op in (b"r" + str(path).encode(),
                   b"w" + bytes([len(str(path))]) + str(path).encode() + b"data"):
            started = time.monotonic()
            case, text = err(await host.request("files", op, timeout=2.0))
            # Before: the FIFO read hung the whole host forever.
            assert time.monotonic() - started < 0.05, name
            assert case == FILE_DENIED and kind in text, (name, text)


async def test_a_silent_peer_blocks_only_its_guest(host) -> None:
    silent = EchoServer(limit=1, silent=True)
    try:
        granted = f"127.0.0.1:{silent.port}"
        caps = f'[capabilities.network]\nconnect = ["{granted}"]'
        await host.spawn("net", EXT_NET, manifest=manifest("net", caps, limits="timeout_ms = 400"))
        await host.spawn("b", PINGPONG)
        op = b"x" + bytes([len(granted)]) + granted.encode() + b"hi"
        started = time.monotonic()
        waiting = asyncio.create_task(host.request("net", op, timeout=5.0))
        await asyncio.sleep(0.05)
        assert await answers_meanwhile(host, "b") < 0.3
        try:
            case, text = err(await waiting)
            assert case == NET_TIMEOUT, text
        except aw.TrapError as trap:
            assert trap.kind is aw.TrapKind.TIMEOUT
        assert 0.35 < time.monotonic() - started < 1.0  # on time, by its own deadline
    finally:
        silent.close()


async def test_a_slow_child_process_blocks_only_its_guest(host) -> None:
    sleep = "/bin/sleep" if os.path.exists("/bin/sleep") else "/usr/bin/sleep"
    caps = f'[capabilities.process]\nspawn = ["{sleep}"]'
    await host.spawn("proc", EXT_PROC, manifest=manifest("proc", caps, limits="timeout_ms = 300"))
    await host.spawn("b", PINGPONG)
    started = time.monotonic()
    waiting = asyncio.create_task(host.request("proc", b"x" + argv(sleep, "30"), timeout=5.0))
    await asyncio.sleep(0.05)
    assert await answers_meanwhile(host, "b") < 0.25
    try:
        case, _ = err(await waiting)
        assert case == PROC_TIMEOUT
    except aw.TrapError as trap:
        assert trap.kind is aw.TrapKind.TIMEOUT
    assert time.monotonic() - started < 1.0


async def test_a_locked_storage_database_is_a_storage_error_on_time(engine, tmp_path) -> None:
    config = HostConfig(health=None, audit=MemoryAuditSink(), storage_dir=tmp_path / "store")
    grants = '[capabilities.storage]\nread = ["app"]\nwrite = ["app"]'
    async with Host(config, engine=engine) as host:
        await host.spawn("kv", EXT_STORE, manifest=manifest("kv", grants, limits="timeout_ms = 300"))
        await host.spawn("b", PINGPONG)
        locker = sqlite3.connect(tmp_path / "store" / DB_NAME, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holding the database
        try:
            key = b"k"
            op = b"s" + bytes([3]) + b"app" + len(key).to_bytes(2, "little") + key + b"value"
            started = time.monotonic()
            waiting = asyncio.create_task(host.request("kv", op, timeout=5.0))
            await asyncio.sleep(0.02)
            # Before: every actor stalled for sqlite's 5 s busy timeout.
            assert await answers_meanwhile(host, "b") < 0.25
            case, text = err(await waiting)
            assert case == STORE_IO and "locked" in text
            assert time.monotonic() - started < 1.0
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert ok(await host.request("kv", op)) == b""  # the lock is gone: stored
