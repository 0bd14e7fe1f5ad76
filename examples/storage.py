"""Key-value storage: namespaces granted in Component.toml, a byte quota, data that outlives
the host.

Run: python examples/storage.py

The ``ext-store`` component runs one ``airssys:ext-storage`` call per ``execute``. Its manifest
grants the namespace "app" and a 64-byte ``storage_bytes`` quota; with
``HostConfig(storage_dir=...)`` the entries live in sqlite and a second host sees them.
"""

from __future__ import annotations

import asyncio
import struct
import tempfile
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm.benchmarks import guests

WAT = Path(__file__).resolve().parent / "wat"
MANIFEST = """
[component]
name = "settings"
version = "1.0.0"

[capabilities.storage]
read = ["app"]
write = ["app"]

[quota]
storage_bytes = 64
"""
DENIED, EXHAUSTED = 0, 1  # storage-error case indices (wit/ext-storage.wit)


def at(namespace: str, key: str) -> bytes:
    """The probe's addressing: len u8 ++ namespace ++ len u16 LE ++ key."""
    return bytes([len(namespace)]) + namespace.encode() + struct.pack("<H", len(key)) + key.encode()


async def call(host: aw.Host, op: bytes) -> tuple[bool, bytes]:
    """One storage call; the probe answers 0x00 ++ result or 0x01 ++ error case ++ text."""
    reply = await host.request("settings", op)
    return reply[0] == 0, reply[1:]


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        config = aw.HostConfig(name="storage", storage_dir=tmp)
        async with aw.Host(config) as host:
            await host.spawn("settings", guests.path("ext-store"), manifest=MANIFEST)
            assert await call(host, b"s" + at("app", "theme") + b"dark") == (True, b"")
            ok, error = await call(host, b"s" + at("other", "k") + b"v")   # not granted
            assert not ok and error[0] == DENIED
            print(f"namespace 'other' refused: {error[1:].decode()[:70]}...")
            ok, error = await call(host, b"s" + at("app", "blob") + b"x" * 100)  # over the quota
            assert not ok and error[0] == EXHAUSTED
            print("a 100-byte value is over the 64-byte quota: resource-exhausted")

        async with aw.Host(config) as host:                  # a new host, the same database
            await host.spawn("settings", guests.path("ext-store"), manifest=MANIFEST)
            ok, value = await call(host, b"g" + at("app", "theme"))
            assert ok and value == b"\x01dark"               # 0x01: some(value)
            ok, keys = await call(host, b"l" + bytes([3]) + b"app")
            print(f"after a restart: theme={value[1:].decode()!r}, keys={keys.split()}")
            assert keys == b"theme\n"
            return {"theme": value[1:].decode(), "keys": keys.split()}


if __name__ == "__main__":
    asyncio.run(main())
