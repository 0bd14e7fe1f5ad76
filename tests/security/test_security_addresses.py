"""The checked address is the one connected: a granted *name* never reaches internal addresses.

End to end, real `ext-net` guests through the public Host API, loopback only: an injected
resolver (``HostConfig(resolver=...)``, no DNS) makes a granted name resolve to each
deny-by-default range; counting listeners on 127.0.0.1 / 127.0.0.2 / ::1 and a guard on
``socket.connect`` (it refuses and records anything that is not loopback, so a regression can
never send a packet off this machine) prove what was — and was not — connected. Below that:
the range classifier against a reference built from the ``ipaddress`` module's own
properties (hypothesis), CIDR grants in the manifest, and ``check_resolved`` itself.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.host.ext_network import system_resolver
from airssys_wasm.security import (
    AuditLog,
    Capabilities,
    CapabilityKind,
    MemoryAuditSink,
    PermissionPolicy,
    load_manifest,
)
from airssys_wasm.security import addresses as addr_mod
from airssys_wasm.security.addresses import canonical_ip, special_range

from security_helpers import err, manifest, ok
from airssys_wasm.benchmarks import guests

EXT_NET = guests.path("ext-net")
NET_DENIED, NET_TIMEOUT, NET_INVALID, NET_IO = 0, 2, 3, 4
NAME = "svc.example.com"


# --- fixtures: a counting loopback listener, a scripted resolver, a connect guard ---------------

class Listener:
    """Accepts on one loopback address, counts connections, echoes one read with a prefix
    naming the address (so a reply says which listener the guest reached)."""

    def __init__(self, ip: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.sock = socket.create_server((ip, port), family=family)
        self.sock.settimeout(0.05)
        self.ip, self.port = ip, self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        ends = time.monotonic() + 15.0
        with self.sock:
            while not self._stop.is_set() and time.monotonic() < ends:
                try:
                    conn, _ = self.sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self.accepted += 1
                with conn:
                    conn.settimeout(2.0)
                    try:
                        conn.sendall(self.ip.encode() + b":" + conn.recv(4096))
                    except OSError:
                        pass

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2.0)


class Resolver:
    """``HostConfig.resolver`` from a table; records every question it was asked."""

    def __init__(self, table: dict[str, object] | None = None) -> None:
        self.table: dict[str, object] = dict(table or {})
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        answer = self.table.get(host, [])
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer()  # type: ignore[no-any-return]
        return answer  # type: ignore[return-value]


class ConnectGuard:
    """Every ``socket.connect`` of the process while installed: loopback ones go through,
    anything else is refused (ConnectionRefusedError) and recorded in ``outside``."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.outside: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = socket.socket.connect
        guard = self

        def connect(sock: socket.socket, address: object) -> None:
            host = address[0] if isinstance(address, tuple) else str(address)
            guard.attempts.append(str(host))
            try:
                loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
            except ValueError:
                loopback = False  # a name: the host must never connect to one
            if not loopback:
                guard.outside.append(str(host))
                raise ConnectionRefusedError(f"test guard: {host} is not loopback")
            real(sock, address)  # type: ignore[arg-type]

        monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> ConnectGuard:
    g = ConnectGuard()
    g.install(monkeypatch)
    return g


@pytest.fixture
def resolver() -> Resolver:
    return Resolver()


@pytest.fixture
def listener() -> Iterator[Listener]:
    srv = Listener()
    yield srv
    srv.close()


@pytest.fixture
async def host(engine: aw.Engine, audit: MemoryAuditSink, resolver: Resolver,
               guard: ConnectGuard) -> AsyncIterator[Host]:
    async with Host(HostConfig(health=None, audit=audit, resolver=resolver), engine=engine) as h:
        yield h


def connect_grant(*patterns: str, kind: str = "connect") -> str:
    return f"[capabilities.network]\n{kind} = [" + ", ".join(f'"{p}"' for p in patterns) + "]"


