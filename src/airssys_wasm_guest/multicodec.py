"""Multicodec framing and value serialisation in pure Python, for code running inside a guest.

A componentize-py guest embeds its own CPython with only the standard library, so it can use
neither airssys_wasm's Cython framing nor orjson/msgpack/cbor2. This module speaks the same wire
format: ``varint(codec) + payload``, minimal unsigned LEB128 prefixes, JSON (compact UTF-8),
MessagePack and CBOR for plain data (None, bool, int, float, str, bytes, list, dict), RAW and
BORSH as opaque bytes. tests/guest checks it against airssys_wasm.multicodec on generated inputs.
"""

from __future__ import annotations

import enum
import json
import math
import struct
from typing import Any

__all__ = [
    "Codec",
    "CodecError",
    "decode",
    "decode_header",
    "decode_value",
    "encode",
    "encode_value",
    "varint_decode",
    "varint_encode",
]

_MAX_VARINT = (1 << 63) - 1
_MAX_VARINT_BYTES = 9


class Codec(enum.IntEnum):
    """Multicodec codes a frame may carry (the same table as ``airssys_wasm.multicodec.Codec``)."""

    RAW = 0x55
    CBOR = 0x51
    JSON = 0x0200
    MSGPACK = 0x0201
    BORSH = 0x0701


_SUPPORTED = "raw 0x55, cbor 0x51, json 0x0200, msgpack 0x0201, borsh 0x0701"
_CODES = {int(c): c for c in Codec}


class CodecError(ValueError):
    """A frame or value that cannot be encoded or decoded; the message says what was wrong."""


def _hex(data: bytes) -> str:
    shown = " ".join(f"{b:02x}" for b in data[:12])
    if len(data) > 12:
        shown += f" ... ({len(data)} bytes)"
    return shown or "(none)"


