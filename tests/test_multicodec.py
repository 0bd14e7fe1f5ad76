"""Multicodec framing and varints: vectors, round trips, zero-copy views, differential and fuzz."""

from __future__ import annotations

import array
import gc

import multicodec as py_multicodec  # independent implementation (py-multicodec)
import pytest
import varint as py_varint  # independent LEB128 implementation shipped with py-multicodec
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import varint as mf_varint  # a second independent implementation

import airssys_wasm as aw
from airssys_wasm import multicodec as mc

MAX = 2**63 - 1
ALL_CODECS = list(mc.Codec)


def reference_decode(data: bytes) -> tuple[int, int]:
    """Slow, obviously-correct strict decoder used as the differential oracle."""
    value = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i > 0 and byte == 0:
                raise ValueError("non-minimal")
            return value, i + 1
    raise ValueError("truncated or overlong")


# --- known vectors --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("codec", "prefix"),
    [
        (mc.Codec.BORSH, b"\x81\x0e"),
        (mc.Codec.JSON, b"\x80\x04"),
        (mc.Codec.CBOR, b"\x51"),
        (mc.Codec.MSGPACK, b"\x81\x04"),
        (mc.Codec.RAW, b"\x55"),
    ],
)
def test_known_prefix_vectors(codec: mc.Codec, prefix: bytes) -> None:
    assert mc.encode(codec, b"payload") == prefix + b"payload"
    assert mc.encode(int(codec), b"") == prefix
    got_codec, view = mc.decode(prefix + b"payload")
    assert got_codec is codec
    assert bytes(view) == b"payload"
    assert mc.decode_header(prefix + b"xyz") == (codec, len(prefix))


def test_codec_values_match_spec() -> None:
    assert {c.name: int(c) for c in mc.Codec} == {
        "RAW": 0x55, "CBOR": 0x51, "JSON": 0x0200, "MSGPACK": 0x0201, "BORSH": 0x0701}


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
     (16384, b"\x80\x80\x01"), (MAX, b"\xff" * 8 + b"\x7f")],
)
def test_varint_vectors(value: int, encoded: bytes) -> None:
    assert mc.varint_encode(value) == encoded
    assert mc.varint_decode(encoded) == (value, len(encoded))


# --- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", ALL_CODECS)
@given(payload=st.binary(max_size=2048))
def test_frame_round_trip_every_codec(codec: mc.Codec, payload: bytes) -> None:
    frame = mc.encode(codec, payload)
    got, view = mc.decode(frame)
    assert got is codec and isinstance(view, memoryview) and bytes(view) == payload
    assert frame == mc.varint_encode(int(codec)) + payload


PY_MULTICODEC_NAMES = {mc.Codec.RAW: "raw", mc.Codec.CBOR: "cbor", mc.Codec.JSON: "json",
                       mc.Codec.MSGPACK: "messagepack"}  # py-multicodec has no borsh entry


@pytest.mark.parametrize(("codec", "name"), PY_MULTICODEC_NAMES.items())
@given(payload=st.binary(max_size=256))
def test_frames_match_py_multicodec(codec: mc.Codec, name: str, payload: bytes) -> None:
    frame = mc.encode(codec, payload)
    assert frame == py_multicodec.add_prefix(name, payload)
    assert py_multicodec.get_codec(frame) == name


VALUE = {"name": "sensor-7", "reading": 21.5, "ok": True, "tags": ["a", "b"], "n": -3, "none": None}


@pytest.mark.parametrize("codec", [mc.Codec.JSON, mc.Codec.CBOR, mc.Codec.MSGPACK])
def test_value_round_trip(codec: mc.Codec) -> None:
    frame = mc.encode_value(codec, VALUE)
    assert mc.decode(frame)[0] is codec
    assert mc.decode_value(frame) == VALUE


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("codec", [mc.Codec.JSON, mc.Codec.CBOR, mc.Codec.MSGPACK])
@given(value=json_values)
@settings(max_examples=60)
def test_value_round_trip_generated(codec: mc.Codec, value: object) -> None:
    assert mc.decode_value(mc.encode_value(codec, value)) == value


@pytest.mark.parametrize("codec", [mc.Codec.RAW, mc.Codec.BORSH])
def test_opaque_codecs_carry_bytes(codec: mc.Codec) -> None:
    frame = mc.encode_value(codec, bytearray(b"\x00\x01\xff"))
    assert mc.decode_value(frame) == b"\x00\x01\xff"
    with pytest.raises(aw.CodecError, match="opaque bytes"):
        mc.encode_value(codec, {"not": "bytes"})


def test_binary_values_survive_cbor_and_msgpack() -> None:
    value = {"blob": b"\x00\xff" * 10}
    for codec in (mc.Codec.CBOR, mc.Codec.MSGPACK):
        assert mc.decode_value(mc.encode_value(codec, value)) == value


# --- zero copy and buffer lifetimes ------------------------------------------------------------

def test_decode_is_zero_copy_and_pins_bytearray() -> None:
    buf = bytearray(mc.encode(mc.Codec.RAW, b"abcdef"))
    codec, view = mc.decode(buf)
    buf[1] = ord("Z")  # the view sees writes to the source: no copy was made
    assert bytes(view) == b"Zbcdef"
    assert not view.readonly
    with pytest.raises(BufferError):
        buf.extend(b"more")  # the source cannot be resized while the payload view exists
    view.release()
    del view
    gc.collect()
    buf.extend(b"more")  # and it is released once the view is gone
    assert bytes(buf).endswith(b"more")