def roundtrip(address: str, data: bytes = b"hi") -> bytes:
    return b"x" + bytes([len(address)]) + address.encode() + data


def listen_op(address: str) -> bytes:
    return b"l" + bytes([len(address)]) + address.encode()


def lines(audit: MemoryAuditSink, kind: str = "network.connect") -> list[tuple[str, str | None]]:
    return [(r.decision, r.performed) for r in audit.records if r.kind == kind]


# --- end to end: a granted name resolving into a denied range is refused -------------------------

DENIED = [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("169.254.169.254", "cloud metadata"), ("169.254.7.7", "link-local"),
    ("fe80::1", "link-local"),
    ("10.1.2.3", "10.0.0.0/8"), ("172.16.0.1", "172.16.0.0/12"), ("172.31.255.254", "172.16.0.0/12"),
    ("192.168.0.10", "192.168.0.0/16"), ("100.64.0.1", "CGNAT"), ("100.100.100.200", "CGNAT"),
    ("fd00::1", "unique local"), ("fc00::7", "unique local"), ("fd00:ec2::254", "unique local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("255.255.255.255", "broadcast"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "10.0.0.0/8"),
    ("::ffff:169.254.169.254", "cloud metadata"), ("::127.0.0.1", "IPv4-compatible"),
    ("64:ff9b::7f00:1", "NAT64"), ("64:ff9b::a9fe:a9fe", "NAT64"), ("2002:c0a8:1::1", "6to4"),
]


@pytest.mark.parametrize(("resolved", "label"), DENIED)
async def test_a_granted_name_resolving_into_a_denied_range_is_refused(
        host, audit, resolver, guard, listener, resolved: str, label: str) -> None:
    target = f"{NAME}:{listener.port}"
    resolver.table[NAME] = [resolved]
    await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(f"*.example.com:{listener.port}")))
    case, text = err(await host.request("net", roundtrip(target)))
    assert case == NET_DENIED and label in text and resolved.split("%")[0] in text, text
    assert resolver.calls == [(NAME, listener.port)]
    assert listener.accepted == 0 and guard.attempts == []  # nothing was even tried
    assert lines(audit) == [("allow", None), ("deny", None)]  # the name, then why it was refused
    refusal = audit.records[-1]
    assert refusal.target == target and label in refusal.reason


async def test_a_v6_loopback_listener_is_not_reached_through_a_name(host, audit, resolver,
                                                                    guard) -> None:
    v6 = Listener("::1")
    try:
        resolver.table[NAME] = ["::1", "::ffff:127.0.0.1"]
        await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(f"{NAME}:{v6.port}")))
        case, text = err(await host.request("net", roundtrip(f"{NAME}:{v6.port}")))
        assert case == NET_DENIED and "::1 (loopback" in text and "127.0.0.1 (loopback" in text
        assert v6.accepted == 0 and guard.attempts == []
    finally:
        v6.close()


async def test_a_literal_grant_connects_and_the_done_line_names_the_address(
        host, audit, resolver, guard, listener) -> None:
    target = f"127.0.0.1:{listener.port}"
    await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(target)))
    assert ok(await host.request("net", roundtrip(target, b"yo"))) == b"127.0.0.1:yo"
    assert listener.accepted == 1 and guard.attempts == ["127.0.0.1"]
    assert resolver.calls == []  # an IP literal is never handed to the resolver
    assert lines(audit)[:2] == [("allow", None), ("done", target)]


async def test_a_literal_v6_grant_and_the_mapped_form_of_a_v4_grant(host, audit, guard,
                                                                   listener) -> None:
    v6 = Listener("::1")
    try:
        await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(
            f"[::1]:{v6.port}", f"127.0.0.1:{listener.port}")))
        assert ok(await host.request("net", roundtrip(f"[::1]:{v6.port}"))) == b"::1:hi"
        # the mapped form is the IPv4 address: checked and connected as 127.0.0.1
        mapped = f"[::ffff:127.0.0.1]:{listener.port}"
        assert ok(await host.request("net", roundtrip(mapped))) == b"127.0.0.1:hi"
        assert [p for d, p in lines(audit) if d == "done"] == [f"[::1]:{v6.port}",
                                                              f"127.0.0.1:{listener.port}"]
        assert guard.attempts == ["::1", "127.0.0.1"]
    finally:
        v6.close()


