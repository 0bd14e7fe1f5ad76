"""``Instance.message_path``: the C path of ``(sender, frame)`` envelopes into handle-message.

It must answer exactly like ``handle_message`` (checked side by side on generated frame
sequences), hand back everything that is not a plain ``ok`` without calling the guest twice,
and close with its instance.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airssys_wasm.errors import ActorStateError, GuestError, TrapError
from airssys_wasm.runtime import Artifact, ComponentId, Engine

from .conftest import example

SENDER = ComponentId("sender", namespace="ns", version="0.1.0")
OTHER = ComponentId("other")
PLAIN, REFUSE, POISON = b"\x55x", b"\x55e", b"\x55u"


@pytest.fixture(scope="module")
def pingpong(engine: Engine) -> Artifact:
    return engine.load(example("pingpong.wat"))


class Recorder:
    """``other`` and ``settle`` of a path: what came back to Python, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def other(self, envelope: Any) -> str:
        self.calls.append(("other", envelope, None))
        return "other"

    def settle(self, envelope: Any, out: Any) -> str:
        self.calls.append(("settle", envelope, out))
        return "settled"


def count(instance: Any) -> int:
    return struct.unpack("<I", instance.execute(b"cnt?"))[0]


def reference(instance: Any, sender: ComponentId, frame: bytes) -> object:
    try:
        return instance.handle_message(sender, frame)
    except GuestError as exc:
        return ("guest-error", str(exc))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([SENDER, OTHER]),
                          st.sampled_from([PLAIN, REFUSE, b"\x55", b"\x55p\x00", b"\x55zz"])),
                max_size=12))
def test_the_path_answers_like_handle_message(pingpong: Artifact,
                                              messages: list[tuple[ComponentId, bytes]]) -> None:
    fast, slow = pingpong.instantiate(), pingpong.instantiate()
    seen = Recorder()
    path = fast.message_path(seen.other, seen.settle)
    assert path is not None
    for sender, frame in messages:
        out = path((sender, frame))
        if out == "settled":  # an error answer: settle_message says what handle_message does
            _, envelope, raw = seen.calls[-1]
            assert envelope == (sender, frame)
            with pytest.raises(GuestError) as info:
                fast.settle_message(raw)
            out = ("guest-error", str(info.value))
        assert out == reference(slow, sender, frame)
    assert count(fast) == count(slow)
    assert all(kind == "settle" for kind, _, _ in seen.calls)
    fast.close()
    slow.close()


def test_other_envelopes_and_everything_after_close_go_to_other(pingpong: Artifact) -> None:
    instance = pingpong.instantiate()
    seen = Recorder()
    path = instance.message_path(seen.other, seen.settle)
    assert path is not None
    for envelope in ["a request", (SENDER,), (SENDER, PLAIN, "extra"), [SENDER, PLAIN]]:
        assert path(envelope) == "other"
    assert path((SENDER, PLAIN)) is None and count(instance) == 1
    instance.close()
    assert path.closed
    assert path((SENDER, PLAIN)) == "other"
    assert [kind for kind, _, _ in seen.calls] == ["other"] * 5
    assert instance.message_path(seen.other, seen.settle) is None  # closed: no new path


def test_a_trap_discards_the_store_and_closes_the_path(pingpong: Artifact) -> None:
    instance = pingpong.instantiate()
    seen = Recorder()
    path = instance.message_path(seen.other, seen.settle)
    assert path is not None
    with pytest.raises(TrapError) as info:
        path((SENDER, POISON))
    assert info.value.kind.value == "unreachable"
    assert instance.poisoned and path.closed
    assert path((SENDER, PLAIN)) == "other"
    with pytest.raises(ActorStateError, match="discarded after a trap"):
        instance.handle_message(SENDER, PLAIN)


def test_a_bad_sender_is_refused_before_the_guest_runs(pingpong: Artifact) -> None:
    instance = pingpong.instantiate()
    seen = Recorder()
    path = instance.message_path(seen.other, seen.settle)
    assert path is not None
    with pytest.raises(TypeError, match="sender must be a ComponentId"):
        path(("sender", PLAIN))
    assert path((SENDER, PLAIN)) is None and count(instance) == 1
    assert not instance.poisoned


def test_a_new_path_closes_the_one_before(pingpong: Artifact) -> None:
    instance = pingpong.instantiate()
    seen = Recorder()
    first = instance.message_path(seen.other, seen.settle)
    second = instance.message_path(seen.other, seen.settle)
    assert first is not None and second is not None
    assert first.closed and not second.closed
    assert first((SENDER, PLAIN)) == "other" and second((SENDER, PLAIN)) is None


def test_core_abi_instances_have_no_path(engine: Engine) -> None:
    instance = engine.load(example("core_actor.wat")).instantiate()
    assert instance.message_path(lambda e: None, lambda e, o: None) is None
    with pytest.raises(TypeError, match="no message path"):
        instance.settle_message(("ok", None))