def test_view_keeps_bytes_alive_after_source_is_dropped() -> None:
    frame = mc.encode(mc.Codec.JSON, b"x" * 1000 + b"tail")
    _, view = mc.decode(frame)
    del frame
    gc.collect()
    assert view.readonly and bytes(view[-4:]) == b"tail" and len(view) == 1004


@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, memoryview, lambda b: array.array("B", b), lambda b: memoryview(b"zz" + b)[2:]],
)
def test_any_contiguous_bytes_like_is_accepted(make) -> None:
    frame = mc.encode(mc.Codec.CBOR, b"\x01\x02")
    codec, view = mc.decode(make(frame))
    assert codec is mc.Codec.CBOR and bytes(view) == b"\x01\x02"
    assert mc.encode(mc.Codec.RAW, make(b"\x01\x02")) == b"\x55\x01\x02"
    assert mc.varint_decode(make(b"\xac\x02")) == (300, 2)


def test_non_contiguous_and_non_buffer_inputs_are_type_errors() -> None:
    strided = memoryview(b"\x55abcdef")[::2]
    with pytest.raises(TypeError, match="contiguous bytes-like"):
        mc.decode(strided)
    with pytest.raises(TypeError, match="bytes-like"):
        mc.encode(mc.Codec.RAW, "text is not bytes")
    with pytest.raises(TypeError, match="codec must be an int"):
        mc.encode("json", b"")
    with pytest.raises(TypeError, match="expects an int"):
        mc.varint_encode(1.5)


# --- rejection with clear messages -------------------------------------------------------------

@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"", "empty input"),
        (b"\x80", r"truncated multicodec prefix.*\[80\]"),
        (b"\x81\x80", r"truncated.*\[81 80\]"),
        (b"\x80\x00", r"non-minimal.*\[80 00\]"),
        (b"\xd5\x00rest", r"non-minimal"),
        (b"\xff" * 9, r"overlong.*ff ff ff"),
        (b"\xff" * 20, r"overlong"),
        (b"\x12payload", r"unknown multicodec code 0x0012.*supported: raw 0x55"),
        (b"\x80\x01", r"unknown multicodec code 0x0080"),
    ],
)
def test_bad_frames_raise_codec_error_naming_the_bytes(data: bytes, pattern: str) -> None:
    for fn in (mc.decode, mc.decode_header, mc.decode_value):
        with pytest.raises(aw.CodecError, match=pattern):
            fn(data)
        with pytest.raises(aw.CodecError, match=pattern):
            fn(bytearray(data))


@pytest.mark.parametrize("value", [-1, 2**63, 2**64, 10**30])
def test_varint_encode_range(value: int) -> None:
    with pytest.raises(aw.CodecError, match="out of range"):
        mc.varint_encode(value)


@pytest.mark.parametrize("code", [0, 0x12, 0x0202, 2**62, -1, 2**64])
def test_encode_rejects_unknown_codes(code: int) -> None:
    with pytest.raises(aw.CodecError):
        mc.encode(code, b"")
    with pytest.raises(aw.CodecError):
        mc.encode_value(code, b"")


def test_bad_payloads_raise_codec_error() -> None:
    with pytest.raises(aw.CodecError, match="not valid JSON"):
        mc.decode_value(mc.encode(mc.Codec.JSON, b"{not json"))
    with pytest.raises(aw.CodecError, match="not valid MSGPACK"):
        mc.decode_value(mc.encode(mc.Codec.MSGPACK, b"\xc1"))
    with pytest.raises(aw.CodecError, match="not valid CBOR"):
        mc.decode_value(mc.encode(mc.Codec.CBOR, b"\xff"))
    with pytest.raises(aw.CodecError, match="cannot serialise object as JSON"):
        mc.encode_value(mc.Codec.JSON, object())


def test_codec_error_is_in_the_hierarchy() -> None:
    with pytest.raises(aw.AirssysError):
        mc.decode(b"")
    assert issubclass(aw.CodecError, ValueError)


# --- differential against independent implementations ------------------------------------------

@given(st.integers(min_value=0, max_value=MAX))
def test_varint_matches_independent_implementations(value: int) -> None:
    encoded = mc.varint_encode(value)
    assert encoded == py_varint.encode(value) == mf_varint.encode(value)
    assert mc.varint_decode(encoded + b"\xff\xff") == (value, len(encoded))
    assert mf_varint.decode(encoded) == value


@given(st.binary(max_size=12))
def test_varint_decode_agrees_with_strict_reference(data: bytes) -> None:
    try:
        expected = reference_decode(data)
    except ValueError:
        with pytest.raises(aw.CodecError):
            mc.varint_decode(data)
    else:
        assert mc.varint_decode(data) == expected


@given(st.binary(max_size=64))
@settings(max_examples=500)
def test_random_bytes_never_crash_only_codec_error(data: bytes) -> None:
    """Fuzz: any input either decodes consistently or raises CodecError, never anything else."""
    for fn in (mc.decode, mc.decode_header, mc.varint_decode, mc.decode_value):
        try:
            fn(data)
        except aw.CodecError:
            pass
    try:
        codec, view = mc.decode(data)
    except aw.CodecError:
        with pytest.raises(aw.CodecError):
            mc.decode_header(data)
    else:
        code, used = reference_decode(data)
        assert code == codec and bytes(view) == data[used:]
        assert mc.decode_header(data) == (codec, used)


def test_failed_msgpack_encode_does_not_corrupt_the_next_frame() -> None:
    with pytest.raises(aw.CodecError, match="MSGPACK"):
        mc.encode_value(mc.Codec.MSGPACK, {"ok": 1, "bad": object()})
    assert mc.decode_value(mc.encode_value(mc.Codec.MSGPACK, [1, 2])) == [1, 2]