async def test_a_name_with_a_literal_grant_for_its_address_connects_to_it(
        host, audit, resolver, guard, listener) -> None:
    resolver.table[NAME] = ["127.0.0.1"]
    await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(
        f"{NAME}:{listener.port}", f"127.0.0.1:{listener.port}")))
    assert ok(await host.request("net", roundtrip(f"{NAME}:{listener.port}"))) == b"127.0.0.1:hi"
    assert lines(audit)[:2] == [("allow", None), ("done", f"127.0.0.1:{listener.port}")]


async def test_a_cidr_grant_covers_the_addresses_of_a_range(host, audit, resolver, guard,
                                                            listener) -> None:
    resolver.table[NAME] = ["127.0.0.1"]
    await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(
        f"{NAME}:{listener.port}", f"127.0.0.0/8:{listener.port}")))
    assert ok(await host.request("net", roundtrip(f"{NAME}:{listener.port}"))) == b"127.0.0.1:hi"
    # the range names one port only
    case, _ = err(await host.request("net", roundtrip(f"127.0.0.1:{listener.port + 1}")))
    assert case == NET_DENIED


def twin_listeners() -> tuple[Listener, Listener]:
    """Listeners on 127.0.0.1 and 127.0.0.2 with the same port (a name resolving to both)."""
    for _ in range(20):
        second = Listener("127.0.0.2")
        try:
            return Listener("127.0.0.1", second.port), second
        except OSError:  # that port is taken on 127.0.0.1: try another
            second.close()
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


async def test_of_denied_and_allowed_addresses_only_the_allowed_one_is_used(
        host, audit, resolver, guard) -> None:
    first, second = twin_listeners()
    try:
        port = first.port
        # resolver order: a denied private address, loopback (denied: not granted literally),
        # the granted alias 127.0.0.2, then another granted one that must not be used
        resolver.table[NAME] = ["10.0.0.7", "127.0.0.1", "127.0.0.2", "127.0.0.3"]
        await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(
            f"{NAME}:{port}", f"127.0.0.2:{port}", f"127.0.0.3:{port}")))
        assert ok(await host.request("net", roundtrip(f"{NAME}:{port}"))) == b"127.0.0.2:hi"
        assert (first.accepted, second.accepted) == (0, 1)
        assert guard.attempts == ["127.0.0.2"]  # exactly one connect, to the checked address
        assert lines(audit)[:2] == [("allow", None), ("done", f"127.0.0.2:{port}")]
        assert resolver.calls == [(NAME, port)]  # resolved once, never again
    finally:
        first.close()
        second.close()


async def test_public_addresses_pass_on_the_name_grant(host, audit, resolver, guard) -> None:
    """A global address is allowed by the name grant alone; the guard refuses the actual
    packet (nothing leaves this machine), so the guest sees connection-refused for it."""
    resolver.table[NAME] = ["192.168.1.1", "93.184.216.34"]
    await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(f"{NAME}:443")))
    case, text = err(await host.request("net", roundtrip(f"{NAME}:443")))
    assert case == 1 and "93.184.216.34:443" in text  # connection-refused, by the guard
    assert guard.outside == ["93.184.216.34"]  # the one address tried, and only it
    assert lines(audit) == [("allow", None)]  # not done: nothing was connected


async def test_an_ungranted_name_is_never_resolved(host, audit, resolver, guard) -> None:
    """Resolving a denied name would leak it to DNS (an exfiltration channel)."""
    resolver.table["b.example.com"] = ["127.0.0.1"]
    await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant("a.example.com:80")))
    case, _ = err(await host.request("net", roundtrip("b.example.com:80")))
    assert case == NET_DENIED and resolver.calls == [] and guard.attempts == []
    assert lines(audit) == [("deny", None)]


