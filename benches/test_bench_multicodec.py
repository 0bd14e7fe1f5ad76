"""pytest-benchmark for the framing hot path (`pytest benches --benchmark-enable`).

With the default `--benchmark-disable` each body runs once, so CI still checks they work.
"""

from __future__ import annotations

from airssys_wasm import multicodec as mc

PAYLOAD = b"x" * 64
FRAME = mc.encode(mc.Codec.JSON, PAYLOAD)


def test_encode_64(benchmark) -> None:
    assert benchmark(mc.encode, mc.Codec.JSON, PAYLOAD) == FRAME


def test_decode_64(benchmark) -> None:
    codec, view = benchmark(mc.decode, FRAME)
    assert codec is mc.Codec.JSON and len(view) == 64


def test_decode_header_64(benchmark) -> None:
    assert benchmark(mc.decode_header, FRAME) == (mc.Codec.JSON, 2)


def test_encode_decode_round_trip_64(benchmark) -> None:
    def round_trip() -> memoryview:
        return mc.decode(mc.encode(mc.Codec.JSON, PAYLOAD))[1]

    assert bytes(benchmark(round_trip)) == PAYLOAD


def test_varint_decode(benchmark) -> None:
    assert benchmark(mc.varint_decode, b"\xac\x02") == (300, 2)


def test_encode_value_msgpack(benchmark) -> None:
    value = {"id": 7, "name": "sensor", "ok": True, "reading": 21.5}
    assert mc.decode_value(benchmark(mc.encode_value, mc.Codec.MSGPACK, value)) == value
