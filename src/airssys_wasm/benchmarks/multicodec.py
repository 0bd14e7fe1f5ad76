"""Multicodec framing: ours (Cython) vs py-multicodec and multiformats (pure Python)."""

from __future__ import annotations

import importlib.util

import msgpack

from airssys_wasm import multicodec as mc
from airssys_wasm.benchmarks.timing import Comparison, not_installed, time_stmt

TITLE = "Multicodec framing"

PAYLOAD = b"x" * 64
SMALL_DICT = {"id": 7, "name": "sensor", "ok": True, "reading": 21.5}


def _baselines() -> dict[str, object]:
    """Import the optional baselines that are installed (the `bench`/`test` extras bring them)."""
    found: dict[str, object] = {}
    if importlib.util.find_spec("multicodec") and importlib.util.find_spec("varint"):
        import multicodec as py_multicodec
        import varint as py_varint

        found["py-multicodec"] = py_multicodec
        found["varint"] = py_varint
    if importlib.util.find_spec("multiformats"):
        from multiformats import multicodec as mf_multicodec

        found["multiformats"] = mf_multicodec
    return found


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """Time each operation for ours and for every installed baseline."""
    base = _baselines()
    frame = mc.encode(mc.Codec.JSON, PAYLOAD)
    ns = {
        "mc": mc, "C": mc.Codec.JSON, "p": PAYLOAD, "f": frame, "d": SMALL_DICT, "msgpack": msgpack,
        "encode": mc.encode, "decode": mc.decode, "decode_header": mc.decode_header,
        "venc": mc.varint_encode, "vdec": mc.varint_decode, "v300": b"\xac\x02",
        **{name.replace("-", "_"): module for name, module in base.items()},
    }

    def t(stmt: str) -> float:
        return time_stmt(stmt, ns, repeat=repeat, min_seconds=min_seconds)

    rows: list[Comparison] = []

    def add(name: str, ours: str, baselines: dict[str, str]) -> None:
        ours_ns = t(ours)
        usable = {b: s for b, s in baselines.items() if b.split(":")[0] in base}
        if not usable:
            rows.append(Comparison(name, ours_ns, not_installed([b.split(":")[0] for b in baselines]),
                                   None))
        for label, stmt in usable.items():
            rows.append(Comparison(name, ours_ns, label.split(":")[0], t(stmt)))

    add("frame encode 64 B", "encode(C, p)", {
        "py-multicodec": "py_multicodec.add_prefix('json', p)",
        "multiformats": "multiformats.wrap('json', p)"})
    add("frame decode 64 B -> (codec, memoryview)", "decode(f)", {
        "py-multicodec": "py_multicodec.get_codec(f); py_multicodec.remove_prefix(f)",
        "multiformats": "multiformats.unwrap(f)"})
    add("frame encode+decode 64 B (memoryview)", "decode(encode(C, p))", {
        "py-multicodec": "g = py_multicodec.add_prefix('json', p); py_multicodec.get_codec(g); "
                         "py_multicodec.remove_prefix(g)",
        "multiformats": "multiformats.unwrap(multiformats.wrap('json', p))"})
    add("frame encode+decode_header 64 B (offset)", "decode_header(encode(C, p))", {
        "py-multicodec": "g = py_multicodec.add_prefix('json', p); py_multicodec.extract_prefix(g)"})
    add("varint encode 300", "venc(300)", {"varint": "varint.encode(300)"})
    add("varint decode 300", "vdec(v300)", {"varint": "varint.decode_bytes(v300)"})
    add("encode_value msgpack small dict", "mc.encode_value(mc.Codec.MSGPACK, d)", {
        "py-multicodec": "py_multicodec.add_prefix('messagepack', msgpack.packb(d))"})
    return rows
