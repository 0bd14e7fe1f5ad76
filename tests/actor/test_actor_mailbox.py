"""Mailbox: bounded, backpressure, FIFO among waiting senders, close semantics, requeue."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from airssys_wasm.actor import Mailbox
from airssys_wasm.errors import ConfigError, MailboxClosed, MailboxFull

from actor_helpers import eventually


def test_capacity_validation() -> None:
    with pytest.raises(ConfigError, match="capacity must be >= 1"):
        Mailbox(0)
    with pytest.raises(ConfigError, match="capacity"):
        Mailbox(1 << 40)
    with pytest.raises(TypeError, match="capacity must be an int"):
        Mailbox(2.5)  # type: ignore[arg-type]


async def test_try_put_raises_mailbox_full_and_keeps_contents() -> None:
    box = Mailbox(2, name="m")
    box.try_put(1)
    box.try_put(2)
    with pytest.raises(MailboxFull, match="mailbox 'm' is full"):
        box.try_put(3)
    assert box.drain(10) == [1, 2]
    assert box.accepted == 2


async def test_put_waits_for_space_and_senders_are_served_in_order() -> None:
    box = Mailbox(1)
    await box.put("a")
    senders = [asyncio.create_task(box.put(x)) for x in "bcd"]
    await eventually(lambda: box.waiting_senders == 3, "senders to block")
    assert not any(task.done() for task in senders)
    # While senders wait, a non-waiting sender may not jump the queue.
    with pytest.raises(MailboxFull):
        box.try_put("intruder")
    received = []
    while len(received) < 4:
        received.extend(box.drain(1))
        await asyncio.sleep(0)
    await asyncio.gather(*senders)
    assert received == ["a", "b", "c", "d"]


async def test_cancelled_sender_passes_its_wakeup_on() -> None:
    box = Mailbox(1)
    box.try_put(0)
    first = asyncio.create_task(box.put(1))
    second = asyncio.create_task(box.put(2))
    await eventually(lambda: box.waiting_senders == 2)
    assert box.drain(1) == [0]  # wakes `first`...
    first.cancel()  # ...which is cancelled before it can use the slot
    await asyncio.gather(first, return_exceptions=True)
    await second
    assert box.drain(5) == [2]


async def test_closed_mailbox_refuses_or_reports_to_callback() -> None:
    box = Mailbox(2)
    box.try_put("queued")
    box.close()
    with pytest.raises(MailboxClosed, match="actor has stopped"):
        box.try_put("late")
    with pytest.raises(MailboxClosed):
        await box.put("late")
    assert box.take_all() == ["queued"]

    refused: list[object] = []
    reporting = Mailbox(1, on_closed=refused.append)
    reporting.try_put("x")
    waiting = asyncio.create_task(reporting.put("blocked"))
    await eventually(lambda: reporting.waiting_senders == 1)
    reporting.close()
    await waiting
    reporting.try_put("after")
    assert refused == ["blocked", "after"]
    assert reporting.take_all() == ["x"]


async def test_requeued_messages_come_first_in_order() -> None:
    box = Mailbox(4)
    for i in range(4):
        box.try_put(i)
    batch = box.drain(3)
    box.try_put(4)
    box.requeue(batch[1:])
    assert len(box) == 4
    assert box.drain(10) + box.drain(10) == [1, 2, 3, 4]


async def test_requeue_partial_drains_and_take_all_keep_order_across_refills() -> None:
    # The requeue buffer exists only while it holds something: drain it in pieces, empty it,
    # requeue again, and take everything; the order is the order a plain list would give.
    box = Mailbox(8)
    for i in range(6):
        box.try_put(i)
    first = box.drain(4)
    box.requeue([])  # nothing to put back: nothing changes
    box.requeue(first[1:])  # 1, 2, 3 back at the front of 4, 5
    assert len(box) == 5
    assert box.drain(2) == [1, 2]  # part of the requeued messages
    assert box.drain(5) == [3]  # the rest of them, then the ring again
    assert len(box) == 2
    again = box.drain(1)
    box.requeue(again)
    box.try_put(6)
    assert len(box) == 3
    assert box.take_all() == [4, 5, 6]
    assert len(box) == 0 and box.drain(10) == []


async def test_wait_returns_on_message_close_or_poke() -> None:
    box = Mailbox(2)
    for wake in (lambda: box.try_put(1), box.poke, box.close):
        waiter = asyncio.create_task(box.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        wake()
        await waiter
        box.drain(5)


async def test_one_million_messages_no_loss_bounded_memory() -> None:
    """1M messages through a 1024-slot mailbox: all arrive in order; memory does not grow."""
    total = 1_000_000
    capacity = 1024
    box = Mailbox(capacity)
    received = 0
    in_order = True
    max_queued = 0

    async def consume() -> None:
        nonlocal received, in_order, max_queued
        expected = 0
        while expected < total:
            await box.wait()
            max_queued = max(max_queued, len(box))
            batch = box.drain(256)
            if batch[0] != expected or batch[-1] != expected + len(batch) - 1:
                in_order = False
            expected += len(batch)
        received = expected

    async def produce() -> None:
        put = box.put
        for i in range(total):
            await put(i)

    consumer = asyncio.create_task(consume())
    tracemalloc.start()
    try:
        await produce()
        await consumer
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == total and in_order
    assert max_queued <= capacity
    # An unbounded queue of 1M ints would need > 30 MB; the bounded one stays tiny.
    assert peak < 2_000_000


def test_idle_mailboxes_hold_memory_for_what_is_queued_not_for_their_capacity() -> None:
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        boxes = [Mailbox(100_000) for _ in range(200)]
        per_box = (tracemalloc.get_traced_memory()[0] - before) / len(boxes)
    finally:
        tracemalloc.stop()
    # A ring of 100,000 slots up front would be 800 kB per mailbox.
    assert per_box < 8_000
    assert boxes[0].capacity == 100_000 and boxes[0].ring.slots < 100


async def test_a_grown_mailbox_keeps_its_bound_and_gives_slots_back_when_its_consumer_parks() -> None:
    box = Mailbox(3000)
    for i in range(3000):
        box.try_put(i)
    with pytest.raises(MailboxFull):  # growing never moves the configured bound
        box.try_put(3000)
    assert box.ring.slots == 3000
    assert box.drain(2000) == list(range(2000))
    assert box.ring.slots == 3000  # draining a backlog does not reallocate
    assert box.drain(5000) == list(range(2000, 3000))
    waiter = box.park()  # the consumer goes idle: the empty ring shrinks back
    assert box.ring.slots < 100
    box.try_put("next")  # and a message still wakes it
    assert waiter.done() and box.drain(10) == ["next"]