def varint_encode(n: int) -> bytes:
    """Minimal unsigned LEB128 of ``0 <= n < 2**63`` (at most 9 bytes)."""
    if not isinstance(n, int):
        raise TypeError(f"varint_encode expects an int, not {type(n).__name__}")
    if n < 0 or n > _MAX_VARINT:
        raise CodecError(f"varint value {n} is out of range: it must be 0 <= n < 2**63 (at most 9 bytes)")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint(data: bytes, what: str) -> tuple[int, int]:
    if not data:
        raise CodecError(f"empty input: a {what} needs at least one byte; pass a non-empty buffer")
    value = 0
    for i in range(min(len(data), _MAX_VARINT_BYTES)):
        byte = data[i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise CodecError(f"non-minimal {what} [{_hex(data[:i + 1])}]: only minimal LEB128 "
                                 "is accepted (re-encode the prefix)")
            return value, i + 1
    if len(data) < _MAX_VARINT_BYTES:
        raise CodecError(f"truncated {what}: input ends after {len(data)} byte(s) [{_hex(data)}] "
                         "while the continuation bit (0x80) is still set; pass the complete frame")
    raise CodecError(f"overlong {what}: the first 9 bytes [{_hex(data[:9])}] all have the "
                     "continuation bit set, but a varint is at most 9 bytes (values < 2**63)")


def varint_decode(buf: bytes | bytearray | memoryview) -> tuple[int, int]:
    """``(value, bytes_used)`` of the varint at the start of ``buf``; strict (minimal only)."""
    return _varint(bytes(buf[:_MAX_VARINT_BYTES]), "varint")


def _codec(codec: Codec | int) -> Codec:
    if not isinstance(codec, int):
        raise TypeError(f"codec must be an int or Codec, not {type(codec).__name__}")
    member = _CODES.get(int(codec))
    if member is None:
        raise CodecError(f"unknown multicodec code 0x{codec:04x}; supported: {_SUPPORTED}")
    return member


def encode(codec: Codec | int, payload: bytes | bytearray | memoryview) -> bytes:
    """``varint(codec) + payload``; CodecError for a code outside ``Codec``."""
    member = _codec(codec)
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be a contiguous bytes-like object (bytes, bytearray, "
                        f"memoryview), not {type(payload).__name__}")
    return varint_encode(int(member)) + bytes(payload)


def decode_header(data: bytes | bytearray | memoryview) -> tuple[Codec, int]:
    """Validate a frame's prefix: ``(Codec, payload_offset)``."""
    head = bytes(data[:_MAX_VARINT_BYTES])
    code, used = _varint(head, "multicodec prefix")
    member = _CODES.get(code)
    if member is None:
        raise CodecError(f"unknown multicodec code 0x{code:04x} (prefix [{_hex(head[:used])}]); "
                         f"supported: {_SUPPORTED}")
    return member, used


def decode(data: bytes | bytearray | memoryview) -> tuple[Codec, bytes]:
    """Split a frame into ``(Codec, payload)`` (a copy: guests handle small frames)."""
    codec, used = decode_header(data)
    return codec, bytes(data[used:])


# --- MessagePack (the subset for plain data; byte-identical to msgpack-python's packer) ---

def _mp_pack(obj: Any, out: bytearray) -> None:
    if obj is None:
        out.append(0xC0)
    elif obj is True or obj is False:
        out.append(0xC3 if obj else 0xC2)
    elif isinstance(obj, int):
        if 0 <= obj < 0x80:
            out.append(obj)
        elif -32 <= obj < 0:
            out.append(obj & 0xFF)
        elif 0 <= obj <= 0xFF:
            out += b"\xcc" + struct.pack(">B", obj)
        elif 0 <= obj <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", obj)
        elif 0 <= obj <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", obj)
        elif 0 <= obj <= 0xFFFFFFFFFFFFFFFF:
            out += b"\xcf" + struct.pack(">Q", obj)
        elif -0x80 <= obj < 0:
            out += b"\xd0" + struct.pack(">b", obj)
        elif -0x8000 <= obj < 0:
            out += b"\xd1" + struct.pack(">h", obj)
        elif -0x80000000 <= obj < 0:
            out += b"\xd2" + struct.pack(">i", obj)
        elif -0x8000000000000000 <= obj < 0:
            out += b"\xd3" + struct.pack(">q", obj)
        else:
            raise OverflowError(f"integer {obj} does not fit MessagePack's 64 bits")
    elif isinstance(obj, float):
        out += b"\xcb" + struct.pack(">d", obj)
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        if len(raw) < 32:
            out.append(0xA0 | len(raw))
        else:
            _mp_sized(out, len(raw), b"\xd9", b"\xda", b"\xdb")
        out += raw
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        _mp_sized(out, len(raw), b"\xc4", b"\xc5", b"\xc6")
        out += raw
    elif isinstance(obj, (list, tuple)):
        _mp_header(out, len(obj), 0x90, b"\xdc", b"\xdd")
        for item in obj:
            _mp_pack(item, out)
    elif isinstance(obj, dict):
        _mp_header(out, len(obj), 0x80, b"\xde", b"\xdf")
        for key, value in obj.items():
            _mp_pack(key, out)
            _mp_pack(value, out)
    else:
        raise TypeError(f"can not serialize {type(obj).__name__!r} object")


def _mp_sized(out: bytearray, n: int, m8: bytes, m16: bytes, m32: bytes) -> None:
    """A str/bin length head: the 8-, 16- or 32-bit form, the shortest that fits."""
    if n <= 0xFF:
        out += m8 + struct.pack(">B", n)
    elif n <= 0xFFFF:
        out += m16 + struct.pack(">H", n)
    else:
        out += m32 + struct.pack(">I", n)


def _mp_header(out: bytearray, n: int, fix: int, m16: bytes, m32: bytes) -> None:
    if n < 16:
        out.append(fix | n)
    elif n <= 0xFFFF:
        out += m16 + struct.pack(">H", n)
    else:
        out += m32 + struct.pack(">I", n)


class _Reader:
    """A cursor over a payload; every read checks the length first."""

    def __init__(self, data: bytes, codec: str) -> None:
        self.data, self.pos, self.codec = data, 0, codec

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise CodecError(f"truncated {self.codec} payload: needs {end} bytes, has {len(self.data)}")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]


