# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
"""Varint and multicodec framing: the per-message hot path, in C.

Framing is O(1) in the payload: encode is one allocation and one memcpy, decode validates the
prefix and hands out a zero-copy view. Every malformed input becomes a CodecError that names
the problem and shows the offending bytes; nothing here can read out of bounds.
"""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBuffer_FillInfo, PyBUF_SIMPLE, PyBUF_WRITABLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsUnsignedLongLong
from cpython.memoryview cimport PyMemoryView_FromObject
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy

from airssys_wasm._fast.mc_c cimport *

cimport cython

import enum

from airssys_wasm.errors import CodecError

cdef extern from "Python.h":
    bint PyBytes_CheckExact(object o)
    bint PyLong_Check(object o)


class Codec(enum.IntEnum):
    """Multicodec codes a frame may carry (multicodec table; borsh kept for the Rust seed)."""

    RAW = 0x55
    CBOR = 0x51
    JSON = 0x0200
    MSGPACK = 0x0201
    BORSH = 0x0701


# Cached members so decode never goes through Enum.__call__ (~300 ns) per message.
cdef object _RAW = Codec.RAW
cdef object _CBOR = Codec.CBOR
cdef object _JSON = Codec.JSON
cdef object _MSGPACK = Codec.MSGPACK
cdef object _BORSH = Codec.BORSH

cdef str _SUPPORTED = "raw 0x55, cbor 0x51, json 0x0200, msgpack 0x0201, borsh 0x0701"


cdef inline object _codec_member(uint64_t code):
    if code == 0x55:
        return _RAW
    if code == 0x51:
        return _CBOR
    if code == 0x0200:
        return _JSON
    if code == 0x0201:
        return _MSGPACK
    if code == 0x0701:
        return _BORSH
    return None


cdef str _hex(const uint8_t *p, size_t n):
    """Up to 12 bytes as spaced hex, for error messages."""
    cdef size_t shown = n if n < 12 else 12
    cdef str text = " ".join([format(p[i], "02x") for i in range(shown)])
    if n > shown:
        text += f" ... ({n} bytes)"
    return text or "(none)"


cdef object _varint_error(int err, const uint8_t *p, size_t n, str what):
    if err == AW_VARINT_EMPTY:
        return CodecError(f"empty input: a {what} needs at least one byte; pass a non-empty buffer")
    if err == AW_VARINT_TRUNCATED:
        return CodecError(
            f"truncated {what}: input ends after {n} byte(s) [{_hex(p, n)}] while the "
            "continuation bit (0x80) is still set; pass the complete frame")
    if err == AW_VARINT_OVERLONG:
        return CodecError(
            f"overlong {what}: the first 9 bytes [{_hex(p, 9)}] all have the continuation bit set, "
            "but a varint is at most 9 bytes (values < 2**63); the input is not a valid frame")
    if err == AW_VARINT_NONMINIMAL:
        return CodecError(
            f"non-minimal {what} [{_hex(p, n if n < 9 else 9)}]: it ends in a 0x00 group, so the same "
            "value has a shorter encoding; only minimal LEB128 is accepted (re-encode the prefix)")
    return CodecError(f"invalid {what} [{_hex(p, n)}]")


cdef object _unknown_code(uint64_t code, const uint8_t *p, int used):
    return CodecError(
        f"unknown multicodec code 0x{code:04x} (prefix [{_hex(p, used)}]); supported: {_SUPPORTED}")


@cython.no_gc
@cython.freelist(32)
cdef class _Payload:
    """Buffer exporter for the payload part of a frame; keeps the source buffer pinned."""

    cdef Py_buffer source
    cdef bint has_source
    cdef object owner  # immutable bytes or None: no reference cycles possible, hence no_gc
    cdef const uint8_t *ptr
    cdef Py_ssize_t length

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        cdef bint readonly = 1
        if self.has_source:
            readonly = self.source.readonly
        PyBuffer_FillInfo(buffer, self, <void *>self.ptr, self.length, readonly, flags)

    def __releasebuffer__(self, Py_buffer *buffer):
        pass

    def __dealloc__(self):
        if self.has_source:
            PyBuffer_Release(&self.source)
            self.has_source = 0


cdef inline object _bytes_view(object owner, const uint8_t *ptr, Py_ssize_t length):
    """A memoryview of ptr[0:length] (inside the immutable bytes `owner`) that keeps it alive."""
    cdef _Payload payload = _Payload.__new__(_Payload)
    payload.owner = owner
    payload.ptr = ptr
    payload.length = length
    return PyMemoryView_FromObject(payload)


cdef inline uint64_t _as_code(object codec) except? 0xffffffffffffffff:
    if not PyLong_Check(codec):
        raise TypeError(
            f"codec must be an int or airssys_wasm.multicodec.Codec, not {type(codec).__name__}")
    try:
        return PyLong_AsUnsignedLongLong(codec)
    except OverflowError:
        raise CodecError(f"codec {codec!r} is out of range: codes are unsigned and < 2**63; "
                         f"supported: {_SUPPORTED}") from None


