"""Network, storage and messaging grants; unknown kinds."""

from __future__ import annotations

import pytest

from airssys_wasm.security import Capabilities, CapabilityKind

CONNECT = CapabilityKind.NETWORK_CONNECT


def net(*patterns: str, kind: CapabilityKind = CONNECT) -> Capabilities:
    return Capabilities({kind: patterns})


# --- host names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("a.example.com:443", True),
        ("deep.a.example.com:443", True),
        ("A.Example.COM:443", True),
        ("a.example.com.:443", True),
        ("example.com:443", False),  # the parent itself is not a subdomain
        ("evilexample.com:443", False),  # the seed's bug
        ("a.evilexample.com:443", False),
        ("example.com.evil.org:443", False),
        ("a.example.com.evil.org:443", False),
        (".example.com:443", False),
        ("a..example.com:443", False),
        ("a.example.com:80", False),  # port mismatch
        ("a.example.com", False),  # no port
        ("a.example.com:*", False),  # '*' is pattern syntax only
    ],
)
def test_wildcard_matches_proper_subdomains_only(target: str, expected: bool) -> None:
    assert net("*.example.com:443").allows("network.connect", target) is expected


def test_exact_host_is_case_insensitive_and_ignores_one_trailing_dot() -> None:
    c = net("API.Example.com.:443")
    assert c.allows("network.connect", "api.example.com:443")
    assert c.allows("network.connect", "api.EXAMPLE.com.:443")
    assert not c.allows("network.connect", "api.example.com..:443")
    assert not c.allows("network.connect", "x.api.example.com:443")
    assert not c.allows("network.connect", "example.com:443")


def test_non_ascii_hosts_are_refused_rather_than_case_folded() -> None:
    c = net("key.example.com:443")
    assert not c.allows("network.connect", "\u212aey.example.com:443")  # KELVIN SIGN lower()s to 'k'
    assert not c.allows("network.connect", "k\u0435y.example.com:443")  # Cyrillic 'e'
    with pytest.raises(ValueError, match="punycode"):
        net("b\u00fccher.example:443")
    assert net("xn--bcher-kva.example:443").allows("network.connect", "XN--BCHER-KVA.example:443")


def test_ports_exact_any_and_merged_across_patterns() -> None:
    c = net("db.example.com:5432", "db.example.com:6432", "cache.example.com:*")
    assert c.allows("network.connect", "db.example.com:5432")
    assert c.allows("network.connect", "db.example.com:6432")
    assert not c.allows("network.connect", "db.example.com:5433")
    assert c.allows("network.connect", "cache.example.com:1")
    assert c.allows("network.connect", "cache.example.com:0")
    assert not c.allows("network.connect", "cache.example.com:65536")
    assert not c.allows("network.connect", "cache.example.com:-1")


def test_exact_and_wildcard_entries_for_related_names_do_not_mask_each_other() -> None:
    c = net("a.example.com:80", "*.example.com:443")
    assert c.allows("network.connect", "a.example.com:80")
    assert c.allows("network.connect", "a.example.com:443")  # via the wildcard
    assert not c.allows("network.connect", "b.example.com:80")


# --- IP literals -------------------------------------------------------------------------------


def test_ipv4_exact_and_numeric_aliases_are_denied() -> None:
    c = net("127.0.0.1:8080")
    assert c.allows("network.connect", "127.0.0.1:8080")
    assert not c.allows("network.connect", "127.0.0.1:8081")
    # inet_aton would read these as 127.0.0.1; we refuse to guess, so they never match
    for alias in [
        "127.1:8080",
        "0x7f.0.0.1:8080",
        "2130706433:8080",
        "0177.0.0.1:8080",
        "127.000.000.001:8080",
    ]:
        assert not c.allows("network.connect", alias), alias


def test_ipv6_in_brackets_normalised() -> None:
    c = net("[::1]:9000", "[2001:DB8::10]:*")
    assert c.allows("network.connect", "[::1]:9000")
    assert c.allows("network.connect", "[0:0:0:0:0:0:0:1]:9000")
    assert c.allows("network.connect", "[2001:db8:0::10]:1")
    assert not c.allows("network.connect", "[::2]:9000")
    assert not c.allows("network.connect", "::1:9000")  # unbracketed: ambiguous, denied
    assert not c.allows("network.connect", "[::1]9000")
    assert not c.allows("network.connect", "[fe80::1%eth0]:9000")


