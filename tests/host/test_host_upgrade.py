"""Hot code upgrade through the public Host API, with real guests.

The stream check: the producer sends frames ``tag + seq`` (``seq`` as 8 nibble characters
``0x30 + nibble``, which no letter case changes) to ``stage``, which forwards each one to
``sink``. ``stage`` v1 runs in mode ``f`` (forward unchanged: tag ``x``), v2 in mode ``u``
(upper-case, so tag ``X``); v2 is a different artifact (the same component plus a custom
section, and a manifest with version 2.0.0). ``sink`` is a core-ABI recorder that counts how
many frames it saw, how many did not carry the next expected sequence number (lost, duplicated
or reordered), how many of each tag, and how many ``x`` came after an ``X`` (v1 handling a
message after v2 did). Exactly once and in order means: count == N, gaps == 0, back == 0,
lower + upper == N, and both versions handled some.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest
import wasmtime

from airssys_wasm import ComponentNotFound, Host, LoadError, ManifestError, UpgradeFailed
from airssys_wasm.actor import ActorState, UpgradeEvent
from airssys_wasm.types import ComponentConfig

from host_helpers import PINGPONG, RAW, events_of, u32
from airssys_wasm import demo

STAGE = demo.path("stage")
N = 50_000

RECORDER = r"""
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $count (mut i32) (i32.const 0))
  (global $expected (mut i32) (i32.const 0))
  (global $gaps (mut i32) (i32.const 0))
  (global $lower (mut i32) (i32.const 0))
  (global $upper (mut i32) (i32.const 0))
  (global $back (mut i32) (i32.const 0))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p)
                               (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -8))))
    (local.get $p))
  (func (export "handle") (param $s i32) (param $sn i32) (param $m i32) (param $n i32) (result i32)
    (local $end i32) (local $b i32) (local $tag i32) (local $seq i32) (local $i i32)
    (global.set $heap (i32.const 4096))
    (local.set $end (i32.add (local.get $m) (local.get $n)))
    (block $done
      (loop $skip  ;; the multicodec varint prefix
        (br_if $done (i32.ge_u (local.get $m) (local.get $end)))
        (local.set $b (i32.load8_u (local.get $m)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br_if $skip (i32.and (local.get $b) (i32.const 0x80)))))
    (if (i32.lt_u (i32.sub (local.get $end) (local.get $m)) (i32.const 9))
      (then (return (i32.const 1))))
    (local.set $tag (i32.load8_u (local.get $m)))
    (local.set $i (i32.const 1))
    (loop $digits
      (local.set $seq (i32.or (i32.shl (local.get $seq) (i32.const 4))
        (i32.and (i32.load8_u (i32.add (local.get $m) (local.get $i))) (i32.const 15))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $digits (i32.le_u (local.get $i) (i32.const 8))))
    (if (i32.ne (local.get $seq) (global.get $expected))
      (then (global.set $gaps (i32.add (global.get $gaps) (i32.const 1)))))
    (global.set $expected (i32.add (local.get $seq) (i32.const 1)))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (if (i32.eq (local.get $tag) (i32.const 0x58))
      (then (global.set $upper (i32.add (global.get $upper) (i32.const 1))))
      (else
        (global.set $lower (i32.add (global.get $lower) (i32.const 1)))
        (if (global.get $upper) (then (global.set $back (i32.add (global.get $back) (i32.const 1)))))))
    (i32.const 0))
  (func (export "execute") (param $op i32) (param $n i32) (result i64)
    (i32.store (i32.const 1024) (global.get $count))
    (i32.store (i32.const 1028) (global.get $gaps))
    (i32.store (i32.const 1032) (global.get $lower))
    (i32.store (i32.const 1036) (global.get $upper))
    (i32.store (i32.const 1040) (global.get $back))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 20)))
)
"""

#: A core-ABI guest whose init traps (``unreachable``) or answers an error (``error`` variant).
BAD_INIT = r"""
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "handle") (param i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "init") (result i32) %s)
)
"""


def stage_manifest(version: str) -> str:
    return f"""
[component]
name = "stage"
version = "{version}"

[limits]
memory = "4MiB"
timeout_ms = 1000