@pytest.mark.parametrize(("answer", "case", "words"), [
    ([], NET_INVALID, "resolved to no address"),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), NET_INVALID,
     "does not resolve"),
    (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), NET_IO,
     "resolver failed"),
    (RuntimeError("resolver bug"), NET_IO, "raised RuntimeError: resolver bug"),
    (["not-an-ip"], NET_IO, "not an IP address"),
    ("127.0.0.1", NET_IO, "not a list of IP address strings"),
    (lambda: [b"127.0.0.1"], NET_IO, "not a list of IP address strings"),
])
async def test_bad_resolver_answers_give_the_guest_its_error_and_one_deny_line(
        host, audit, resolver, guard, listener, answer: object, case: int, words: str) -> None:
    resolver.table[NAME] = answer
    await host.spawn("net", EXT_NET, manifest=manifest("net", connect_grant(
        f"{NAME}:{listener.port}", f"127.0.0.1:{listener.port}")))
    got, text = err(await host.request("net", roundtrip(f"{NAME}:{listener.port}")))
    assert got == case and words in text, text
    assert lines(audit) == [("allow", None), ("deny", None)]
    assert words in audit.records[-1].reason
    # the host keeps serving the same guest
    ok(await host.request("net", roundtrip(f"127.0.0.1:{listener.port}")))
    assert guard.attempts == ["127.0.0.1"] and listener.accepted == 1


async def test_a_hanging_resolver_costs_the_guest_its_deadline_not_the_host(
        host, audit, resolver, guard) -> None:
    release = threading.Event()
    resolver.table[NAME] = lambda: (release.wait(10.0), ["127.0.0.1"])[1]
    await host.spawn("net", EXT_NET, manifest=manifest(
        "net", connect_grant(f"{NAME}:80"), limits="timeout_ms = 200"))
    started = time.monotonic()
    try:
        try:
            case, text = err(await host.request("net", roundtrip(f"{NAME}:80"), timeout=5.0))
            assert case == NET_TIMEOUT and "no answer within" in text, text
        except aw.TrapError as trap:  # or the epoch trap as the guest resumes at the deadline
            assert trap.kind is aw.TrapKind.TIMEOUT
        assert time.monotonic() - started < 2.0
        assert guard.attempts == []
    finally:
        release.set()


# --- bind / listen -----------------------------------------------------------------------------

async def test_listen_on_a_name_checks_the_resolved_address(host, audit, resolver, guard) -> None:
    resolver.table["lo.example.com"] = ["127.0.0.1"]
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", connect_grant(
        "lo.example.com:*", kind="bind")))
    case, text = err(await host.request("srv", listen_op("lo.example.com:0")))
    assert case == NET_DENIED and "loopback" in text
    assert lines(audit, "network.bind") == [("allow", None), ("deny", None)]


async def test_listen_on_a_name_with_a_literal_grant_binds_exactly_that_address(
        host, audit, resolver, guard) -> None:
    resolver.table["lo.example.com"] = ["10.0.0.1", "127.0.0.2"]
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", connect_grant(
        "lo.example.com:*", "127.0.0.2:*", kind="bind")))
    assert struct.unpack("<I", ok(await host.request("srv", listen_op("lo.example.com:0"))))[0] > 0
    done = [p for d, p in lines(audit, "network.bind") if d == "done"]
    assert len(done) == 1 and done[0].startswith("127.0.0.2:")
    port = int(done[0].rpartition(":")[2])
    assert port > 0  # the port the OS picked, not the 0 the guest asked for
    socket.create_connection(("127.0.0.2", port), timeout=2.0).close()  # really listening there
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2.0).close()


