"""Host side of ``airssys:ext-network/network@1.0.0``: TCP per manifest grant.

``connect`` is checked against ``network.connect`` (``host:port`` as the guest wrote it; the
provider matches hosts exactly, ``*.domain`` as proper subdomains only). ``listen`` is checked
against ``network.bind``; port 0 (the OS picks a free port) matches only a ``host:*`` grant, so
an exact-port grant never lets a guest listen somewhere it was not given. An accepted
connection is used like an outbound one and metered under ``network.bind`` on the listening
address. Every ``send`` and ``receive`` is checked again with the byte count, which is how the
bandwidth quota (``[quota] network_bytes_per_second``) is charged and audited; over it, the
guest gets ``resource-exhausted``. All blocking is bounded by the smaller of the guest's own
timeout and the deadline of the guest call in progress. Sockets belong to the component's
current instance: the host closes them when it stops or restarts (``release``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, NamedTuple

from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
from airssys_wasm.host.policy import RESOURCE_EXHAUSTED, Decision, SecurityProvider
from airssys_wasm.runtime import HostServices

__all__ = ["INTERFACE", "MAX_CONNECTIONS", "MAX_LISTENERS", "MAX_RECEIVE_BYTES", "Connections"]

INTERFACE = "airssys:ext-network/network@1.0.0"
#: Most bytes one receive returns, whatever the guest asks for.
MAX_RECEIVE_BYTES = 1 << 20
#: Most open connections (outbound and accepted) per component.
MAX_CONNECTIONS = 64
#: Most listening sockets per component.
MAX_LISTENERS = 8
#: Longest backlog a guest may ask for.
MAX_BACKLOG = 128


def _refused(kind: str, target: str, decision: Decision) -> GuestErr:
    if decision.error == RESOURCE_EXHAUSTED:
        return GuestErr("resource-exhausted", f"{decision.reason}; transfer less or raise "
                        "[quota] network_bytes_per_second")
    return GuestErr("permission-denied", f"{kind} {target!r} denied: {decision.reason}; grant it in "
                f"the component's Component.toml [capabilities] {kind}")


def _split(address: str, *, allow_port_zero: bool = False) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    if not (0 if allow_port_zero else 1) <= int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Socket(NamedTuple):
    sock: socket.socket
    #: The address it was granted under, and the kind its traffic is metered as.
    address: str
    kind: str


class Connections:
    """Open sockets per component; ``functions()`` is the interface, ``release`` closes them."""

    def __init__(self, security: SecurityProvider) -> None:
        self._check = security.check
        self._open: dict[str, dict[int, _Socket]] = {}
        self._listening: dict[str, dict[int, _Socket]] = {}
        self._next = 1
        self._next_listener = 1

    def release(self, component: str) -> None:
        for table in (self._open, self._listening):
            for entry in table.pop(component, {}).values():
                entry.sock.close()

    def close_all(self) -> None:
        for component in {*self._open, *self._listening}:
            self.release(component)

    def _lookup(self, component: str, conn: int) -> _Socket | None:
        return self._open.get(component, {}).get(conn)

    def _add(self, component: str, entry: _Socket) -> int:
        handle = self._next
        self._next += 1
        self._open.setdefault(component, {})[handle] = entry
        return handle

    def _room(self, component: str) -> GuestErr | None:
        if len(self._open.get(component, ())) >= MAX_CONNECTIONS:
            return GuestErr("resource-exhausted", f"{component} already has {MAX_CONNECTIONS} open "
                            "connections; close some first")
        return None

    # -- the blocking steps (run in the I/O pool for a suspended guest; see ext_common) -------
    def _connect(self, name: str, address: str, parsed: tuple[str, int],
                 timeout_ms: int) -> int | GuestErr:
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
        return self._add(name, _Socket(sock, address, "network.connect"))

    def _receive(self, name: str, sock: socket.socket, address: str, kind: str, max_bytes: int,
                 timeout_ms: int) -> bytes | GuestErr:
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
        decision = self._check(name, kind, address, amount=len(data))
        if not decision.allowed:
            return _refused(kind, address, decision)
        return data

    def _accept(self, name: str, found: _Socket, timeout_ms: int) -> int | GuestErr:
        seconds = budget(timeout_ms)
        if seconds <= 0:
            return GuestErr("timeout", f"no time left in this call to accept on {found.address}")
        try:
            found.sock.settimeout(seconds)
            sock, _ = found.sock.accept()
        except TimeoutError:
            return GuestErr("timeout", f"no connection to {found.address} within {seconds:.3f} s")
        except OSError as exc:
            return GuestErr("io-error", f"accepting on {found.address} failed: "
                            f"{exc.strerror or exc}")
        return self._add(name, _Socket(sock, found.address, "network.bind"))

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
            full = self._room(name)
            if full is not None:
                return full
            return blocking(f"connect to {address}", self._connect, name, address, parsed,
                            timeout_ms)

        def send(services: HostServices, conn: int, data: bytes) -> int | GuestErr:
            name = services.component.name
            found = self._lookup(name, conn)
            if found is None:
                return GuestErr("invalid-address", f"connection {conn} is not open")
            sock, address, kind = found
            decision = check(name, kind, address, amount=len(data))
            if not decision.allowed:
                return _refused(kind, address, decision)
            return blocking(f"send to {address}", _send, sock, address, bytes(data))

        def receive(services: HostServices, conn: int, max_bytes: int,
                    timeout_ms: int) -> bytes | GuestErr:
            name = services.component.name
            found = self._lookup(name, conn)
            if found is None:
                return GuestErr("invalid-address", f"connection {conn} is not open")
            sock, address, kind = found
            return blocking(f"receive from {address}", self._receive, name, sock, address, kind,
                            max_bytes, timeout_ms)

        def close(services: HostServices, conn: int) -> None:
            found = self._open.get(services.component.name, {}).pop(conn, None)
            if found is not None:
                found.sock.close()

        def listen(services: HostServices, address: str, backlog: int) -> int | GuestErr:
            name = services.component.name
            decision = check(name, "network.bind", address)
            if not decision.allowed:
                return _refused("network.bind", address, decision)
            parsed = _split(address, allow_port_zero=True)
            if parsed is None:
                return GuestErr("invalid-address", f"{address!r} is not host:port ([v6]:port for IPv6)")
            listeners = self._listening.setdefault(name, {})
            if len(listeners) >= MAX_LISTENERS:
                return GuestErr("resource-exhausted", f"{name} already has {MAX_LISTENERS} "
                                "listeners; close some first")
            family = socket.AF_INET6 if ":" in parsed[0] else socket.AF_INET
            try:
                sock = socket.create_server(parsed, family=family,
                                            backlog=max(1, min(backlog, MAX_BACKLOG)))
            except OSError as exc:
                return GuestErr("io-error", f"cannot listen on {address}: {exc.strerror or exc}")
            handle = self._next_listener
            self._next_listener = self._next_listener % 0xFFFF_FFFF + 1  # u32, never 0
            listeners[handle] = _Socket(sock, address, "network.bind")
            return handle

        def accept(services: HostServices, listener: int, timeout_ms: int) -> int | GuestErr:
            name = services.component.name
            found = self._listening.get(name, {}).get(listener)
            if found is None:
                return GuestErr("invalid-address", f"listener {listener} is not open")
            full = self._room(name)
            if full is not None:
                return full
            return blocking(f"accept on {found.address}", self._accept, name, found, timeout_ms)

        def close_listener(services: HostServices, listener: int) -> None:
            found = self._listening.get(services.component.name, {}).pop(listener, None)
            if found is not None:
                found.sock.close()

        return {"connect": suspending(wit_result(connect)), "send": suspending(wit_result(send)),
                "receive": suspending(wit_result(receive)), "close": close,
                "listen": wit_result(listen), "accept": suspending(wit_result(accept)),
                "close-listener": close_listener}


def _send(sock: socket.socket, address: str, data: bytes) -> int | GuestErr:
    seconds = budget()
    if seconds <= 0:
        return GuestErr("timeout", f"no time left in this call to send to {address}")
    try:
        sock.settimeout(seconds)
        sock.sendall(data)
    except TimeoutError:
        return GuestErr("timeout", f"sending to {address} did not finish before the deadline")
    except OSError as exc:
        return GuestErr("io-error", f"sending to {address} failed: {exc.strerror or exc}")
    return len(data)
