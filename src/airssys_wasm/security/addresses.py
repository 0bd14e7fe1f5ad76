"""Which IP addresses a granted *name* may never lead to: the deny-by-default address ranges.

A grant such as ``network.connect = ["*.example.com:443"]`` is matched against the name the
guest wrote, but a socket connects to whatever that name resolves to — and a name's owner can
make it resolve to ``127.0.0.1``, ``10.0.0.7`` or ``169.254.169.254`` (DNS rebinding), which
would hand the guest the operator's internal services and the cloud metadata endpoint. So the
host resolves once, asks :func:`special_range` about every resulting address, and connects only
to an address that is either globally routable or named literally by a grant
(``"127.0.0.1:8080"``, ``"10.0.0.0/8:5432"``; see ``NetworkMatcher.allows_address``).

The set is explicit and does not depend on the Python version's ``ipaddress`` tables (which
changed between releases); the tests check it against those tables with hypothesis. It is
deliberately wider than "private": everything that is not global unicast is refused, because
an address that should not be reachable from the internet is exactly what a rebinding attack
aims at. Addresses that merely *embed* an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:aabb:ccdd::``) are
judged by the IPv4 address inside them, so ``::ffff:127.0.0.1`` is loopback.

Lookups are one ``bisect`` over precomputed integer intervals: a check costs about as much as
parsing the address, far below the connect it guards.
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections.abc import Iterable

__all__ = ["IPAddress", "canonical_ip", "format_endpoint", "special_range"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The cloud metadata address (AWS, GCP, Azure, OpenStack, ...); inside link-local, named apart
#: in denials because it is the classic target.
METADATA_V4 = int(ipaddress.IPv4Address("169.254.169.254"))

# IPv4: every range here is refused unless a grant names the address (or a range holding it).
_V4_RANGES = (
    ("0.0.0.0/8", "unspecified/this-network (0.0.0.0/8)"),
    ("10.0.0.0/8", "private (10.0.0.0/8)"),
    ("100.64.0.0/10", "shared address space/CGNAT (100.64.0.0/10)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
    ("172.16.0.0/12", "private (172.16.0.0/12)"),
    ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
    ("192.0.2.0/24", "documentation (192.0.2.0/24)"),
    ("192.168.0.0/16", "private (192.168.0.0/16)"),
    ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
    ("198.51.100.0/24", "documentation (198.51.100.0/24)"),
    ("203.0.113.0/24", "documentation (203.0.113.0/24)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("240.0.0.0/4", "reserved/broadcast (240.0.0.0/4)"),
)

# IPv6, after the IPv4-embedding forms are handled: everything outside global unicast
# 2000::/3, and the non-global blocks inside it, as inclusive (first, last) spans.
_V6_SPANS = (
    ("::", "::", "unspecified (::)"),
    ("::1", "::1", "loopback (::1)"),
    ("::2", "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (::/8)"),
    ("100::", "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (not global unicast)"),
    ("2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
     "IETF protocol assignments incl. Teredo (2001::/23)"),
    ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation (2001:db8::/32)"),
    ("3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation (3fff::/20)"),
    ("4000::", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (not global unicast)"),
    ("fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local (fc00::/7)"),
    ("fe00::", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (fe00::/9)"),
    ("fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local (fe80::/10)"),
    ("fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local, deprecated (fec0::/10)"),
    ("ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast (ff00::/8)"),
)


def _table(spans: Iterable[tuple[int, int, str]]) -> tuple[list[int], list[int], list[str]]:
    """Sorted, non-overlapping intervals for bisect (an overlap is a bug in the tables)."""
    starts: list[int] = []
    ends: list[int] = []
    labels: list[str] = []
    for start, end, label in sorted(spans):
        if starts and start <= ends[-1]:
            raise AssertionError(f"overlapping address ranges at {label}")
        starts.append(start)
        ends.append(end)
        labels.append(label)
    return starts, ends, labels


def _v4_spans() -> Iterable[tuple[int, int, str]]:
    for text, label in _V4_RANGES:
        net = ipaddress.IPv4Network(text)
        yield int(net.network_address), int(net.broadcast_address), label


def _v6_spans() -> Iterable[tuple[int, int, str]]:
    for first, last, label in _V6_SPANS:
        yield int(ipaddress.IPv6Address(first)), int(ipaddress.IPv6Address(last)), label


_V4_STARTS, _V4_ENDS, _V4_LABELS = _table(_v4_spans())
_V6_STARTS, _V6_ENDS, _V6_LABELS = _table(_v6_spans())

_NAT64 = 0x0064_FF9B << 96                  # 64:ff9b::/96 (well-known NAT64 prefix)
_LOW32 = 0xFFFF_FFFF
_SIXTOFOUR = 0x2002                         # 2002::/16, IPv4 in bits 80..111


def _v4_label(value: int) -> str | None:
    i = bisect.bisect_right(_V4_STARTS, value) - 1
    if i < 0 or value > _V4_ENDS[i]:
        return None
    if value == METADATA_V4:
        return "link-local cloud metadata (169.254.169.254)"
    return _V4_LABELS[i]


def special_range(address: IPAddress) -> str | None:
    """The deny-by-default range ``address`` lies in, as text for a denial ("loopback
    (127.0.0.0/8)"), or None when it is global unicast.

    IPv6 forms that carry an IPv4 address are judged by that address: IPv4-mapped and
    IPv4-compatible forms are refused when the IPv4 address is (``::ffff:10.0.0.1`` is
    private); IPv4-compatible addresses are refused in any case (deprecated, ``::/8``). NAT64
    (``64:ff9b::/96``) and 6to4 (``2002::/16``) addresses of a global IPv4 address are allowed —
    that is how IPv6-only networks reach the IPv4 internet — and refused when the IPv4 inside
    is special. The local-use NAT64 prefix ``64:ff9b:1::/48`` hides its IPv4 at a
    deployment-specific offset, so it is refused as part of ``::/8``.
    """
    value = int(address)
    if address.version == 4:
        return _v4_label(value)
    high = value >> 32
    if high == 0xFFFF or (high == 0 and value > 1):  # mapped, or compatible ::a.b.c.d
        inner = _v4_label(value & _LOW32)
        if inner is not None:
            form = "IPv4-mapped" if high == 0xFFFF else "IPv4-compatible"
            return f"{inner} as {form} IPv6"
        if high == 0xFFFF:
            return None
    elif value >> 32 == _NAT64 >> 32:
        inner = _v4_label(value & _LOW32)
        return None if inner is None else f"{inner} via NAT64 (64:ff9b::/96)"
    elif value >> 112 == _SIXTOFOUR:
        inner = _v4_label((value >> 80) & _LOW32)
        return None if inner is None else f"{inner} via 6to4 (2002::/16)"
    i = bisect.bisect_right(_V6_STARTS, value) - 1
    if i < 0 or value > _V6_ENDS[i]:
        return None
    return _V6_LABELS[i]


def canonical_ip(text: object) -> IPAddress | None:
    """``text`` as an IP address, or None when it is not one. IPv4-mapped IPv6 becomes the
    IPv4 address: that is where the kernel sends the packets, and how grants store it. A
    ``%zone`` suffix is kept (only link-local addresses carry one, and those are refused unless
    granted, which a grant cannot express with a zone).

    Parsed with ``inet_pton`` (as strict as ``ipaddress``: no ``127.1``, no leading zeros, and
    what the kernel will be given) — several times faster than ``ipaddress.ip_address``, which
    stays the path for zone ids.
    """
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):
        pass
    address: IPAddress
    try:
        address = ipaddress.IPv6Address(socket.inet_pton(socket.AF_INET6, text))
    except (OSError, ValueError):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def format_endpoint(address: IPAddress | str, port: int) -> str:
    """``ip:port`` with IPv6 in brackets: how addresses appear in audit lines and errors."""
    text = str(address)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"
