"""ext-network listen / accept end to end, strictly on 127.0.0.1: the `ext-net` guest listens
on a granted port, a Python client connects, bytes go both ways through send / receive."""

from __future__ import annotations

import socket
import struct

import pytest

import airssys_wasm as aw
from airssys_wasm.host.ext_network import MAX_LISTENERS

from security_helpers import denials, err, manifest, ok
from airssys_wasm.benchmarks import guests

EXT_NET = guests.path("ext-net")
NET_DENIED, NET_TIMEOUT, NET_EXHAUSTED = 0, 2, 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bind_grant(*addresses: str) -> str:
    return "[capabilities.network]\nbind = [" + ", ".join(f'"{a}"' for a in addresses) + "]"


def listen_op(address: str) -> bytes:
    return b"l" + bytes([len(address)]) + address.encode()


async def listen(host: aw.Host, name: str, address: str) -> int:
    return struct.unpack("<I", ok(await host.request(name, listen_op(address))))[0]


def client(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=2.0)


def refused(port: int) -> bool:
    try:
        client(port).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_guest_listens_accepts_and_exchanges_bytes(host, audit) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", bind_grant(address)))
    listener = await listen(host, "srv", address)
    with client(port) as peer:  # the kernel completes the handshake; the guest accepts it
        conn = ok(await host.request("srv", b"a" + struct.pack("<I", listener)))
        peer.sendall(b"hello guest")
        assert ok(await host.request("srv", b"r" + conn)) == b"hello guest"
        assert ok(await host.request("srv", b"s" + conn + b"hello client")) == struct.pack("<Q", 12)
        assert peer.recv(64) == b"hello client"
        assert ok(await host.request("srv", b"c" + conn)) == b""
        assert peer.recv(64) == b""  # the guest closed its end
    assert [(r.kind, r.target, r.decision, r.performed) for r in audit.records] == [
        ("network.bind", address, "allow", None), ("network.bind", address, "done", address),
        ("network.bind", address, "allow", None), ("network.bind", address, "allow", None),
    ]  # listen (+ what was bound), then receive and send metered
    ok(await host.request("srv", b"C" + struct.pack("<I", listener)))
    assert refused(port)


async def test_listen_without_the_bind_grant_is_denied_and_audited(host, audit) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    # granted network.connect to that very address, but not network.bind
    await host.spawn("c", EXT_NET, manifest=manifest(
        "c", f'[capabilities.network]\nconnect = ["{address}"]'))
    case, text = err(await host.request("c", listen_op(address)))
    assert case == NET_DENIED and "network.bind" in text
    assert [(r.component, r.target) for r in denials(audit, "network.bind")] == [("c", address)]
    assert refused(port)  # nothing was bound


async def test_only_the_granted_host_and_port_may_be_bound(host, audit) -> None:
    port = free_port()
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", bind_grant(f"127.0.0.1:{port}")))
    for other in (f"0.0.0.0:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1:0"):
        case, text = err(await host.request("srv", listen_op(other)))
        assert case == NET_DENIED and "network.bind" in text, other
    assert len(denials(audit, "network.bind")) == 3


async def test_port_zero_needs_a_wildcard_port_grant(host) -> None:
    await host.spawn("any", EXT_NET, manifest=manifest("any", bind_grant("127.0.0.1:*")))
    assert await listen(host, "any", "127.0.0.1:0") > 0
    for _ in range(MAX_LISTENERS - 1):
        await listen(host, "any", "127.0.0.1:0")
    case, text = err(await host.request("any", listen_op("127.0.0.1:0")))
    assert case == NET_EXHAUSTED and "listeners" in text


async def test_accept_is_bounded_by_the_call_deadline(host) -> None:
    """The guest asks accept() for 2 s; its call deadline is 100 ms and nobody connects."""
    port = free_port()
    await host.spawn("srv", EXT_NET, manifest=manifest(
        "srv", bind_grant(f"127.0.0.1:{port}"), limits="timeout_ms = 100"))
    listener = await listen(host, "srv", f"127.0.0.1:{port}")
    try:
        case, text = err(await host.request("srv", b"a" + struct.pack("<I", listener), timeout=5.0))
        assert case == NET_TIMEOUT and text.startswith("no connection"), text
    except aw.TrapError as trap:
        assert trap.kind is aw.TrapKind.TIMEOUT


async def test_accepted_traffic_counts_against_the_bandwidth_quota(host, audit) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    await host.spawn("srv", EXT_NET, manifest=manifest(
        "srv", bind_grant(address), "network_bytes_per_second = 16"))
    listener = await listen(host, "srv", address)
    with client(port) as peer:
        conn = ok(await host.request("srv", b"a" + struct.pack("<I", listener)))
        peer.sendall(b"z" * 64)
        case, text = err(await host.request("srv", b"r" + conn))
    assert case == NET_EXHAUSTED and "network_bytes_per_second" in text
    assert any(r.reason.startswith("quota exceeded") for r in denials(audit, "network.bind"))


async def test_listeners_are_closed_when_the_component_stops(host) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", bind_grant(address)))
    await listen(host, "srv", address)
    assert not refused(port)
    await host.stop("srv")
    assert refused(port)


async def test_handles_of_another_component_are_not_open(host) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", bind_grant(address)))
    await host.spawn("thief", EXT_NET, manifest=manifest("thief", bind_grant("127.0.0.1:*")))
    listener = await listen(host, "srv", address)
    case, text = err(await host.request("thief", b"a" + struct.pack("<I", listener)))
    assert "is not open" in text and case == 3  # invalid-address


async def test_a_restart_closes_the_sockets_of_the_old_instance(host) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", bind_grant(address)))
    listener = await listen(host, "srv", address)
    with pytest.raises(aw.TrapError):
        await host.request("srv", b"?")  # unknown command: unreachable, the actor restarts
    # the next request runs in the new instance: the old listener is gone, the port is free again
    case, text = err(await host.request("srv", b"a" + struct.pack("<I", listener)))
    assert "is not open" in text
    assert refused(port)
    assert await listen(host, "srv", address) > 0