[capabilities]
messaging.send = ["sink"]
"""


def frame(tag: bytes, seq: int) -> bytes:
    return RAW + tag + bytes(0x30 + ((seq >> shift) & 15) for shift in range(28, -4, -4))


def with_custom_section(wasm: bytes, name: bytes, data: bytes) -> bytes:
    """The same code with a custom section appended: another artifact (another digest)."""
    def leb(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)
    payload = leb(len(name)) + name + data
    return wasm + b"\x00" + leb(len(payload)) + payload


def stage_v2() -> bytes:
    return with_custom_section(wasmtime.wat2wasm(STAGE.read_text()), b"airssys-test-version",
                               b"2")


async def sink_stats(host: Host) -> tuple[int, int, int, int, int]:
    reply = await host.request("sink", b"stat", timeout=5.0)
    return struct.unpack("<5I", reply)  # type: ignore[return-value]


async def wait_for_count(host: Host, n: int, seconds: float = 60.0) -> tuple[int, ...]:
    """Poll the sink until it saw ``n`` frames (bounded: a lost frame fails, never hangs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        stats = await sink_stats(host)
        if stats[0] >= n or loop.time() > deadline:
            return stats
        await asyncio.sleep(0.02)


async def spawn_pipeline(host: Host) -> None:
    await host.spawn("sink", RECORDER, capacity=N + 1024)
    await host.spawn("stage", STAGE, stage_manifest("1.0.0"),
                     config=ComponentConfig(config_data=b"f-sink"))


async def test_upgrade_mid_stream_handles_every_message_once_in_order_and_survives_broken_v3(
        host: Host) -> None:
    await spawn_pipeline(host)
    sent = 0
    marks: dict[int, asyncio.Event] = {at: asyncio.Event() for at in (15_000, 25_000, 35_000)}

    async def produce() -> None:
        nonlocal sent
        for seq in range(N):
            await host.send("stage", frame(b"x", seq))
            sent += 1
            if sent in marks:
                marks[sent].set()
            if seq % 64 == 0:
                await asyncio.sleep(0)  # a steady stream, not one burst

    producer = asyncio.create_task(produce())
    await marks[15_000].wait()
    ref = await host.upgrade("stage", stage_v2(), stage_manifest("2.0.0"),
                             config=ComponentConfig(config_data=b"u-sink"))
    assert ref.component_id.version == "2.0.0"
    assert host.registry.get("stage").component_id.version == "2.0.0"

    await marks[25_000].wait()
    with pytest.raises(LoadError):  # bad wasm: refused before anything changes
        await host.upgrade("stage", b"\x00asm\x01\x00\x00\x00garbage", stage_manifest("3.0.0"))
    with pytest.raises(ManifestError):  # bad manifest: the same
        await host.upgrade("stage", stage_v2(), "[component]\nname = 7\n")
    assert host.ref("stage").component_id.version == "2.0.0"

    await marks[35_000].wait()
    with pytest.raises(UpgradeFailed) as failed:  # init traps: rolled back to v2's code
        await host.upgrade("stage", BAD_INIT % "(unreachable)", stage_manifest("3.0.0"))
    assert failed.value.rolled_back and "rolled back" in str(failed.value)
    assert host.ref("stage").component_id.version == "2.0.0"

    await asyncio.wait_for(producer, 120)
    count, gaps, lower, upper, back = await wait_for_count(host, N)
    assert (count, gaps, back) == (N, 0, 0)
    # v1 handled a prefix, v2 the rest (the mailbox is kept: messages queued at the upgrade
    # are v2's, so how many v1 saw depends on how far the stage had got, not on `sent`)
    assert lower + upper == N and lower > 0 and upper > 0
    assert host.ref("stage").state is ActorState.RUNNING
    assert not [d for d in host.dead_letters if d.recipient in ("stage", "sink")]
    upgrades = events_of(host, UpgradeEvent)
    outcomes = [(e.outcome, e.old.split()[0], e.new.split()[0]) for e in upgrades]
    assert outcomes == [("upgraded", "1.0.0", "2.0.0"), ("rolled-back", "2.0.0", "3.0.0")]
    assert upgrades[0].old.split()[1] != upgrades[0].new.split()[1]  # another artifact
    assert isinstance(upgrades[1].error, Exception)


async def test_init_error_answer_rolls_back_and_the_old_code_keeps_its_mailbox(
        host: Host) -> None:
    await host.spawn("pp", PINGPONG)
    for _ in range(5):
        await host.send("pp", RAW + b"x")
    with pytest.raises(UpgradeFailed) as failed:
        await host.upgrade("pp", BAD_INIT % "(i32.const 1)")
    assert failed.value.rolled_back and failed.value.__cause__ is not None
    for _ in range(3):
        await host.send("pp", RAW + b"x")
    # The rolled-back instance is fresh (its counter restarted) and got everything after it.
    count = u32(await host.request("pp", b"cnt?", timeout=5.0))
    assert count in range(3, 9)
    assert host.ref("pp").stats.dead_letters == 0


async def test_upgrade_waits_for_a_suspended_guest_call_then_swaps(host: Host) -> None:
    await host.spawn("pp", PINGPONG)
    v2 = PINGPONG.read_text() + "\n;; v2\n"  # the same code: a swap to a fresh instance
    host.load(v2)  # compiled ahead, so the upgrade reaches the actor while the call sleeps
    # pingpong's "nap!" sleeps 100 ms in the host: its call suspends, the actor is parked on it.
    sleeping = asyncio.create_task(host.request("pp", b"nap!", 5.0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await host.send("pp", RAW + b"x")  # queued behind the sleeping call
    upgrade = asyncio.create_task(host.upgrade("pp", v2))
    assert await sleeping == b"awake"  # the suspended call finished, it was not cancelled
    await upgrade
    await host.send("pp", RAW + b"x")
    # v2 handled the message queued during the sleep and the one after; v1 none of them.
    assert u32(await host.request("pp", b"cnt?", timeout=5.0)) == 2
    assert host.ref("pp").stats.dead_letters == 0
    assert [e.outcome for e in events_of(host, UpgradeEvent)] == ["upgraded"]


async def test_upgrade_refusals_change_nothing(host: Host, tmp_path: Path) -> None:
    await host.spawn("pp", PINGPONG)
    await host.send("pp", RAW + b"x")
    with pytest.raises(LoadError):
        await host.upgrade("pp", tmp_path / "missing.wasm")
    with pytest.raises(LoadError):  # does not satisfy the component world / core lane
        await host.upgrade("pp", "(module)")
    assert u32(await host.request("pp", b"cnt?", timeout=5.0)) == 1  # same instance
    assert events_of(host, UpgradeEvent) == []
    with pytest.raises(ComponentNotFound, match="no component named"):
        await host.upgrade("nobody", PINGPONG)
