"""Network grants: a component connects only to the endpoints its manifest names.

Run: python examples/network.py      (loopback only: it starts its own TCP echo server)

The ``ext-net`` component's ``execute("x" ...)`` connects, sends, receives and closes through
``airssys:ext-network``. The grant names ``127.0.0.1:<port>`` literally: loopback is refused
unless a grant names the address, so ``localhost:<port>`` is denied and never resolved.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm.security import MemoryAuditSink
from airssys_wasm.benchmarks import guests

WAT = Path(__file__).resolve().parent / "wat"
DENIED = 0  # network-error case index of permission-denied (wit/types.wit)


def echo_server() -> tuple[socket.socket, threading.Thread]:
    """A one-connection TCP server on 127.0.0.1 that answers ``echo:<what it got>``."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5.0)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"echo:" + conn.recv(4096))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def roundtrip(address: str, data: bytes) -> bytes:
    return b"x" + bytes([len(address)]) + address.encode() + data


async def main() -> dict[str, object]:
    server, thread = echo_server()
    granted = f"127.0.0.1:{server.getsockname()[1]}"
    manifest = f"""
[component]
name = "client"
version = "1.0.0"

[capabilities.network]
connect = ["{granted}"]
"""
    audit = MemoryAuditSink()
    try:
        async with aw.Host(aw.HostConfig(name="network", audit=audit)) as host:
            await host.spawn("client", guests.path("ext-net"), manifest=manifest)
            reply = await host.request("client", roundtrip(granted, b"hello"))
            assert reply == b"\x00echo:hello", reply
            print(f"{granted} answered {reply[1:].decode()!r}")

            other = f"localhost:{server.getsockname()[1]}"
            reply = await host.request("client", roundtrip(other, b"hello"))
            assert reply[:2] == bytes([1, DENIED]), reply
            print(f"{other} refused: {reply[2:].decode()[:60]}...")
    finally:
        server.close()
        thread.join(5.0)
    performed = [r.performed for r in audit.records if r.decision == "done"]
    print(f"audit 'done' lines name the address really connected: {performed}")
    assert performed == [granted]
    return {"performed": performed}


if __name__ == "__main__":
    asyncio.run(main())
