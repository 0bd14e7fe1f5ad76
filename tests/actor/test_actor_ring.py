"""The Cython ring against a collections.deque model, plus its edge cases and refcounting."""

from __future__ import annotations

import gc
import sys
import weakref
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airssys_wasm._fast._mailbox import (
    MAX_CAPACITY,
    MIN_SLOTS,
    PUSH_BEHIND,
    PUSH_CLOSED,
    PUSH_FULL,
    PUSH_OK,
    Ring,
    call_each,
)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers()),
        st.tuples(st.just("pop"), st.none()),
        st.tuples(st.just("drain"), st.integers(min_value=-3, max_value=12)),
        st.tuples(st.just("close"), st.none()),
        st.tuples(st.just("burst"), st.integers(min_value=1, max_value=150)),
        st.tuples(st.just("offer"), st.integers()),
        st.tuples(st.just("sender"), st.booleans()),
        st.tuples(st.just("trim"), st.none()),
    ),
    max_size=200,
)


class _Future:
    """The two methods of an asyncio future the ring's wake-up uses."""

    def __init__(self) -> None:
        self.results: list[object] = []

    def done(self) -> bool:
        return bool(self.results)

    def set_result(self, value: object) -> None:
        self.results.append(value)


@settings(max_examples=400, deadline=None)
@given(capacity=st.one_of(st.integers(min_value=1, max_value=9),
                          st.integers(min_value=60, max_value=300)), program=ops)
def test_ring_matches_deque_model(capacity: int, program: list[tuple[str, int | None]]) -> None:
    """Every operation, including growing past the first slots, shrinking back once empty,
    ``offer`` behind waiting senders and its consumer wake-up, against a plain deque."""
    ring = Ring(capacity)
    model: deque[int] = deque()
    closed = False
    pushed = popped = 0
    counter = 0

    def push(value: int, offer: bool = False) -> None:
        nonlocal pushed
        behind = offer and bool(ring.senders)
        expected = (PUSH_BEHIND if behind else PUSH_CLOSED if closed
                    else PUSH_FULL if len(model) == capacity else PUSH_OK)
        consumer = _Future()
        ring.consumer = consumer
        assert (ring.offer(value) if offer else ring.push(value)) == expected
        if expected == PUSH_OK:
            model.append(value)
            pushed += 1
        if offer:  # an accepted offer wakes (and forgets) the parked consumer, nothing else does
            assert consumer.results == ([None] if expected == PUSH_OK else [])
            assert (ring.consumer is None) is (expected == PUSH_OK)
        ring.consumer = None

    for op, arg in program:
        if op == "push":
            assert arg is not None
            push(arg)
        elif op == "offer":
            assert arg is not None
            push(arg, offer=True)
        elif op == "burst":
            assert arg is not None
            for _ in range(arg):
                counter += 1
                push(counter)
        elif op == "trim":
            ring.trim()
            # Trimmed, memory follows the queue: at most 4x what is queued, or a few dozen.
            assert ring.slots <= max(4 * len(model), 64)
        elif op == "sender":
            if arg:
                ring.waiting_queue().append(object())
            elif ring.senders:
                ring.senders.popleft()
        elif op == "pop":
            if model:
                assert ring.pop() == model.popleft()
                popped += 1
            else:
                with pytest.raises(IndexError):
                    ring.pop()
        elif op == "drain":
            assert arg is not None
            n = len(model) if arg < 0 else min(arg, len(model))
            expected_items = [model.popleft() for _ in range(n)]
            assert ring.drain(arg) == expected_items
            popped += n
        else:
            ring.close()
            closed = True
        assert len(ring) == len(model)
        assert ring.free == capacity - len(model)
        assert ring.closed is closed
        assert (ring.pushed, ring.popped) == (pushed, popped)
        # Never above the bound; grown only as far as the queue needed.
        assert len(model) <= ring.slots <= capacity
    assert ring.drain() == list(model)
    ring.trim()
    assert ring.slots <= 64


def test_a_ring_starts_small_grows_to_its_capacity_and_gives_slots_back() -> None:
    ring = Ring(1000)
    assert ring.slots == MIN_SLOTS
    for i in range(1000):
        assert ring.push(i) == PUSH_OK
    assert ring.slots == 1000 and ring.push(-1) == PUSH_FULL  # the bound is the capacity
    assert ring.drain(10) == list(range(10))
    ring.trim()
    assert ring.slots == 1000  # still holding 990: nothing to give back
    assert ring.drain(900) == list(range(10, 910))
    assert ring.slots == 1000  # draining a backlog never reallocates
    ring.trim()
    assert ring.slots == 180  # twice the 90 still queued
    assert ring.drain() == list(range(910, 1000))
    ring.trim()
    assert ring.slots == MIN_SLOTS
    assert Ring(3).slots == 3


