"""Decision counts (what metrics report as audit decisions): exact, monotonic across
unregistering, the same whichever path a decision took, and exact under I/O threads."""

from __future__ import annotations

import threading

from airssys_wasm.security import (
    AllowAllPolicy,
    AuditLog,
    HostSecurity,
    MemoryAuditSink,
    PermissionPolicy,
    TrustLevel,
    load_manifest,
)

SEND = "messaging.send"


def plugin(extra: str = "") -> object:
    return load_manifest('[component]\nname = "plugin"\nversion = "1.0.0"\n' + extra)


class BrokenSink:
    def write(self, record: object, line: str) -> None:
        raise OSError("disk full")


def test_sends_count_alike_on_the_fast_and_the_general_path() -> None:
    sink = MemoryAuditSink()
    policy = PermissionPolicy(audit=AuditLog([sink]))
    policy.register("p", plugin("[capabilities]\nmessaging.send = ['sink']\n"))
    for _ in range(5):  # the first one takes the general path and fills the cache
        assert policy.check("p", SEND, "sink").allowed
    assert not policy.check("p", SEND, "other").allowed
    assert not policy.check("p", "storage.read", "ns").allowed
    assert policy.decisions() == {("p", SEND, True): 5, ("p", SEND, False): 1,
                                  ("p", "storage.read", False): 1}
    # every counted decision is an audit line, and the other way round
    lines = [(r.component, r.kind, r.decision == "allow") for r in sink.records]
    assert {k: lines.count(k) for k in set(lines)} == policy.decisions()


def test_counts_outlive_unregistering_and_add_up_across_registrations() -> None:
    policy = PermissionPolicy(audit=AuditLog())
    manifest = plugin("[capabilities]\nmessaging.send = ['sink']\n")
    policy.register("p", manifest)
    for _ in range(3):
        policy.check("p", SEND, "sink")
    policy.unregister("p")
    assert policy.decisions() == {("p", SEND, True): 3}
    policy.register("p", manifest)
    policy.check("p", SEND, "sink")
    policy.check("p", SEND, "sink")
    assert policy.decisions() == {("p", SEND, True): 5}
    policy.unregister("p")
    policy.unregister("p")  # a second unregister folds nothing twice
    assert policy.decisions() == {("p", SEND, True): 5}


def test_an_unaudited_allow_counts_as_the_denial_it_becomes() -> None:
    policy = PermissionPolicy(audit=AuditLog([BrokenSink()]))
    policy.register("p", plugin("[capabilities]\nmessaging.send = ['sink']\n"))
    assert not policy.check("p", SEND, "sink").allowed  # general path
    assert not policy.check("p", SEND, "sink").allowed  # fast path (cached match)
    policy.refused("p", SEND, "sink", "message of 9 bytes over max_message 8")
    assert policy.decisions() == {("p", SEND, False): 3}


def test_denials_from_io_threads_are_counted_exactly() -> None:
    policy = PermissionPolicy(audit=AuditLog())
    policy.register("p", plugin("[capabilities]\nnetwork.connect = ['example.com:443']\n"))

    def deny(n: int) -> None:
        for _ in range(n):
            assert not policy.check_resolved("p", "network.connect", "example.com:443",
                                             ["127.0.0.1"]).allowed

    threads = [threading.Thread(target=deny, args=(500,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    deny(500)
    for thread in threads:
        thread.join()
    assert policy.decisions() == {("p", "network.connect", False): 2500}


def test_allow_all_counts_too_and_host_security_reports_it() -> None:
    security = HostSecurity(AllowAllPolicy(audit=AuditLog()))
    security.policy.register("p", None, TrustLevel.TRUSTED)
    for _ in range(4):
        assert security.check("p", SEND, "anyone").allowed
    assert security.check("p", "storage.read", "ns").allowed
    assert not security.check("ghost", SEND, "anyone").allowed
    security.refused("p", SEND, "x", "too large")
    assert security.decisions() == {("p", SEND, True): 4, ("p", "storage.read", True): 1,
                                    ("ghost", SEND, False): 1, ("p", SEND, False): 1}
    security.release("p")
    assert security.decisions()[("p", SEND, True)] == 4


def test_a_policy_without_counts_reports_none() -> None:
    class Bare:
        def check(self, *a: object, **k: object) -> object: ...
        def performed(self, *a: object) -> None: ...
        def refused(self, *a: object) -> None: ...
        def check_resolved(self, *a: object, **k: object) -> object: ...
        def register(self, *a: object) -> object: ...
        def unregister(self, *a: object) -> None: ...

    assert HostSecurity(Bare()).decisions() == {}  # type: ignore[arg-type]