def _read_map(r: _Reader, n: int, depth: int, unpack: Any) -> dict[Any, Any]:
    """``n`` key/value pairs read with ``unpack``; a list or map key is refused (unhashable)."""
    result = {}
    for _ in range(n):
        key = unpack(r, depth + 1)
        if isinstance(key, (list, dict)):
            raise CodecError(f"{r.codec} map key is an array or map; keys must be hashable")
        result[key] = unpack(r, depth + 1)
    return result


_MP_FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i",
             0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
_MP_STR = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}
_MP_BIN = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}


def _mp_unpack(r: _Reader, depth: int = 0) -> Any:
    if depth > 512:
        raise CodecError("MessagePack payload nests deeper than 512 levels")
    tag = r.take(1)[0]
    if tag < 0x80:
        return tag
    if tag >= 0xE0:
        return tag - 0x100
    if tag == 0xC0:
        return None
    if tag in (0xC2, 0xC3):
        return tag == 0xC3
    if tag in _MP_FIXED:
        return r.unpack(_MP_FIXED[tag])
    if 0xA0 <= tag <= 0xBF or tag in _MP_STR:
        n = tag & 0x1F if tag <= 0xBF else r.unpack(_MP_STR[tag])
        try:
            return r.take(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"MessagePack string is not UTF-8: {exc}") from None
    if tag in _MP_BIN:
        return r.take(r.unpack(_MP_BIN[tag]))
    if 0x90 <= tag <= 0x9F or tag in (0xDC, 0xDD):
        n = tag & 0x0F if tag <= 0x9F else r.unpack(">H" if tag == 0xDC else ">I")
        return [_mp_unpack(r, depth + 1) for _ in range(n)]
    if 0x80 <= tag <= 0x8F or tag in (0xDE, 0xDF):
        n = tag & 0x0F if tag <= 0x8F else r.unpack(">H" if tag == 0xDE else ">I")
        return _read_map(r, n, depth, _mp_unpack)
    raise CodecError(f"MessagePack type byte 0x{tag:02x} is not supported by the guest SDK "
                     "(plain data only: nil, bool, int, float, str, bin, array, map)")


# --- CBOR (RFC 8949 major types 0-5 and 7, shortest-form heads like cbor2) ---

def _cbor_head(out: bytearray, major: int, n: int) -> None:
    if n < 24:
        out.append(major << 5 | n)
    elif n <= 0xFF:
        out += bytes((major << 5 | 24, n))
    elif n <= 0xFFFF:
        out.append(major << 5 | 25)
        out += struct.pack(">H", n)
    elif n <= 0xFFFFFFFF:
        out.append(major << 5 | 26)
        out += struct.pack(">I", n)
    else:
        out.append(major << 5 | 27)
        out += struct.pack(">Q", n)


def _cbor_pack(obj: Any, out: bytearray) -> None:
    if obj is None:
        out.append(0xF6)
    elif obj is True or obj is False:
        out.append(0xF5 if obj else 0xF4)
    elif isinstance(obj, int):
        if obj >= 0:
            if obj > 0xFFFFFFFFFFFFFFFF:
                raise OverflowError(f"integer {obj} does not fit CBOR's 64-bit heads")
            _cbor_head(out, 0, obj)
        else:
            if -obj - 1 > 0xFFFFFFFFFFFFFFFF:
                raise OverflowError(f"integer {obj} does not fit CBOR's 64-bit heads")
            _cbor_head(out, 1, -obj - 1)
    elif isinstance(obj, float):
        out += b"\xfb" + struct.pack(">d", obj)
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        _cbor_head(out, 3, len(raw))
        out += raw
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        _cbor_head(out, 2, len(raw))
        out += raw
    elif isinstance(obj, (list, tuple)):
        _cbor_head(out, 4, len(obj))
        for item in obj:
            _cbor_pack(item, out)
    elif isinstance(obj, dict):
        _cbor_head(out, 5, len(obj))
        for key, value in obj.items():
            _cbor_pack(key, out)
            _cbor_pack(value, out)
    else:
        raise TypeError(f"cannot serialize type {type(obj).__name__}")


