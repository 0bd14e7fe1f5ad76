"""The guest SDK's pure-Python multicodec against airssys_wasm.multicodec (Cython framing,
orjson / msgpack / cbor2) on generated inputs: same frames, same values, same refusals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import airssys_wasm.multicodec as fast
import airssys_wasm_guest.multicodec as pure
from airssys_wasm.errors import CodecError

#: Plain data every codec carries: 64-bit ints, finite floats, str keys (JSON's rule).
scalars = (st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
plain = st.recursive(scalars, lambda children: st.lists(children, max_size=5)
                     | st.dictionaries(st.text(max_size=8), children, max_size=5), max_leaves=25)
with_bytes = st.recursive(scalars | st.binary(max_size=300),
                          lambda children: st.lists(children, max_size=5)
                          | st.dictionaries(st.text(max_size=8), children, max_size=5), max_leaves=25)
codes = st.sampled_from(list(pure.Codec))


def test_codec_tables_match() -> None:
    assert {c.name: int(c) for c in pure.Codec} == {c.name: int(c) for c in fast.Codec}


@given(st.integers(0, 2 ** 63 - 1))
def test_varint_encode_is_byte_identical(n: int) -> None:
    assert pure.varint_encode(n) == fast.varint_encode(n)
    assert pure.varint_decode(fast.varint_encode(n) + b"\xff") == (n, len(fast.varint_encode(n)))


@given(st.binary(max_size=12))
def test_varint_and_header_decoding_accept_and_refuse_the_same_bytes(data: bytes) -> None:
    for pure_fn, fast_fn in ((pure.varint_decode, fast.varint_decode),
                             (pure.decode_header, fast.decode_header)):
        try:
            expected = fast_fn(data)
        except CodecError:
            with pytest.raises(pure.CodecError):
                pure_fn(data)
        else:
            got = pure_fn(data)
            assert (int(got[0]), got[1]) == (int(expected[0]), expected[1])


@given(codes, st.binary(max_size=200))
def test_framing_is_byte_identical(codec: pure.Codec, payload: bytes) -> None:
    frame = pure.encode(codec, payload)
    assert frame == fast.encode(codec, payload)
    got_codec, got_payload = pure.decode(frame)
    fast_codec, fast_payload = fast.decode(frame)
    assert (int(got_codec), got_payload) == (int(fast_codec), bytes(fast_payload))


@given(with_bytes)
@settings(max_examples=200)
def test_msgpack_frames_are_byte_identical(value: object) -> None:
    frame = pure.encode_value(pure.Codec.MSGPACK, value)
    assert frame == fast.encode_value(fast.Codec.MSGPACK, value)
    assert pure.decode_value(frame) == fast.decode_value(frame)


def _same(a: object, b: object) -> bool:
    """Equal, with float vs int kept apart (1.0 == 1 would hide a lost type)."""
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and (a == b or (math.isnan(a) and math.isnan(b)))  # type: ignore[arg-type]
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("codec,values", [(pure.Codec.JSON, plain), (pure.Codec.CBOR, with_bytes)])
def test_each_side_decodes_what_the_other_encodes(codec: pure.Codec, values: st.SearchStrategy[object]) -> None:
    @given(values)
    @settings(max_examples=200)
    def check(value: object) -> None:
        ours, theirs = pure.encode_value(codec, value), fast.encode_value(codec, value)
        assert _same(fast.decode_value(ours), pure.decode_value(theirs))
        assert _same(pure.decode_value(ours), fast.decode_value(theirs))

    check()


@given(st.sampled_from([pure.Codec.JSON, pure.Codec.MSGPACK, pure.Codec.CBOR]), st.binary(max_size=40))
def test_bad_payloads_are_a_codec_error_on_both_sides(codec: pure.Codec, payload: bytes) -> None:
    frame = fast.encode(codec, payload)
    try:  # whatever the bytes, the pure side decodes them or raises CodecError, nothing else
        pure.decode_value(frame)
    except pure.CodecError:
        pass
    try:
        fast.decode_value(frame)
    except CodecError:
        with pytest.raises(pure.CodecError):
            pure.decode_value(frame)


def test_opaque_codecs_take_only_bytes() -> None:
    assert pure.decode_value(pure.encode_value(pure.Codec.RAW, b"\x00\x01")) == b"\x00\x01"
    with pytest.raises(pure.CodecError, match="opaque bytes"):
        pure.encode_value(pure.Codec.BORSH, {"a": 1})
    with pytest.raises(pure.CodecError, match="unknown multicodec code 0x0099"):
        pure.encode(0x99, b"")