def test_capacity_validation_names_the_bound() -> None:
    for bad in (0, -5, MAX_CAPACITY + 1):
        with pytest.raises(ValueError, match="capacity must be between 1 and"):
            Ring(bad)
    for bad in (1.5, "8", None, True):
        with pytest.raises(TypeError, match="capacity must be an int"):
            Ring(bad)  # type: ignore[arg-type]


def test_ring_owns_exactly_one_reference_per_queued_item() -> None:
    item = object()
    base = sys.getrefcount(item)
    ring = Ring(4)
    ring.push(item)
    ring.push(item)
    assert sys.getrefcount(item) == base + 2
    assert ring.drain(1) == [item]
    assert sys.getrefcount(item) == base + 1
    assert ring.pop() is item
    assert sys.getrefcount(item) == base
    ring.push(item)
    del ring
    assert sys.getrefcount(item) == base


def test_queued_cycles_are_collected() -> None:
    class Node:
        pass

    ring = Ring(2)
    node = Node()
    node.ring = ring  # type: ignore[attr-defined]  # ring -> node -> ring cycle
    ring.push(node)
    probe = weakref.ref(node)
    del node, ring
    gc.collect()
    assert probe() is None


def test_wraparound_keeps_fifo_order() -> None:
    ring = Ring(3)
    out = []
    for i in range(100):
        assert ring.push(i) == PUSH_OK
        if len(ring) == 3:
            out.extend(ring.drain(2))
    out.extend(ring.drain())
    assert out == list(range(100))


class _Failure(Exception):
    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


def test_call_each_reports_the_failing_index() -> None:
    seen: list[int] = []

    def handler(message: int) -> None:
        if message == 3:
            raise KeyError(message)
        seen.append(message)

    assert call_each(handler, [0, 1, 2], _Failure) is None
    with pytest.raises(_Failure) as info:
        call_each(handler, [0, 1, 2, 3, 4], _Failure)
    assert info.value.index == 3 and isinstance(info.value.error, KeyError)
    assert info.value.__cause__ is info.value.error
    assert seen == [0, 1, 2, 0, 1, 2]
    with pytest.raises(TypeError):
        call_each(handler, None, _Failure)  # type: ignore[arg-type]


def test_call_each_survives_a_handler_that_mutates_the_batch() -> None:
    batch = list(range(10))
    seen: list[int] = []

    def shrinking(message: int) -> None:
        seen.append(message)
        batch.clear()

    assert call_each(shrinking, batch, _Failure) is None
    assert seen == [0]


def test_call_each_stops_at_a_suspended_message_and_resumes_after_it() -> None:
    seen: list[int] = []
    parked = object()

    def handler(message: int) -> object | None:
        seen.append(message)
        return parked if message == 2 else None

    batch = [0, 1, 2, 3, 4]
    assert call_each(handler, batch, _Failure) == (2, parked)
    assert call_each(handler, batch, _Failure, 3) is None
    assert seen == [0, 1, 2, 3, 4]
    with pytest.raises(_Failure) as info:  # indexes stay absolute after a resume
        call_each(lambda m: None if m < 4 else 1 // 0, batch, _Failure, 3)
    assert info.value.index == 4


def test_bad_arguments_raise_instead_of_crashing() -> None:
    ring = Ring(2)
    ring.push("a")
    with pytest.raises(OverflowError):
        ring.drain(10**30)
    with pytest.raises(TypeError):
        ring.drain("3")  # type: ignore[arg-type]
    assert ring.drain(-(10**9)) == ["a"]  # any negative count means "all"
    with pytest.raises(TypeError):
        call_each(print, (1, 2), _Failure)  # type: ignore[arg-type]


def test_ring_growth_while_wrapped_keeps_order_and_references() -> None:
    """Wrapped items move to the bigger slot list in FIFO order, each reference moved once."""

    class Item:
        pass

    ring = Ring(100)
    for _ in range(10):  # the head moves on: later pushes wrap around before the slots double
        assert ring.push(Item()) == PUSH_OK
    ring.drain(10)
    items = [Item() for _ in range(100)]
    before = [sys.getrefcount(item) for item in items]
    for item in items:
        assert ring.push(item) == PUSH_OK
    del item
    assert ring.push(Item()) == PUSH_FULL
    assert [sys.getrefcount(item) for item in items] == [b + 1 for b in before]
    assert ring.drain() == items
    assert [sys.getrefcount(item) for item in items] == before
    refs = [weakref.ref(item) for item in items]
    del items
    gc.collect()
    assert all(r() is None for r in refs)
