"""The Cython router on its own: validation (differential against multicodec.decode_header),
lookup, and enqueue semantics identical to Mailbox.try_put."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

import airssys_wasm as aw
from airssys_wasm.actor import Mailbox
from airssys_wasm.host import Router
from airssys_wasm.host.router import as_frame
from airssys_wasm.multicodec import decode_header

SENDER = aw.ComponentId("s")


@given(st.binary(max_size=12) | st.sampled_from([b"\x55", b"\x80\x04x", b"\x81\x80\x00", b"\x51"]))
def test_frame_check_agrees_with_decode_header(data: bytes) -> None:
    try:
        decode_header(data)
        reference_ok = True
    except aw.CodecError:
        reference_ok = False
    router = Router()
    router.add("t", Mailbox(4), None)
    for form in (data, bytearray(data), memoryview(data)):
        if reference_ok:
            assert as_frame(form) == data
            router.send("t", SENDER, form)
        else:
            with pytest.raises(aw.CodecError):
                as_frame(form)
            with pytest.raises(aw.CodecError):
                router.send("t", SENDER, form)
            with pytest.raises(aw.CodecError):
                router.resolve("t", form)
        router.get("t").mailbox.take_all()


def test_send_enqueues_the_envelope_in_order() -> None:
    router = Router()
    box = Mailbox(8)
    route = router.add("t", box, aw.ComponentId("t"))
    router.send("t", SENDER, b"\x55a")
    router.send("t", SENDER, bytearray(b"\x55b"))
    assert box.drain(8) == [(SENDER, b"\x55a"), (SENDER, b"\x55b")]
    assert router.routed == 2 and route.component_id == aw.ComponentId("t")
    assert router.resolve("t", b"\x55") is route


def test_lookup_errors() -> None:
    router = Router()
    with pytest.raises(aw.ComponentNotFound, match="'ghost'"):
        router.send("ghost", SENDER, b"\x55")
    with pytest.raises(TypeError):
        router.send(b"ghost", SENDER, b"\x55")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        router.send("ghost", SENDER, 42)  # type: ignore[arg-type]
    router.add("t", Mailbox(1), None)
    with pytest.raises(ValueError, match="already routed"):
        router.add("t", Mailbox(1), None)


def test_remove_only_the_current_route() -> None:
    router = Router()
    old, new = Mailbox(1), Mailbox(1)
    router.add("t", old, None)
    assert router.remove("t", old) and "t" not in router
    router.add("t", new, None)
    assert not router.remove("t", old) and "t" in router
    assert router.names() == ["t"] and len(router) == 1


def test_full_and_closed_mailboxes_behave_like_try_put() -> None:
    dead: list[object] = []
    router = Router()
    box = Mailbox(1, on_closed=dead.append)
    router.add("t", box, None)
    router.send("t", SENDER, b"\x55a")
    with pytest.raises(aw.MailboxFull):
        router.send("t", SENDER, b"\x55b")
    box.close()
    router.send("t", SENDER, b"\x55c")  # refused by a closed mailbox: its dead-letter hook
    assert dead == [(SENDER, b"\x55c")]


async def test_a_sender_waiting_for_space_is_not_lost() -> None:
    router = Router()
    box = Mailbox(1)
    router.add("t", box, None)
    router.send("t", SENDER, b"\x55a")
    waiting = asyncio.create_task(box.put("waiting"))
    await asyncio.sleep(0)
    assert box.waiting_senders == 1
    with pytest.raises(aw.MailboxFull):
        router.send("t", SENDER, b"\x55b")
    assert box.drain(1) == [(SENDER, b"\x55a")]
    await waiting
    assert box.drain(1) == ["waiting"]


async def test_send_wakes_a_parked_consumer() -> None:
    router = Router()
    box = Mailbox(4)
    router.add("t", box, None)
    parked = box.park()
    router.send("t", SENDER, b"\x55a")
    assert parked.done()
