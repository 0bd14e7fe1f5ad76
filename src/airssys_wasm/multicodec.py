"""Multicodec framing: every message between components is ``varint(codec) + payload``.

The framing functions are the Cython implementations themselves (no Python wrapper on the hot
path). ``encode_value``/``decode_value`` add serialisation on top for Python callers:
JSON (orjson), CBOR (cbor2) and MessagePack (msgpack); RAW and BORSH payloads are opaque bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
_local = threading.local()


def _packb(obj: Any) -> bytes:
    # A reused Packer is ~2x cheaper than msgpack.packb; one per thread because it is stateful.
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    try:
        return packer.pack(obj)
    except BaseException:
        packer.reset()  # a failed pack may leave partial output in the buffer
        raise


# Keyed by int so an IntEnum member or a plain int code both hit without an Enum lookup.
_SERIALISERS: dict[int, Callable[[Any], bytes]] = {int(Codec.JSON): orjson.dumps, int(Codec.MSGPACK): _packb, int(Codec.CBOR): cbor2.dumps}


def encode_value(codec: Codec | int, obj: Any) -> bytes:
    """Serialise ``obj`` with ``codec`` and frame it.

    RAW and BORSH take bytes-like objects as they are (borsh needs a schema, which lives with the
    component, not here).
    """
    serialise = _SERIALISERS.get(codec)
    if serialise is None:
        if not isinstance(obj, (bytes, bytearray, memoryview)) and codec in _OPAQUE:
            raise CodecError(
                f"{Codec(codec).name} payloads are opaque bytes; pass bytes, bytearray or memoryview, "
                f"not {type(obj).__name__} (or pick JSON/CBOR/MSGPACK to serialise objects)")
        return encode(codec, obj)  # the C encoder rejects unknown codes with the canonical message
    try:
        payload = serialise(obj)
    except (TypeError, ValueError, OverflowError, orjson.JSONEncodeError, cbor2.CBOREncodeError) as exc:
        raise CodecError(
            f"cannot serialise {type(obj).__name__} as {Codec(codec).name}: {exc}; "
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
