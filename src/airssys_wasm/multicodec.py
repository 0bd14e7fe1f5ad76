"""Multicodec framing: every message between components is ``varint(codec) + payload``.

The framing functions are the Cython implementations themselves (no Python wrapper on the hot
path). ``encode_value``/``decode_value`` add serialisation on top for Python callers:
JSON (orjson), CBOR (cbor2) and MessagePack (msgpack); RAW and BORSH payloads are opaque bytes.
Each library is imported the first time its codec is used, not on ``import airssys_wasm``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

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
        import msgpack

        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    try:
        return packer.pack(obj)
    except BaseException:
        packer.reset()  # a failed pack may leave partial output in the buffer
        raise


# Keyed by int so an IntEnum member or a plain int code both hit without an Enum lookup; filled
# by _load on a codec's first use.
_SERIALISERS: dict[int, Callable[[Any], bytes]] = {}
_DESERIALISERS: dict[int, Callable[[Any], Any]] = {}
#: What a serialiser raises for an object it cannot represent, per codec.
_ENCODE_ERRORS: dict[int, tuple[type[BaseException], ...]] = {}
_BAD_VALUE = (TypeError, ValueError, OverflowError)


def _load(code: int) -> bool:
    """Import the library of a serialising codec (orjson, msgpack, cbor2: together ~10-25 ms
    that most programs, and every ``--help``, never need); False for any other code."""
    pair: tuple[Callable[[Any], bytes], Callable[[Any], Any]]
    errors: tuple[type[BaseException], ...]
    if code == Codec.JSON:
        import orjson

        pair, errors = (orjson.dumps, orjson.loads), (orjson.JSONEncodeError,)
    elif code == Codec.MSGPACK:
        import msgpack

        pair, errors = (_packb, functools.partial(msgpack.unpackb, raw=False)), ()
    elif code == Codec.CBOR:
        import cbor2

        pair, errors = (cbor2.dumps, cbor2.loads), (cbor2.CBOREncodeError,)
    else:
        return False
    code = int(code)
    _ENCODE_ERRORS[code] = _BAD_VALUE + errors
    _DESERIALISERS[code] = pair[1]
    _SERIALISERS[code] = pair[0]  # last: encode_value's fast path reads only this one
    return True


def encode_value(codec: Codec | int, obj: Any) -> bytes:
    """Serialise ``obj`` with ``codec`` and frame it.

    RAW and BORSH take bytes-like objects as they are (borsh needs a schema, which lives with the
    component, not here).
    """
    serialise = _SERIALISERS.get(codec)
    if serialise is None and _load(codec):
        serialise = _SERIALISERS[codec]
    if serialise is None:
        if not isinstance(obj, (bytes, bytearray, memoryview)) and codec in _OPAQUE:
            raise CodecError(
                f"{Codec(codec).name} payloads are opaque bytes; pass bytes, bytearray or memoryview, "
                f"not {type(obj).__name__} (or pick JSON/CBOR/MSGPACK to serialise objects)")
        return encode(codec, obj)  # the C encoder rejects unknown codes with the canonical message
    try:
        payload = serialise(obj)
    except Exception as exc:
        if not isinstance(exc, _ENCODE_ERRORS[codec]):
            raise
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
    deserialise = _DESERIALISERS.get(codec)
    if deserialise is None:
        _load(codec)  # decode() accepted the prefix: one of the three serialising codecs
        deserialise = _DESERIALISERS[codec]
    try:
        return deserialise(payload)
    except Exception as exc:  # every decoder has its own error types; all mean "bad payload"
        raise CodecError(
            f"the {codec.name} payload ({len(payload)} bytes) is not valid {codec.name}: {exc}; "
            "check the sender's codec prefix matches what it serialised") from exc
