"""Host side of ``airssys:ext-network/network@1.0.0``: TCP per manifest grant.

``connect`` is checked against ``network.connect`` (``host:port`` as the guest wrote it; the
provider matches hosts exactly, ``*.domain`` as proper subdomains only). ``listen`` is checked
against ``network.bind``; port 0 (the OS picks a free port) matches only a ``host:*`` grant, so
an exact-port grant never lets a guest listen somewhere it was not given.

The checked address is the one used. A granted *name* is resolved once, in the blocking step
(``HostConfig.resolver``, default :func:`system_resolver`; its own small thread pool, so the
wait is bounded by the guest's deadline even if the resolver hangs), and every address it
resolved to goes to ``SecurityProvider.check_resolved``, which refuses loopback, private,
link-local (cloud metadata), CGNAT, ULA, multicast and other non-global addresses unless a
grant names them literally; the host then connects to (or binds) exactly the address it
answered — the first allowed one in resolver order — and never resolves the name again, so a
rebinding DNS server cannot swap in another address between check and connect. An IP literal
is never passed to the resolver. What was actually connected or bound (``ip:port``) is audited
by ``SecurityProvider.performed``. A name that resolves to nothing, a resolver that raises,
hangs or answers garbage, and addresses that are all refused each give the guest its
network-error (``invalid-address``; ``io-error`` or ``timeout``; ``permission-denied``) and
one deny line; the host keeps serving. A provider that allows without naming an address is
treated as a refusal (fail closed).

An accepted connection is used like an outbound one and metered under ``network.bind`` on the listening
address. Every ``send`` and ``receive`` is checked again with the byte count, which is how the
bandwidth quota (``[quota] network_bytes_per_second``) is charged and audited; over it, the
guest gets ``resource-exhausted``. All blocking is bounded by the smaller of the guest's own
timeout and the deadline of the guest call in progress. Sockets belong to the component's
current instance: the host closes them when it stops or restarts (``release``).
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from airssys_wasm.host.config import Resolver
from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
from airssys_wasm.host.policy import (
    RESOURCE_EXHAUSTED,
    Decision,
    SecurityProvider,
    performed_hook,
)
from airssys_wasm.runtime import HostServices

__all__ = ["INTERFACE", "MAX_CONNECTIONS", "MAX_LISTENERS", "MAX_RECEIVE_BYTES", "RESOLVER_WORKERS",
           "Connections", "system_resolver"]

INTERFACE = "airssys:ext-network/network@1.0.0"
#: Most bytes one receive returns, whatever the guest asks for.
MAX_RECEIVE_BYTES = 1 << 20
#: Most open connections (outbound and accepted) per component.
MAX_CONNECTIONS = 64
#: Most listening sockets per component.
MAX_LISTENERS = 8
#: Longest backlog a guest may ask for.
MAX_BACKLOG = 128
#: Threads that run the resolver. Few on purpose: a resolver that hangs ties up at most these,
#: later look-ups queue and end at their guest's deadline, and the I/O pool stays free.
RESOLVER_WORKERS = 4
#: Most addresses taken from one resolver answer.
MAX_RESOLVED = 32
# gaierror codes that mean "this name has no address" (anything else is a resolver failure).
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def system_resolver(host: str, port: int) -> list[str]:
    """The default ``HostConfig.resolver``: ``socket.getaddrinfo`` for TCP, IPv4 and IPv6 in
    the order the system prefers (RFC 6724 / gai.conf), duplicates dropped."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal_ip(host: str) -> str | None:
    """``host`` as canonical IP text when it is an IP literal (IPv4-mapped IPv6 as IPv4), else
    None (a name, to be resolved)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped if mapped is not None else address)


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class _Resolved(NamedTuple):
    """A resolver's answer as the check needs it: addresses, or why there are none and which
    network-error case the guest gets for that."""

    addresses: list[str]
    failure: str | None = None
    case: str = "invalid-address"


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
    """Open sockets per component; ``functions()`` is the interface, ``release`` closes them.

    ``resolver`` turns granted names into addresses (``HostConfig.resolver``; None = the
    system's :func:`system_resolver`)."""

    def __init__(self, security: SecurityProvider, resolver: Resolver | None = None) -> None:
        self._check = security.check
        self._check_resolved = security.check_resolved
        self._performed = performed_hook(security)
        self._resolver: Resolver = resolver if resolver is not None else system_resolver
        self._resolver_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
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
        with self._pool_lock:
            pool, self._resolver_pool = self._resolver_pool, None
        if pool is not None:  # a hung resolver thread is left to finish on its own
            pool.shutdown(wait=False, cancel_futures=True)

    # -- resolution and the address check (in the blocking step) --------------------------------
    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._pool_lock:
            if self._resolver_pool is None:
                self._resolver_pool = concurrent.futures.ThreadPoolExecutor(
                    RESOLVER_WORKERS, thread_name_prefix="airssys-resolve")
            return self._resolver_pool

    def _resolve(self, host: str, port: int, seconds: float) -> _Resolved:
        """Ask the resolver about ``host``, waiting at most ``seconds``. Never raises: whatever
        the resolver does (raise, hang, answer garbage) becomes a failure for the guest."""
        future = self._pool().submit(self._resolver, host, port)
        try:
            answer = future.result(timeout=seconds)
        except TimeoutError:
            future.cancel()
            return _Resolved([], f"no answer within {seconds:.3f} s", "timeout")
        except socket.gaierror as exc:
            if exc.errno in _NO_SUCH_NAME:
                return _Resolved([], f"{host} does not resolve ({exc.strerror or exc})")
            return _Resolved([], f"the resolver failed: {exc.strerror or exc}", "io-error")
        except Exception as exc:  # an embedder's resolver with a bug must not take the host down
            return _Resolved([], f"the resolver raised {type(exc).__name__}: {exc}", "io-error")
        if isinstance(answer, (str, bytes)) or not isinstance(answer, Sequence) or \
                not all(isinstance(a, str) for a in answer):
            return _Resolved([], f"the resolver returned {answer!r:.80}, not a list of IP address "
                             "strings", "io-error")
        addresses = list(answer[:MAX_RESOLVED])
        bad = next((a for a in addresses if _literal_ip(a) is None), None)
        if bad is not None:
            return _Resolved([], f"the resolver returned {bad!r:.80}, which is not an IP address",
                             "io-error")
        return _Resolved(addresses)

    def _address(self, name: str, kind: str, address: str, host: str, port: int,
                 seconds: float) -> str | GuestErr:
        """The one IP address this connect/listen may use: resolved (unless ``host`` is an IP
        literal) and checked by the provider; or the guest's error."""
        literal = _literal_ip(host)
        resolved = _Resolved([literal]) if literal is not None else \
            self._resolve(host, port, seconds)
        decision = self._check_resolved(name, kind, address, resolved.addresses,
                                        failure=resolved.failure)
        if decision.allowed and decision.resolved_address is not None:
            return decision.resolved_address
        if resolved.failure is not None or not resolved.addresses:
            return GuestErr(resolved.case, f"{decision.reason}; check the name, or the resolver "
                            "(HostConfig.resolver)")
        if decision.error == RESOURCE_EXHAUSTED:
            return _refused(kind, address, decision)
        return GuestErr("permission-denied", f"{kind} {address!r} denied: {decision.reason}")

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
        ends = time.monotonic() + seconds
        host, port = parsed
        ip = self._address(name, "network.connect", address, host, port, seconds)
        if type(ip) is GuestErr:
            return ip
        assert isinstance(ip, str)
        seconds = ends - time.monotonic()
        if seconds <= 0:
            return GuestErr("timeout", f"resolving {address} used up the time to connect")
        peer = _endpoint(ip, port)
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(seconds)
            sock.connect((ip, port))  # the checked address itself: no second look-up
        except TimeoutError:
            sock.close()
            return GuestErr("timeout", f"connecting to {address} ({peer}) took longer than "
                            f"{seconds:.3f} s")
        except ConnectionRefusedError:
            sock.close()
            return GuestErr("connection-refused", f"{address} ({peer}) refused the connection")
        except OSError as exc:
            sock.close()
            return GuestErr("io-error", f"connecting to {address} ({peer}) failed: "
                            f"{exc.strerror or exc}")
        self._performed(name, "network.connect", address, peer)
        return self._add(name, _Socket(sock, address, "network.connect"))

    def _listen(self, name: str, address: str, parsed: tuple[str, int],
                backlog: int) -> int | GuestErr:
        host, port = parsed
        seconds = budget()
        if seconds <= 0:
            return GuestErr("timeout", f"no time left in this call to listen on {address}")
        ip = self._address(name, "network.bind", address, host, port, seconds)
        if type(ip) is GuestErr:
            return ip
        assert isinstance(ip, str)
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        try:
            sock = socket.create_server((ip, port), family=family,
                                        backlog=max(1, min(backlog, MAX_BACKLOG)))
        except OSError as exc:
            return GuestErr("io-error", f"cannot listen on {address} ({_endpoint(ip, port)}): "
                            f"{exc.strerror or exc}")
        self._performed(name, "network.bind", address, _endpoint(ip, sock.getsockname()[1]))
        listeners = self._listening.setdefault(name, {})
        handle = self._next_listener
        self._next_listener = self._next_listener % 0xFFFF_FFFF + 1  # u32, never 0
        listeners[handle] = _Socket(sock, address, "network.bind")
        return handle

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
            if len(self._listening.get(name, ())) >= MAX_LISTENERS:
                return GuestErr("resource-exhausted", f"{name} already has {MAX_LISTENERS} "
                                "listeners; close some first")
            if _literal_ip(parsed[0]) is not None:  # nothing to resolve: bind right here
                return self._listen(name, address, parsed, backlog)
            return blocking(f"listen on {address}", self._listen, name, address, parsed, backlog)

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
                "listen": suspending(wit_result(listen)),
                "accept": suspending(wit_result(accept)),
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
