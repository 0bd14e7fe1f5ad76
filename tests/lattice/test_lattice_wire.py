"""The lattice's wire format against generated input: packs round-trip, and any bytes a NATS
subject could carry decode to a checked pack or a LatticeError — never another exception, never
a half-checked pack; error replies rebuild the same error type on the caller's node."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

import airssys_wasm as aw
from airssys_wasm.lattice.wire import (
    error_from_wire,
    error_to_wire,
    pack,
    token,
    unpack,
)
from airssys_wasm.types import ComponentId

names = st.text(min_size=1, max_size=20)
ids = st.builds(ComponentId, names, st.text(max_size=10), st.text(max_size=10))
frames = st.lists(st.tuples(st.integers(1, 2**40), ids, st.binary(max_size=64)), max_size=20)


@given(st.text(min_size=1, max_size=30), frames)
def test_a_pack_round_trips(origin: str, items: list[tuple[int, ComponentId, bytes]]) -> None:
    got_origin, got = unpack(pack(origin, items))
    assert got_origin == origin
    assert [(i[0], ComponentId(i[2], i[1], i[3]), i[4]) for i in got] == items


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_checked_pack_or_a_lattice_error(data: bytes) -> None:
    try:
        origin, items = unpack(data)
    except aw.LatticeError:
        return
    assert isinstance(origin, str)
    for seq, namespace, name, version, frame in items:
        assert type(seq) is int and seq >= 1 and name
        assert all(type(x) is str for x in (namespace, name, version)) and type(frame) is bytes


values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text()
                      | st.binary(), lambda inner: st.lists(inner, max_size=6), max_leaves=20)


@given(st.text(max_size=10), st.lists(values, max_size=8))
def test_wrong_shapes_are_refused(origin: str, items: list[object]) -> None:
    data = msgpack.packb([origin, items], use_bin_type=True)
    well_formed = all(isinstance(i, list) and len(i) == 5 and type(i[0]) is int and i[0] >= 1
                      and all(type(x) is str for x in i[1:4]) and i[2]
                      and type(i[4]) is bytes for i in items)
    if well_formed:
        assert unpack(data)[1] == items
    else:
        with pytest.raises(aw.LatticeError, match="pack"):
            unpack(data)


tokenish = st.text(alphabet="ax-_.* >é", min_size=1, max_size=8)


@given(tokenish | st.text(min_size=1, max_size=40), tokenish | st.text(min_size=1, max_size=40))
def test_every_name_is_one_token_and_two_names_never_share_one(a: str, b: str) -> None:
    t = token(a)
    assert t and not any(c in t for c in ".*> \t")  # one subject token, a consumer name
    assert (token(a) == token(b)) == (a == b)


@pytest.mark.parametrize("error", [
    aw.GuestError("no", case="processing-failed", detail="d", export="execute"),
    aw.TrapError("boom", "unreachable", component="c"),
    aw.ComponentNotFound("gone"), aw.RequestTimeout("late"), aw.MailboxFull("full"),
    aw.PermissionDenied("denied"), aw.LoadError("bad wasm"), aw.ConfigError("bad"),
    aw.LatticeUnavailable("no nats"),
])
def test_errors_cross_nodes_as_their_own_type(error: aw.AirssysError) -> None:
    rebuilt = error_from_wire(error_to_wire(error), "n2")
    assert type(rebuilt) is type(error) and str(error) in str(rebuilt)
    if isinstance(error, aw.GuestError):
        assert isinstance(rebuilt, aw.GuestError)
        assert (rebuilt.case, rebuilt.detail, rebuilt.export) == ("processing-failed", "d",
                                                                  "execute")
    if isinstance(error, aw.TrapError):
        assert isinstance(rebuilt, aw.TrapError)
        assert rebuilt.kind is aw.TrapKind.UNREACHABLE and rebuilt.component == "c"


def test_an_unknown_or_malformed_error_reply_is_a_lattice_error() -> None:
    assert type(error_from_wire(["what", "x"], "n2")) is aw.LatticeError
    assert "malformed" in str(error_from_wire([1, 2], "n2"))
