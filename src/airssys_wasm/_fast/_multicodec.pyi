import enum

class Codec(enum.IntEnum):
    """Multicodec codes a frame may carry (multicodec table; ``BORSH`` is kept for wire
    compatibility with the Rust airssys-wasm, its payloads are opaque bytes here).

    An ``IntEnum``, so a plain int code compares equal and the C code can take either."""

    RAW = 0x55
    CBOR = 0x51
    JSON = 0x0200
    MSGPACK = 0x0201
    BORSH = 0x0701

def encode(codec: Codec | int, payload: bytes | bytearray | memoryview) -> bytes:
    """Return ``varint(codec) + payload`` as bytes: one allocation, one copy.

    CodecError for a code that is not a ``Codec``, so no frame with an unknown prefix is ever
    produced."""

def decode(data: bytes | bytearray | memoryview) -> tuple[Codec, memoryview]:
    """Split a frame into ``(Codec, memoryview of the payload)`` without copying the payload.

    O(1) in the payload size, which is what lets the router and components pass large frames
    around cheaply. The view keeps ``data`` alive (and a ``bytearray`` un-resizable) while it
    exists. CodecError, naming the problem and the bytes, for an empty, truncated, overlong or
    non-minimal prefix or an unknown code."""

def decode_header(data: bytes | bytearray | memoryview) -> tuple[Codec, int]:
    """Validate a frame's prefix and return ``(Codec, payload_offset)``; no view is created.

    The cheapest check, for code that forwards the frame unchanged and only needs to know it is
    well formed. Same errors as ``decode``."""

def varint_encode(n: int) -> bytes:
    """Minimal unsigned LEB128 encoding of ``0 <= n < 2**63`` (at most 9 bytes); CodecError
    outside that range, so every prefix written can be read back by ``varint_decode``."""

def varint_decode(buf: bytes | bytearray | memoryview) -> tuple[int, int]:
    """Decode the varint at the start of ``buf``: ``(value, bytes_used)``; trailing bytes are
    ignored. Strict: only the minimal encoding is accepted (CodecError otherwise), so one value
    has exactly one wire form."""
