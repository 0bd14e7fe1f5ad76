"""Host side of ``airssys:ext-network/network@1.0.0``: outbound TCP per manifest grant.

``connect`` is checked against ``network.connect`` (``host:port`` as the guest wrote it; the
provider matches hosts exactly, ``*.domain`` as proper subdomains only). Every ``send`` and
``receive`` is checked again with the byte count, which is how the bandwidth quota
(``[quota] network_bytes_per_second``) is charged and audited. All blocking is bounded by the
smaller of the guest's own timeout and the deadline of the guest call in progress.
Connections belong to the component (not one instance) and are closed when it stops.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, wit_result
from airssys_wasm.host.policy import RESOURCE_EXHAUSTED, Decision, SecurityProvider
from airssys_wasm.runtime import HostServices

__all__ = ["INTERFACE", "MAX_RECEIVE_BYTES", "Connections"]

INTERFACE = "airssys:ext-network/network@1.0.0"
#: Most bytes one receive returns, whatever the guest asks for.
MAX_RECEIVE_BYTES = 1 << 20
#: Most open connections per component.
MAX_CONNECTIONS = 64


def _refused(kind: str, target: str, decision: Decision) -> GuestErr:
    if decision.error == RESOURCE_EXHAUSTED:
        return GuestErr("resource-exhausted", f"{decision.reason}; transfer less or raise "
                        "[quota] network_bytes_per_second")
    return GuestErr("permission-denied", f"{kind} {target!r} denied: {decision.reason}; grant it in "
                f"the component's Component.toml [capabilities] {kind}")


def _split(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class Connections:
    """Open sockets per component; ``functions()`` is the interface, ``release`` closes them."""

    def __init__(self, security: SecurityProvider) -> None:
        self._check = security.check
        self._open: dict[str, dict[int, tuple[socket.socket, str]]] = {}
        self._next = 1

    def release(self, component: str) -> None:
        for sock, _ in self._open.pop(component, {}).values():
            sock.close()

    def close_all(self) -> None:
        for component in list(self._open):
            self.release(component)

    def _lookup(self, component: str, conn: int) -> tuple[socket.socket, str] | None:
        return self._open.get(component, {}).get(conn)

    def functions(self) -> dict[str, Callable[..., Any]]:
        check = self._check

        def connect(services: HostServices, address: str, timeout_ms: int) -> int | GuestErr:
            name = services.component.name
            decision = check(name, "network.connect", address)
            if not decision.allowed:
                return _refused("network.connect", address, decision)
            parsed = _split(address)
            if parsed is None:
                return GuestErr("invalid-address", f"{address!r} is not host:port ([v6]:port for IPv6)")
            conns = self._open.setdefault(name, {})
            if len(conns) >= MAX_CONNECTIONS:
                return GuestErr("io-error", f"{name} already has {MAX_CONNECTIONS} open connections; "
                            "close some first")
            seconds = budget(timeout_ms)
            if seconds <= 0:
                return GuestErr("timeout", f"no time left in this call to connect to {address}")
            try:
                sock = socket.create_connection(parsed, timeout=seconds)
            except TimeoutError:
                return GuestErr("timeout", f"connecting to {address} took longer than {seconds:.3f} s")
            except ConnectionRefusedError:
                return GuestErr("connection-refused", f"{address} refused the connection")
            except OSError as exc:
                return GuestErr("io-error", f"connecting to {address} failed: {exc.strerror or exc}")
            handle = self._next
            self._next += 1
            conns[handle] = (sock, address)
            return handle

        def send(services: HostServices, conn: int, data: bytes) -> int | GuestErr:
            name = services.component.name
            found = self._lookup(name, conn)
            if found is None:
                return GuestErr("invalid-address", f"connection {conn} is not open")
            sock, address = found
            decision = check(name, "network.connect", address, amount=len(data))
            if not decision.allowed:
                return _refused("network.connect", address, decision)
            seconds = budget()
            if seconds <= 0:
                return GuestErr("timeout", f"no time left in this call to send to {address}")
            try:
                sock.settimeout(seconds)
                sock.sendall(bytes(data))
            except TimeoutError:
                return GuestErr("timeout", f"sending to {address} did not finish before the deadline")
            except OSError as exc:
                return GuestErr("io-error", f"sending to {address} failed: {exc.strerror or exc}")
            return len(data)

        def receive(services: HostServices, conn: int, max_bytes: int,
                    timeout_ms: int) -> bytes | GuestErr:
            name = services.component.name
            found = self._lookup(name, conn)
            if found is None:
                return GuestErr("invalid-address", f"connection {conn} is not open")
            sock, address = found
            seconds = budget(timeout_ms)
            if seconds <= 0:
                return GuestErr("timeout", f"no time left in this call to receive from {address}")
            try:
                sock.settimeout(seconds)
                data = sock.recv(max(1, min(max_bytes, MAX_RECEIVE_BYTES)))
            except TimeoutError:
                return GuestErr("timeout", f"nothing from {address} within {seconds:.3f} s")
            except OSError as exc:
                return GuestErr("io-error", f"receiving from {address} failed: {exc.strerror or exc}")
            decision = check(name, "network.connect", address, amount=len(data))
            if not decision.allowed:
                return _refused("network.connect", address, decision)
            return data

        def close(services: HostServices, conn: int) -> None:
            found = self._open.get(services.component.name, {}).pop(conn, None)
            if found is not None:
                found[0].close()

        return {"connect": wit_result(connect), "send": wit_result(send),
                "receive": wit_result(receive), "close": close}