def encode(codec, payload):
    """Return ``varint(codec) + payload`` as bytes (one allocation, one copy)."""
    cdef uint64_t code = _as_code(codec)
    cdef uint8_t prefix[AW_VARINT_MAX_BYTES]
    cdef int plen
    cdef Py_buffer view
    cdef object out
    cdef char *dst
    if not aw_mc_known(code):
        raise CodecError(f"unknown multicodec code 0x{code:04x}; supported: {_SUPPORTED}")
    plen = aw_varint_encode(code, prefix)
    if PyBytes_CheckExact(payload):
        out = PyBytes_FromStringAndSize(NULL, plen + PyBytes_GET_SIZE(payload))
        dst = PyBytes_AS_STRING(out)
        memcpy(dst, prefix, plen)
        memcpy(dst + plen, PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        return out
    _get_buffer(payload, &view, "payload")
    try:
        out = PyBytes_FromStringAndSize(NULL, plen + view.len)
        dst = PyBytes_AS_STRING(out)
        memcpy(dst, prefix, plen)
        memcpy(dst + plen, view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
    return out


cdef int _get_buffer(object obj, Py_buffer *view, str name) except -1:
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except (TypeError, BufferError) as exc:
        raise TypeError(
            f"{name} must be a contiguous bytes-like object (bytes, bytearray, memoryview), "
            f"not {type(obj).__name__}: {exc}") from None
    return 0


def decode(data):
    """Split a frame into ``(Codec, memoryview of the payload)`` without copying the payload.

    The view keeps ``data`` alive (and, for a bytearray, un-resizable) while it exists.
    """
    cdef uint64_t code = 0
    cdef int used
    cdef const uint8_t *p
    cdef Py_ssize_t n
    if PyBytes_CheckExact(data):
        p = <const uint8_t *>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        used = aw_mc_header(p, <size_t>n, &code)
        if used < 0:
            raise _header_error(used, p, n, code)
        return (_codec_member(code), _bytes_view(data, p + used, n - used))
    # Any other exporter: the payload object holds the acquired buffer, so the exporter stays
    # pinned (a bytearray cannot be resized) for as long as the returned view lives.
    cdef _Payload payload = _Payload.__new__(_Payload)
    _get_buffer(data, &payload.source, "data")
    payload.has_source = 1
    p = <const uint8_t *>payload.source.buf
    n = payload.source.len
    used = aw_mc_header(p, <size_t>n, &code)
    if used < 0:
        raise _header_error(used, p, n, code)
    payload.ptr = p + used
    payload.length = n - used
    return (_codec_member(code), PyMemoryView_FromObject(payload))


def decode_header(data):
    """Validate a frame's prefix and return ``(Codec, payload_offset)`` — no view is created.

    The cheapest check for routers that forward the frame unchanged.
    """
    cdef Py_buffer view
    cdef uint64_t code = 0
    cdef int used
    if PyBytes_CheckExact(data):
        used = aw_mc_header(<const uint8_t *>PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data), &code)
        if used < 0:
            raise _header_error(used, <const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), code)
        return (_codec_member(code), used)
    _get_buffer(data, &view, "data")
    try:
        used = aw_mc_header(<const uint8_t *>view.buf, <size_t>view.len, &code)
        if used < 0:
            raise _header_error(used, <const uint8_t *>view.buf, view.len, code)
    finally:
        PyBuffer_Release(&view)
    return (_codec_member(code), used)


cdef object _header_error(int err, const uint8_t *p, Py_ssize_t n, uint64_t code):
    if err == AW_MC_UNKNOWN_CODE:
        return _unknown_code(code, p, aw_varint_size(code))
    return _varint_error(err, p, <size_t>n, "multicodec prefix")


def varint_encode(n):
    """Minimal unsigned LEB128 encoding of ``0 <= n < 2**63`` (at most 9 bytes)."""
    cdef uint64_t value
    cdef uint8_t out[AW_VARINT_MAX_BYTES]
    if not PyLong_Check(n):
        raise TypeError(f"varint_encode expects an int, not {type(n).__name__}")
    if n < 0 or n > AW_VARINT_MAX_VALUE:
        raise CodecError(
            f"varint value {n} is out of range: it must be 0 <= n < 2**63 (at most 9 bytes)")
    value = PyLong_AsUnsignedLongLong(n)
    return PyBytes_FromStringAndSize(<char *>out, aw_varint_encode(value, out))


def varint_decode(buf):
    """Decode the varint at the start of ``buf``: ``(value, bytes_used)``; trailing bytes are ignored."""
    cdef Py_buffer view
    cdef uint64_t value = 0
    cdef int used
    if PyBytes_CheckExact(buf):
        used = aw_varint_decode(<const uint8_t *>PyBytes_AS_STRING(buf), <size_t>PyBytes_GET_SIZE(buf), &value)
        if used < 0:
            raise _varint_error(used, <const uint8_t *>PyBytes_AS_STRING(buf), <size_t>PyBytes_GET_SIZE(buf), "varint")
        return (value, used)
    _get_buffer(buf, &view, "buf")
    try:
        used = aw_varint_decode(<const uint8_t *>view.buf, <size_t>view.len, &value)
        if used < 0:
            raise _varint_error(used, <const uint8_t *>view.buf, <size_t>view.len, "varint")
    finally:
        PyBuffer_Release(&view)
    return (value, used)