def test_ipv4_mapped_ipv6_is_the_ipv4_address() -> None:
    assert net("10.0.0.1:80").allows("network.connect", "[::ffff:10.0.0.1]:80")
    assert net("[::ffff:10.0.0.1]:80").allows("network.connect", "10.0.0.1:80")
    assert not net("10.0.0.1:80").allows("network.connect", "[::ffff:10.0.0.2]:80")


def test_ip_targets_never_match_name_patterns_and_vice_versa() -> None:
    assert not net("localhost:80").allows("network.connect", "127.0.0.1:80")
    assert not net("127.0.0.1:80").allows("network.connect", "localhost:80")
    with pytest.raises(ValueError, match="bad-host"):  # a wildcard over numeric labels is refused
        net("*.0.0.1:80")


def test_tuple_targets() -> None:
    c = net("api.example.com:443", "[::1]:53")
    assert c.allows("network.connect", ("api.example.com", 443))
    assert c.allows("network.connect", ("::1", 53))
    assert not c.allows("network.connect", ("api.example.com", 80))
    with pytest.raises(TypeError):
        c.allows("network.connect", ("api.example.com", "443"))
    with pytest.raises(TypeError):
        c.allows("network.connect", 443)


def test_connect_and_bind_are_separate_grants() -> None:
    c = Capabilities({CapabilityKind.NETWORK_BIND: ("127.0.0.1:8080",)})
    assert c.allows("network.bind", "127.0.0.1:8080")
    assert not c.allows("network.connect", "127.0.0.1:8080")


def test_no_grant_denies_everything() -> None:
    c = Capabilities()
    assert not c.allows("network.connect", "example.com:443")
    assert not c.allows("network.bind", "0.0.0.0:80")


# --- names -------------------------------------------------------------------------------------


def test_messaging_globs() -> None:
    c = Capabilities({CapabilityKind.MESSAGING_SEND: ("worker-*", "logger", "shard-?")})
    assert c.allows("messaging.send", "worker-1")
    assert c.allows("messaging.send", "worker-")
    assert c.allows("messaging.send", "logger")
    assert c.allows("messaging.send", "shard-7")
    assert not c.allows("messaging.send", "shard-77")
    assert not c.allows("messaging.send", "loggers")
    assert not c.allows("messaging.send", "my-worker-1")
    assert not c.allows("messaging.send", "worker-1\n")
    assert not c.allows("messaging.send", "worker-" + "x" * 300)  # longer than any valid name
    assert not c.allows("messaging.send", "")


def test_storage_namespaces_exact_and_read_write_separate() -> None:
    c = Capabilities(
        {CapabilityKind.STORAGE_READ: ("cache", "users/*"), CapabilityKind.STORAGE_WRITE: ("cache",)}
    )
    assert c.allows("storage.read", "cache") and c.allows("storage.write", "cache")
    assert c.allows("storage.read", "users/alice")
    assert not c.allows("storage.write", "users/alice")
    assert not c.allows("storage.read", "cache2")
    assert not c.allows("storage.read", "Cache")
    with pytest.raises(TypeError):
        c.allows("storage.read", None)


# --- kinds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["filesystem.exec", "network", "", "FILESYSTEM.READ", None, 3, ("filesystem.read",)]
)
def test_unknown_kind_is_a_value_error_never_allow(kind: object) -> None:
    c = Capabilities({CapabilityKind.FILESYSTEM_READ: ("/**",)})
    with pytest.raises(ValueError, match="unknown capability kind"):
        c.allows(kind, "/etc/passwd")  # type: ignore[arg-type]


def test_enum_and_string_kinds_are_equivalent() -> None:
    c = Capabilities({"messaging.send": ("a",)})  # type: ignore[dict-item]
    assert c.allows(CapabilityKind.MESSAGING_SEND, "a") and c.allows("messaging.send", "a")


def test_programmatic_capabilities_reject_empty_and_bad_patterns() -> None:
    from airssys_wasm import ManifestError

    with pytest.raises(ManifestError, match="empty list"):
        Capabilities({CapabilityKind.STORAGE_READ: ()})
    with pytest.raises(ManifestError, match=r"capabilities\.network\.connect\[0\].*bad-host"):
        Capabilities({CONNECT: ("*:443",)})
    with pytest.raises(ValueError, match="unknown capability kind"):
        Capabilities({"network.listen": ("a:1",)})  # type: ignore[dict-item]
