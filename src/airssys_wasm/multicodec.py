"""Multicodec framing: every message between components is ``varint(codec) + payload``.

The framing functions are the Cython implementations themselves (no Python wrapper on the hot
path). ``encode_value``/``decode_value`` add serialisation on top for Python callers:
JSON (orjson), CBOR (cbor2) and MessagePack (msgpack); RAW and BORSH payloads are opaque bytes.
"""

from __future__ import annotations

from typing import Any

import cbor2
import msgpack
import orjson

from airssys_wasm._fast._multicodec import (
    Codec,
    decode,
    decode_header,
    encode,
    varint_decode,
    varint_encode,
)
from airssys_wasm.errors import CodecError

__all__ = [
    "Codec",
    "encode",
    "decode",
    "decode_header",
    "encode_value",
    "decode_value",
    "varint_encode",
    "varint_decode",
]

_OPAQUE = (Codec.RAW, Codec.BORSH)


def encode_value(codec: Codec | int, obj: Any) -> bytes:
    """Serialise ``obj`` with ``codec`` and frame it.

    RAW and BORSH take bytes-like objects as they are (borsh needs a schema, which lives with the
    component, not here).
    """
    try:
        codec = Codec(codec)
    except ValueError:
        # Let the C encoder produce the canonical "unknown code" message.
        return encode(codec, b"")
    try:
        if codec is Codec.JSON:
            payload = orjson.dumps(obj)
        elif codec is Codec.MSGPACK:
            payload = msgpack.packb(obj, use_bin_type=True)
        elif codec is Codec.CBOR:
            payload = cbor2.dumps(obj)
        else:
            if not isinstance(obj, (bytes, bytearray, memoryview)):
                raise CodecError(
                    f"{codec.name} payloads are opaque bytes; pass bytes, bytearray or memoryview, "
                    f"not {type(obj).__name__} (or pick JSON/CBOR/MSGPACK to serialise objects)")
            payload = obj
    except CodecError:
        raise
    except (TypeError, ValueError, OverflowError, orjson.JSONEncodeError,
            cbor2.CBOREncodeError) as exc:
        raise CodecError(
            f"cannot serialise {type(obj).__name__} as {codec.name}: {exc}; "
            "convert it to plain dict/list/str/int/float/bool/None/bytes first") from exc
    return encode(codec, payload)


def decode_value(data: bytes | bytearray | memoryview) -> Any:
    """Deserialise a frame, choosing the codec from its prefix.

    RAW and BORSH frames give back their payload as ``bytes``.
    """
    codec, payload = decode(data)
    if codec in _OPAQUE:
        return bytes(payload)
    try:
        if codec is Codec.JSON:
            return orjson.loads(payload)
        if codec is Codec.MSGPACK:
            return msgpack.unpackb(payload, raw=False)
        return cbor2.loads(payload)
    except Exception as exc:  # every decoder has its own error types; all mean "bad payload"
        raise CodecError(
            f"the {codec.name} payload ({len(payload)} bytes) is not valid {codec.name}: {exc}; "
            "check the sender's codec prefix matches what it serialised") from exc