async def test_listen_on_a_name_resolving_to_the_unspecified_address_is_refused(
        host, audit, resolver) -> None:
    """Binding 0.0.0.0 would expose the guest's service on every interface of the machine."""
    resolver.table["any.example.com"] = ["0.0.0.0"]
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", connect_grant(
        "any.example.com:*", kind="bind")))
    case, text = err(await host.request("srv", listen_op("any.example.com:0")))
    assert case == NET_DENIED and "unspecified" in text
    assert [p for d, p in lines(audit, "network.bind") if d == "done"] == []


async def test_a_cidr_bind_grant_covers_its_range_only(host, audit) -> None:
    await host.spawn("srv", EXT_NET, manifest=manifest("srv", connect_grant(
        "127.0.0.0/8:*", kind="bind")))
    case, _ = err(await host.request("srv", listen_op("0.0.0.0:0")))
    assert case == NET_DENIED  # 0.0.0.0 is not in 127.0.0.0/8
    listener = ok(await host.request("srv", listen_op("127.0.0.5:0")))
    assert struct.unpack("<I", listener)[0] > 0
    assert [p.startswith("127.0.0.5:") for d, p in lines(audit, "network.bind") if d == "done"] \
        == [True]


# --- the classifier against ipaddress ----------------------------------------------------------