def _half(bits: int) -> float:
    exp, frac = (bits >> 10) & 0x1F, bits & 0x3FF
    if exp == 0:
        value = math.ldexp(frac, -24)
    elif exp == 0x1F:
        value = math.inf if frac == 0 else math.nan
    else:
        value = math.ldexp(frac + 1024, exp - 25)
    return -value if bits & 0x8000 else value


def _cbor_unpack(r: _Reader, depth: int = 0) -> Any:
    if depth > 512:
        raise CodecError("CBOR payload nests deeper than 512 levels")
    initial = r.take(1)[0]
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        simple = {20: False, 21: True, 22: None}
        if info in simple:
            return simple[info]
        if info == 25:
            return _half(r.unpack(">H"))
        if info == 26:
            return r.unpack(">f")
        if info == 27:
            return r.unpack(">d")
        raise CodecError(f"CBOR simple value {info} is not supported by the guest SDK")
    if info < 24:
        n = info
    elif info <= 27:
        n = r.unpack({24: ">B", 25: ">H", 26: ">I", 27: ">Q"}[info])
    else:
        raise CodecError(f"CBOR additional info {info} (indefinite length or reserved) is not "
                         "supported by the guest SDK")
    if major == 0:
        return n
    if major == 1:
        return -1 - n
    if major == 2:
        return r.take(n)
    if major == 3:
        try:
            return r.take(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"CBOR text string is not UTF-8: {exc}") from None
    if major == 4:
        return [_cbor_unpack(r, depth + 1) for _ in range(n)]
    if major == 5:
        return _read_map(r, n, depth, _cbor_unpack)
    raise CodecError("CBOR tags (major type 6) are not supported by the guest SDK")


def _packer(fn: Any) -> Any:
    def pack(obj: Any) -> bytes:
        out = bytearray()
        fn(obj, out)
        return bytes(out)
    return pack


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


_SERIALISERS = {Codec.JSON: _json_dumps, Codec.MSGPACK: _packer(_mp_pack), Codec.CBOR: _packer(_cbor_pack)}


def encode_value(codec: Codec | int, obj: Any) -> bytes:
    """Serialise ``obj`` with ``codec`` and frame it; RAW and BORSH take bytes as they are."""
    member = _codec(codec)
    serialise = _SERIALISERS.get(member)
    if serialise is None:
        if not isinstance(obj, (bytes, bytearray, memoryview)):
            raise CodecError(f"{member.name} payloads are opaque bytes; pass bytes, bytearray or "
                             f"memoryview, not {type(obj).__name__} (or pick JSON/CBOR/MSGPACK)")
        return encode(member, obj)
    try:
        payload = serialise(obj)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise CodecError(f"cannot serialise {type(obj).__name__} as {member.name}: {exc}; "
                         "convert it to plain dict/list/str/int/float/bool/None/bytes first") from exc
    return encode(member, payload)


def decode_value(data: bytes | bytearray | memoryview) -> Any:
    """Deserialise a frame, choosing the codec from its prefix (RAW/BORSH give ``bytes``)."""
    codec, payload = decode(data)
    if codec in (Codec.RAW, Codec.BORSH):
        return payload
    try:
        if codec is Codec.JSON:
            return json.loads(payload.decode("utf-8"))
        reader = _Reader(payload, codec.name)
        value = (_mp_unpack if codec is Codec.MSGPACK else _cbor_unpack)(reader)
        if reader.pos != len(payload):
            raise CodecError(f"{len(payload) - reader.pos} trailing bytes after the {codec.name} value")
        return value
    except CodecError:
        raise
    except (ValueError, RecursionError) as exc:  # json and UTF-8 errors are ValueErrors
        raise CodecError(f"the {codec.name} payload ({len(payload)} bytes) is not valid "
                         f"{codec.name}: {exc}; check the sender's codec prefix") from exc
