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
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=9), program=ops)
def test_ring_matches_deque_model(capacity: int, program: list[tuple[str, int | None]]) -> None:
    _check_against_model(capacity, program)


# Pushes outnumber takes, so the slots (16 at first) fill and double, also while they wrap.
growing_ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers()),
        st.tuples(st.just("push"), st.integers()),
        st.tuples(st.just("push"), st.integers()),
        st.tuples(st.just("pop"), st.none()),
        st.tuples(st.just("drain"), st.integers(min_value=-1, max_value=5)),
    ),
    min_size=20, max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(min_value=15, max_value=70), program=growing_ops)
def test_ring_grows_its_slots_like_the_model(capacity: int,
                                             program: list[tuple[str, int | None]]) -> None:
    _check_against_model(capacity, program)


def test_ring_growth_keeps_order_and_references() -> None:
    """Wrapped items move to the bigger slot list in FIFO order, each reference moved once."""

    class Item:
        pass

    ring = Ring(100)
    for _ in range(10):  # head at 10 after these: the next 16 pushes wrap around
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


def _check_against_model(capacity: int, program: list[tuple[str, int | None]]) -> None:
    ring = Ring(capacity)
    model: deque[int] = deque()
    closed = False
    pushed = popped = 0
    for op, arg in program:
        if op == "push":
            expected = PUSH_CLOSED if closed else PUSH_FULL if len(model) == capacity else PUSH_OK
            assert ring.push(arg) == expected
            if expected == PUSH_OK:
                model.append(arg)
                pushed += 1
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
    assert ring.drain() == list(model)


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