_V4_EXTRA = [ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("192.0.0.0/24")]
_V6_EXTRA = [ipaddress.ip_network(n) for n in ("2001::/23", "2001:db8::/32", "3fff::/20")]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def reference_denied(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Straight from ``ipaddress``'s properties (plus the few blocks some Python versions do not
    flag yet): not globally reachable, or multicast; embedded IPv4 judged as IPv4."""
    if isinstance(a, ipaddress.IPv4Address):
        return (a.is_private or a.is_loopback or a.is_link_local or a.is_multicast
                or a.is_reserved or a.is_unspecified or any(a in n for n in _V4_EXTRA))
    if a.ipv4_mapped is not None:
        return reference_denied(a.ipv4_mapped)
    if a in _NAT64:
        return reference_denied(ipaddress.IPv4Address(int(a) & 0xFFFF_FFFF))
    if a.sixtofour is not None:
        return reference_denied(a.sixtofour)
    return (a.is_private or a.is_loopback or a.is_link_local or a.is_site_local
            or a.is_multicast or a.is_reserved or a.is_unspecified
            or any(a in n for n in _V6_EXTRA))


def _edges(starts: list[int], ends: list[int]) -> list[int]:
    return sorted({v for s, e in zip(starts, ends, strict=True)
                   for v in (s - 1, s, s + 1, e - 1, e, e + 1)})


V4 = st.ip_addresses(v=4) | st.sampled_from(
    [v for v in _edges(addr_mod._V4_STARTS, addr_mod._V4_ENDS) if 0 <= v < 2**32]
).map(ipaddress.IPv4Address)
V6_EDGES = st.sampled_from(
    [v for v in _edges(addr_mod._V6_STARTS, addr_mod._V6_ENDS) if 0 <= v < 2**128]
).map(ipaddress.IPv6Address)


def _embed(v4: ipaddress.IPv4Address, form: str) -> ipaddress.IPv6Address:
    n = int(v4)
    return ipaddress.IPv6Address({"mapped": (0xFFFF << 32) | n, "compat": n,
                                  "nat64": (0x64FF9B << 96) | n, "6to4": (0x2002 << 112) | (n << 80)
                                  }[form])


V6 = st.ip_addresses(v=6) | V6_EDGES | st.builds(
    _embed, V4, st.sampled_from(["mapped", "compat", "nat64", "6to4"]))


@settings(max_examples=3000, deadline=None)
@given(V4 | V6)
def test_the_classifier_agrees_with_ipaddress(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert (special_range(a) is not None) is reference_denied(a), (str(a), special_range(a))


@settings(max_examples=500, deadline=None)
@given(V4)
def test_every_embedded_form_of_a_denied_v4_address_is_denied(v4: ipaddress.IPv4Address) -> None:
    for form in ("mapped", "compat", "nat64", "6to4"):
        v6 = _embed(v4, form)
        if special_range(v4) is not None:
            assert special_range(v6) is not None, (form, str(v6))
    assert canonical_ip(str(_embed(v4, "mapped"))) == v4  # mapped means the IPv4 address


@pytest.mark.parametrize(("text", "label"), [
    ("127.0.0.1", "loopback (127.0.0.0/8)"), ("::1", "loopback (::1)"),
    ("169.254.169.254", "link-local cloud metadata (169.254.169.254)"),
    ("169.254.0.1", "link-local (169.254.0.0/16)"), ("fe80::1", "link-local (fe80::/10)"),
    ("10.255.255.255", "private (10.0.0.0/8)"), ("172.16.0.0", "private (172.16.0.0/12)"),
    ("192.168.255.255", "private (192.168.0.0/16)"),
    ("100.127.255.255", "shared address space/CGNAT (100.64.0.0/10)"),
    ("fdff::1", "unique local (fc00::/7)"), ("0.0.0.0", "unspecified/this-network (0.0.0.0/8)"),
    ("::", "unspecified (::)"), ("239.255.255.250", "multicast (224.0.0.0/4)"),
    ("::ffff:192.168.0.1", "private (192.168.0.0/16) as IPv4-mapped IPv6"),
])
def test_denials_name_the_range(text: str, label: str) -> None:
    assert special_range(ipaddress.ip_address(text)) == label


@pytest.mark.parametrize("text", ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0",
                                  "172.15.255.255", "172.32.0.0", "169.253.255.255",
                                  "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::"])
def test_global_addresses_next_to_the_ranges_pass(text: str) -> None:
    assert special_range(ipaddress.ip_address(text)) is None


# --- CIDR grants in the manifest ---------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "words"), [
    ("10.0.0.1/8:443", "write the network address: '10.0.0.0/8'"),
    ("10.0.0.0/33:443", "prefix length after '/' must be a number 0..32"),
    ("10.0.0.0/:443", "prefix length"),
    ("0.0.0.0/0:*", "would grant every address"),
    ("example.com/8:443", "not an IPv4 address"),
    ("fd00::/8:443", "IPv6 addresses go in brackets"),
    ("[10.0.0.0/8]:443", "not an IPv6 address"),
    ("[fd00::1/8]:443", "write the network address: 'fd00::/8'"),
    ("[::ffff:10.0.0.0/104]:443", "IPv4 form"),
])
def test_bad_cidr_grants_are_manifest_errors_that_say_what_to_write(pattern: str, words: str) -> None:
    with pytest.raises(aw.ManifestError) as info:
        load_manifest(manifest("m", connect_grant(pattern)))
    assert "capabilities.network.connect[0]" in str(info.value) and words in str(info.value)


def test_cidr_grants_match_ip_targets_and_addresses_never_names() -> None:
    caps = Capabilities({CapabilityKind.NETWORK_CONNECT: ("10.0.0.0/8:5432", "[fd00::/16]:*")})
    assert caps.allows("network.connect", "10.200.0.1:5432")
    assert caps.allows("network.connect", "[::ffff:10.0.0.1]:5432")
    assert not caps.allows("network.connect", "10.0.0.1:5433")
    assert not caps.allows("network.connect", "11.0.0.1:5432")
    assert caps.allows("network.connect", "[fd00::9]:1")
    assert not caps.allows("network.connect", "[fd01::9]:1")
    assert not caps.allows("network.connect", "db.internal:5432")
    assert caps.allows_address("network.connect", ipaddress.ip_address("10.9.9.9"), 5432)
    assert not caps.allows_address("network.bind", ipaddress.ip_address("10.9.9.9"), 5432)
    with pytest.raises(ValueError, match="not a network capability"):
        caps.allows_address("storage.read", ipaddress.ip_address("10.9.9.9"), 1)


# --- check_resolved itself ---------------------------------------------------------------------

@pytest.fixture
def policy() -> tuple[PermissionPolicy, MemoryAuditSink]:
    sink = MemoryAuditSink()
    p = PermissionPolicy(audit=AuditLog([sink]))
    p.register("c", load_manifest(manifest("c", connect_grant(
        "*.example.com:443", "127.0.0.2:443", "10.1.0.0/16:443"))))
    return p, sink


def test_check_resolved_takes_the_first_allowed_in_resolver_order(policy) -> None:
    p, sink = policy
    got = p.check_resolved("c", "network.connect", "a.example.com:443",
                           ["10.0.0.1", "::ffff:10.1.2.3", "127.0.0.2", "93.184.216.34"])
    assert got.allowed and got.resolved_address == "10.1.2.3"  # mapped -> IPv4, in the range
    got = p.check_resolved("c", "network.connect", "a.example.com:443", ["2606:4700::1", "127.0.0.2"])
    assert got.allowed and got.resolved_address == "2606:4700::1"
    assert sink.records == []  # allows write nothing: the host's done line follows


def test_check_resolved_denials_are_one_line_that_says_why(policy) -> None:
    p, sink = policy
    many = ["127.0.0.1", "169.254.169.254", "10.0.0.1", "fd00::1", "::1", "224.0.0.1"]
    got = p.check_resolved("c", "network.connect", "a.example.com:443", many)
    assert not got.allowed and got.error == "permission-denied" and got.resolved_address is None
    assert "127.0.0.1 (loopback" in got.reason and "cloud metadata" in got.reason
    assert "and 2 more" in got.reason and "grant the address itself" in got.reason
    assert [(r.decision, r.target) for r in sink.records] == [("deny", "a.example.com:443")]
    wrong_port = p.check_resolved("c", "network.connect", "a.example.com:80", ["127.0.0.2"])
    assert not wrong_port.allowed  # the literal grant names port 443 only
    ungranted = p.check_resolved("c", "network.connect", "evil.org:443", ["93.184.216.34"])
    assert not ungranted.allowed and "no capabilities.network.connect grant" in ungranted.reason
    unregistered = p.check_resolved("nobody", "network.connect", "a.example.com:443", ["8.8.8.8"])
    assert not unregistered.allowed
    failed = p.check_resolved("c", "network.connect", "a.example.com:443", [], failure="boom")
    assert not failed.allowed and "resolving 'a.example.com:443' failed: boom" in failed.reason
    assert len(sink.records) == 5


def test_check_resolved_rejects_programming_errors(policy) -> None:
    p, _ = policy
    with pytest.raises(ValueError, match="network.connect / network.bind"):
        p.check_resolved("c", "filesystem.read", "/x", ["127.0.0.1"])
    with pytest.raises(TypeError, match="sequence of IP address strings"):
        p.check_resolved("c", "network.connect", "a.example.com:443", "127.0.0.1")


def test_allow_all_uses_the_first_address_but_still_audits_failures() -> None:
    sink = MemoryAuditSink()
    p = aw.security.AllowAllPolicy(audit=AuditLog([sink]))
    p.register("t")
    assert p.check_resolved("t", "network.connect", "x.test:1", ["junk", "127.0.0.1"]) \
        .resolved_address == "127.0.0.1"
    assert not p.check_resolved("t", "network.connect", "x.test:1", []).allowed
    assert [r.decision for r in sink.records] == ["deny"]


# --- configuration and the default resolver ----------------------------------------------------

def test_the_resolver_must_be_callable() -> None:
    with pytest.raises(aw.ConfigError, match="HostConfig.resolver must be a callable"):
        HostConfig(resolver="8.8.8.8")  # type: ignore[arg-type]


def test_the_system_resolver_answers_ip_literals_without_dns() -> None:
    assert system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
    assert system_resolver("::1", 80) == ["::1"]
    resolve: Callable[[str, int], Sequence[str]] = system_resolver  # it fits HostConfig.resolver
    assert HostConfig(resolver=resolve).resolver is system_resolver
