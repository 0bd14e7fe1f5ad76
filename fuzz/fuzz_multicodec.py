"""Coverage-guided fuzzing of the multicodec decoders with atheris.

    pip install atheris && python fuzz/fuzz_multicodec.py -runs=2000000

Any exception other than CodecError, or a crash, is a finding. Also checks that a successful decode
agrees with decode_header and re-encodes to the same bytes.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from airssys_wasm import multicodec as mc
    from airssys_wasm.errors import CodecError


def one_input(data: bytes) -> None:
    try:
        codec, view = mc.decode(data)
    except CodecError:
        for fn in (mc.decode_header, mc.decode_value):
            try:
                fn(data)
            except CodecError:
                continue
            raise AssertionError(f"{fn.__name__} accepted what decode rejected: {data!r}")
        return
    codec2, offset = mc.decode_header(bytearray(data))
    assert codec2 is codec and bytes(view) == data[offset:]
    assert mc.encode(codec, view) == data
    try:
        mc.decode_value(data)
    except CodecError:
        pass
    try:
        value, used = mc.varint_decode(data)
    except CodecError:
        return
    assert mc.varint_encode(value) == data[:used]


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
