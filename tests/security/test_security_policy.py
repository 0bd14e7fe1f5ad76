"""PermissionPolicy.check = capabilities + quotas + audit; trust levels; the allow-all policy."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm.security import (
    AllowAllPolicy,
    AuditLog,
    Decision,
    DenyCode,
    FileAuditSink,
    LoggingAuditSink,
    ManifestLimits,
    MemoryAuditSink,
    PermissionPolicy,
    Quota,
    StreamAuditSink,
    TokenBucket,
    TrustLevel,
    TrustPolicy,
    load_manifest,
)
from airssys_wasm.security.audit import MAX_TARGET_CHARS, AuditRecord

HEAD = '[component]\nname = "plugin"\nversion = "1.0.0"\n'
FIELDS = {"time", "component", "kind", "target", "decision", "reason"}


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sink() -> MemoryAuditSink:
    return MemoryAuditSink()


def make_policy(sink: MemoryAuditSink, clock: FakeClock, **kw: object) -> PermissionPolicy:
    return PermissionPolicy(audit=AuditLog([sink], clock=lambda: 1764422400.5), clock=clock, **kw)  # type: ignore[arg-type]


def manifest(extra: str = ""):
    return load_manifest(HEAD + extra)


# --- decisions and audit -----------------------------------------------------------------------


def test_allow_and_deny_each_write_one_json_line(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register("plugin", manifest("[capabilities]\nstorage.read = ['ns']\n"))
    ok = policy.check("plugin", "storage.read", "ns")
    no = policy.check("plugin", "storage.read", "other")
    assert ok == Decision(True, "matches a capabilities.storage.read grant")
    assert not no.allowed and no.error is DenyCode.PERMISSION_DENIED and no.error == "permission-denied"
    assert len(sink.lines) == 2
    first, second = (json.loads(line) for line in sink.lines)
    assert first == {
        "time": "2025-11-29T13:20:00.500000Z",
        "component": "plugin",
        "kind": "storage.read",
        "target": "ns",
        "decision": "allow",
        "reason": "matches a capabilities.storage.read grant",
    }
    assert set(second) == FIELDS and second["decision"] == "deny" and second["target"] == "other"
    assert "no capabilities.storage.read grant" in second["reason"]


def test_what_was_performed_gets_a_done_line(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register("plugin", manifest("[capabilities]\nnetwork.connect = ['api.example.com:443']\n"))
    policy.check("plugin", "network.connect", "api.example.com:443")
    policy.performed("plugin", "network.connect", "api.example.com:443", "93.184.216.34:443")
    decided, done = (json.loads(line) for line in sink.lines)
    assert decided["decision"] == "allow" and "performed" not in decided
    assert done == {"time": done["time"], "component": "plugin", "kind": "network.connect",
                    "target": "api.example.com:443", "decision": "done", "reason": "performed",
                    "performed": "93.184.216.34:443"}
    assert sink.records[-1].performed == "93.184.216.34:443"
    allow_all = AllowAllPolicy(audit=AuditLog([sink]))
    allow_all.register("trusted")
    allow_all.performed("trusted", "process.spawn", "/bin/echo", "/usr/bin/echo")
    assert sink.records[-1].decision == "done" and sink.records[-1].performed == "/usr/bin/echo"


def test_filesystem_decisions_carry_the_resolved_path(
    sink: MemoryAuditSink, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("a")
    (tmp_path / "in" / "escape").symlink_to("/etc/passwd")
    policy = make_policy(sink, clock)
    policy.register("plugin", manifest(f"[capabilities]\nfilesystem.read = ['{tmp_path}/in/**']\n"))
    ok = policy.check("plugin", "filesystem.read", f"{tmp_path}/in/./a.txt")
    assert ok.allowed and ok.resolved_path == f"{tmp_path}/in/a.txt"  # what the host should open
    no = policy.check("plugin", "filesystem.read", f"{tmp_path}/in/escape")
    assert not no.allowed and no.resolved_path == os.path.realpath("/etc/passwd")
    climb = f"{tmp_path}/in/" + "../" * 40 + "etc/passwd"
    dots = policy.check("plugin", "filesystem.read", climb)
    assert not dots.allowed and dots.resolved_path == os.path.realpath("/etc/passwd")
    first, second, third = (json.loads(line) for line in sink.lines)
    assert set(first) == FIELDS | {"resolved"} and first["target"] == f"{tmp_path}/in/./a.txt"
    assert second["decision"] == "deny" and second["resolved"] == os.path.realpath("/etc/passwd")
    assert third["target"] == climb and third["resolved"] == os.path.realpath("/etc/passwd")


def test_unresolvable_filesystem_targets_are_denied(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register("plugin", manifest("[capabilities]\nfilesystem.read = ['/**']\n"))
    for target in ["relative.txt", "/a\x00b", ""]:
        d = policy.check("plugin", "filesystem.read", target)
        assert not d.allowed and d.resolved_path is None
    with pytest.raises(TypeError):
        policy.check("plugin", "filesystem.read", b"/etc/passwd")


def test_unregistered_component_is_denied_and_audited(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    d = policy.check("ghost", "messaging.send", "anyone")
    assert not d.allowed and d.error is DenyCode.PERMISSION_DENIED and "not registered" in d.reason
    assert json.loads(sink.lines[0])["decision"] == "deny"


def test_no_manifest_means_messaging_only(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    grant = policy.register("plain")
    assert policy.check("plain", "messaging.send", "anyone").allowed
    for kind, target in [("filesystem.read", "/tmp/x"), ("network.connect", "a.b:1"), ("storage.read", "ns"),
                         ("process.spawn", "/bin/sh")]:  # fmt: skip
        assert policy.check("plain", kind, target).error is DenyCode.PERMISSION_DENIED
    assert grant.limits == TrustPolicy().profile("unknown").default_limits


def test_manifest_without_messaging_grant_cannot_message(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register("plugin", manifest("[capabilities]\nmessaging.send = ['logger']\n"))
    assert policy.check("plugin", "messaging.send", "logger").allowed
    assert not policy.check("plugin", "messaging.send", "billing").allowed


def test_unknown_kind_and_bad_amount_are_programming_errors(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register("plugin")
    with pytest.raises(ValueError, match="unknown capability kind"):
        policy.check("plugin", "filesystem.execute", "/bin/sh")
    with pytest.raises(ValueError, match="does not apply"):
        policy.check("plugin", "filesystem.read", "/x", amount=5)
    with pytest.raises(ValueError, match=">= 0"):
        policy.check("plugin", "messaging.send", "x", amount=-1)
    with pytest.raises(TypeError):
        policy.check("plugin", "messaging.send", "x", amount=1.5)  # type: ignore[arg-type]
    assert sink.lines == []  # programming errors are not decisions


def test_register_twice_is_an_error_and_unregister_revokes(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register("plugin")
    with pytest.raises(ValueError, match="already registered"):
        policy.register("plugin")
    policy.unregister("plugin")
    assert not policy.check("plugin", "messaging.send", "x").allowed
    policy.register("plugin")
    assert policy.check("plugin", "messaging.send", "x").allowed


# --- quotas ------------------------------------------------------------------------------------


def test_message_rate_token_bucket_with_fake_clock(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register(
        "plugin",
        manifest(
            "[capabilities]\nmessaging.send = ['*']\n[quota]\nmessages_per_second = 2\nmessage_burst = 3\n"
        ),
    )
    assert [policy.check("plugin", "messaging.send", "x").allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    denied = policy.check("plugin", "messaging.send", "x")
    assert denied.error is DenyCode.RESOURCE_EXHAUSTED and denied.error == "resource-exhausted"
    assert denied.retry_after == pytest.approx(0.5)
    assert "message rate" in denied.reason
    clock.advance(0.5)
    assert policy.check("plugin", "messaging.send", "x").allowed
    assert not policy.check("plugin", "messaging.send", "x").allowed
    clock.advance(100)  # refill is capped at the burst
    assert [policy.check("plugin", "messaging.send", "x").allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    decisions = [json.loads(line)["decision"] for line in sink.lines]
    assert decisions.count("deny") == 4 and len(decisions) == 11
    assert all("quota exceeded" in json.loads(line)["reason"] for line in sink.lines if '"deny"' in line)


def test_permission_is_checked_before_quota(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register(
        "plugin", manifest("[capabilities]\nmessaging.send = ['a']\n[quota]\nmessages_per_second = 1\n")
    )
    for _ in range(5):
        assert policy.check("plugin", "messaging.send", "b").error is DenyCode.PERMISSION_DENIED
    assert policy.check("plugin", "messaging.send", "a").allowed  # denied sends did not use the budget


def test_storage_bytes_quota(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    grant = policy.register(
        "plugin", manifest("[capabilities]\nstorage.write = ['ns']\n[quota]\nstorage_bytes = 100\n")
    )
    assert policy.check("plugin", "storage.write", "ns", amount=60).allowed
    over = policy.check("plugin", "storage.write", "ns", amount=41)
    assert over.error is DenyCode.RESOURCE_EXHAUSTED and over.retry_after is None
    assert grant.quota.storage_used == 60
    assert policy.check("plugin", "storage.write", "ns", amount=-30).allowed  # freed
    assert policy.check("plugin", "storage.write", "ns", amount=70).allowed
    assert grant.quota.storage_used == 100
    assert not policy.check("plugin", "storage.write", "ns", amount=1).allowed
    assert policy.check("plugin", "storage.write", "ns", amount=-1000).allowed
    assert grant.quota.storage_used == 0


def test_network_bandwidth_quota(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register(
        "plugin",
        manifest(
            "[capabilities]\nnetwork.connect = ['api.example.com:443']\n"
            "[quota]\nnetwork_bytes_per_second = 1000\n"
        ),
    )
    assert policy.check("plugin", "network.connect", "api.example.com:443").allowed  # connect, no bytes
    assert policy.check("plugin", "network.connect", "api.example.com:443", amount=800).allowed
    d = policy.check("plugin", "network.connect", "api.example.com:443", amount=400)
    assert d.error is DenyCode.RESOURCE_EXHAUSTED and d.retry_after == pytest.approx(0.2)
    clock.advance(0.2)
    assert policy.check("plugin", "network.connect", "api.example.com:443", amount=400).allowed
    never = policy.check("plugin", "network.connect", "api.example.com:443", amount=5000)
    assert never.error is DenyCode.RESOURCE_EXHAUSTED and never.retry_after is None  # above the bucket size


def test_quota_counters_live_with_the_registration(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    policy.register(
        "plugin", manifest("[capabilities]\nmessaging.send = ['*']\n[quota]\nmessages_per_second = 1\n")
    )
    assert policy.check("plugin", "messaging.send", "x").allowed
    assert not policy.check("plugin", "messaging.send", "x").allowed
    policy.unregister("plugin")
    policy.register(
        "plugin", manifest("[capabilities]\nmessaging.send = ['*']\n[quota]\nmessages_per_second = 1\n")
    )
    assert policy.check("plugin", "messaging.send", "x").allowed  # a new registration, new counters


def test_token_bucket_ignores_a_clock_going_backwards(clock: FakeClock) -> None:
    bucket = TokenBucket(rate=1, capacity=1, clock=clock)
    assert bucket.take() is None
    clock.advance(-50)
    assert bucket.take() == pytest.approx(1.0)
    clock.advance(1)
    assert bucket.take() is None
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1)


# --- trust levels ------------------------------------------------------------------------------


def test_untrusted_needs_a_manifest(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    with pytest.raises(aw.ManifestError, match=r"untrusted.*no Component\.toml"):
        policy.register("stranger", None, TrustLevel.UNTRUSTED)
    assert policy.grant("stranger") is None
    grant = policy.register("stranger", manifest(), "untrusted")
    assert grant.limits == ManifestLimits(memory=64 << 20, timeout_ms=1000)
    assert grant.quota.quota.messages_per_second == 1000.0  # untrusted always has quotas


def test_untrusted_limits_ceiling(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    greedy = manifest("[limits]\nmemory = '1GiB'\ntimeout_ms = 120000\n")
    with pytest.raises(aw.ManifestError, match=r"limits\.memory.*limits\.timeout_ms"):
        policy.register("greedy", greedy, TrustLevel.UNTRUSTED)
    assert policy.register("greedy", greedy, TrustLevel.TRUSTED).limits.memory == 1 << 30


def test_manifest_limits_override_defaults_and_quota_can_only_tighten(
    sink: MemoryAuditSink, clock: FakeClock
) -> None:
    policy = make_policy(sink, clock)
    m = manifest(
        "[limits]\nfuel = 5000\n[quota]\nmessages_per_second = 1e6\nmessage_burst = 1000000\n"
        "storage_bytes = 1024\n"
    )
    grant = policy.register("p", m, TrustLevel.UNTRUSTED)
    assert grant.limits.fuel == 5000 and grant.limits.memory == 64 << 20
    assert grant.quota.quota == Quota(
        messages_per_second=1000.0, message_burst=1000, storage_bytes=1024, network_bytes_per_second=10 << 20
    )
    trusted = policy.register("q", m, TrustLevel.TRUSTED)
    assert trusted.quota.quota.messages_per_second == 1e6 and trusted.limits.fuel == 5000


def test_trusted_and_unknown_do_not_require_a_manifest(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = make_policy(sink, clock)
    assert policy.register("t", None, TrustLevel.TRUSTED).limits.fuel is None  # no fuel metering
    assert policy.register("u", None, "unknown").limits.memory == 128 << 20
    with pytest.raises(ValueError):
        policy.register("x", None, "semi-trusted")


def test_trust_policy_needs_every_level() -> None:
    with pytest.raises(ValueError, match="missing"):
        TrustPolicy({TrustLevel.TRUSTED: TrustPolicy().profile("trusted")})


# --- allow-all ---------------------------------------------------------------------------------


def test_allow_all_policy_is_for_trusted_components_only(sink: MemoryAuditSink) -> None:
    policy = AllowAllPolicy(audit=AuditLog([sink]))
    with pytest.raises(aw.ConfigError, match="only runs trusted"):
        policy.register("stranger", None, TrustLevel.UNTRUSTED)
    with pytest.raises(aw.ConfigError):
        policy.register("someone", None, TrustLevel.UNKNOWN)
    policy.register("mine")
    assert policy.check("mine", "filesystem.delete", "/").allowed
    assert policy.check("mine", "network.bind", "0.0.0.0:1").allowed
    assert not policy.check("stranger", "messaging.send", "x").allowed
    with pytest.raises(ValueError):
        policy.check("mine", "filesystem.format", "/")
    assert [json.loads(line)["decision"] for line in sink.lines] == ["allow", "allow", "deny"]


def test_permission_policy_is_not_allow_all_by_default() -> None:
    policy = PermissionPolicy()
    policy.register("x")
    assert not policy.check("x", "filesystem.read", "/etc/passwd").allowed


# --- audit sinks -------------------------------------------------------------------------------


def test_guest_controlled_target_cannot_forge_lines_and_is_truncated(
    sink: MemoryAuditSink, clock: FakeClock
) -> None:
    policy = make_policy(sink, clock)
    policy.register("plugin")
    forged = 'x"\n{"decision": "allow"}\n'
    policy.check("plugin", "storage.read", forged)
    policy.check("plugin", "filesystem.read", "/" + "a" * 5000)
    policy.check("plugin", "filesystem.read", "/bad-\udcff-surrogate")
    assert all("\n" not in line for line in sink.lines)
    records = [json.loads(line) for line in sink.lines]
    assert records[0]["target"] == forged and records[0]["decision"] == "deny"
    assert len(records[1]["target"]) < MAX_TARGET_CHARS + 40 and records[1]["target"].endswith("chars)")
    assert records[2]["target"] == "/bad-\udcff-surrogate"


def test_stream_file_and_logging_sinks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    path = tmp_path / "audit.jsonl"
    file_sink = FileAuditSink(path)
    log = AuditLog([StreamAuditSink(stream), file_sink, LoggingAuditSink("test.audit")])
    with caplog.at_level(logging.INFO, logger="test.audit"):
        assert log.record("c", "storage.read", "ns", False, "no grant")
    file_sink.close()
    line = stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert path.read_text() == line
    assert caplog.records[0].getMessage() == line.rstrip("\n")
    assert caplog.records[0].audit.decision == "deny"  # type: ignore[attr-defined]


class BrokenSink:
    def write(self, record: object, line: str) -> None:
        raise OSError("disk full")


def test_failing_audit_sink_fails_closed(sink: MemoryAuditSink, clock: FakeClock) -> None:
    policy = PermissionPolicy(audit=AuditLog([BrokenSink(), sink]), clock=clock)
    policy.register("plugin")
    d = policy.check("plugin", "messaging.send", "x")
    assert not d.allowed and "audit log unavailable" in d.reason
    assert policy.audit.failures == 1
    assert len(sink.lines) == 1  # the healthy sink still got the line
    lenient = PermissionPolicy(audit=AuditLog([BrokenSink()]), clock=clock, fail_closed=False)
    lenient.register("plugin")
    assert lenient.check("plugin", "messaging.send", "x").allowed


def test_audit_is_thread_safe_one_whole_line_per_decision(clock: FakeClock) -> None:
    stream = io.StringIO()
    policy = PermissionPolicy(audit=AuditLog([StreamAuditSink(stream, flush=False)]), clock=clock)
    policy.register("plugin", manifest("[capabilities]\nstorage.read = ['ns-*']\n"))
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(250):
            policy.check("plugin", "storage.read", f"ns-{n}-{i}" if i % 2 else f"other-{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 1000
    assert sum(r["decision"] == "allow" for r in records) == 500
    assert {r["target"] for r in records} == {
        f"ns-{n}-{i}" if i % 2 else f"other-{n}-{i}" for n in range(4) for i in range(250)
    }


def test_audit_lines_are_not_built_when_no_sink_would_keep_them() -> None:
    logger = logging.getLogger("airssys_wasm.test.audit.muted")
    logger.propagate = False
    logger.setLevel(logging.WARNING)  # INFO lines would be dropped by logging anyway
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keep())
    log = AuditLog([LoggingAuditSink(logger, logging.INFO)])
    assert log.record("c", "messaging.send", "b", True, "ok") is True
    assert records == []
    logger.setLevel(logging.INFO)  # the level is asked per decision, not cached
    assert log.record("c", "messaging.send", "b", True, "ok") is True
    assert len(records) == 1 and '"decision":"allow"' in records[0].getMessage()

    class Broken:
        def enabled(self) -> bool:
            return False

        def write(self, record: AuditRecord, line: str) -> None:
            raise AssertionError("a muted sink must not be written")

    memory = MemoryAuditSink()
    both = AuditLog([Broken(), memory])  # one sink that keeps lines: everything is serialised
    assert both.record("c", "messaging.send", "b", False, "no") is False  # Broken is still asked
    assert len(memory.lines) == 1


def test_per_message_allows_are_audited_whenever_a_sink_would_keep_them(clock: FakeClock) -> None:
    logger = logging.getLogger("airssys_wasm.test.audit.fastpath")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger.addHandler(Keep())
    log = AuditLog([LoggingAuditSink(logger, logging.INFO)])
    policy = PermissionPolicy(audit=log, clock=clock)
    policy.register("plugin")
    for _ in range(3):  # the first send to a name takes the general path, the rest the fast one
        assert policy.check("plugin", "messaging.send", "peer").allowed
    assert lines == []
    logger.setLevel(logging.INFO)  # asked per decision: the next allow is written
    assert policy.check("plugin", "messaging.send", "peer").allowed
    assert len(lines) == 1 and '"decision":"allow"' in lines[0] and '"target":"peer"' in lines[0]
    memory = MemoryAuditSink()  # a sink added later keeps every later line, muted logger or not
    logger.setLevel(logging.WARNING)
    log.add_sink(memory)
    assert policy.check("plugin", "messaging.send", "peer").allowed
    assert len(memory.lines) == 1 and len(lines) == 1
    log.add_sink(BrokenSink())  # and a failing one still fails the fast path closed
    assert not policy.check("plugin", "messaging.send", "peer").allowed
    assert policy.decisions()[("plugin", "messaging.send", True)] == 5
    empty = PermissionPolicy(audit=AuditLog([]), clock=clock)
    empty.register("plugin")
    assert all(empty.check("plugin", "messaging.send", "peer").allowed for _ in range(3))


def test_repeated_decisions_reuse_their_json_but_every_line_is_exact(monkeypatch) -> None:
    from airssys_wasm.security import audit as audit_module

    monkeypatch.setattr(audit_module, "_BODY_CACHE_LIMIT", 2)  # exercise the clear-when-full path
    sink = MemoryAuditSink()
    ticks = iter(range(1_700_000_000, 1_700_000_100))
    log = AuditLog([sink], clock=lambda: next(ticks) + 0.25)
    decisions = [("a", "messaging.send", "b", True, "ok", None),
                 ("a", "filesystem.read", "/x\n\"y", False, "no grant", "/real/x"),
                 ("a", "messaging.send", "b", True, "ok", None),
                 ("c", "messaging.send", "b", False, "no grant", None)] * 3
    for component, kind, target, allowed, reason, resolved in decisions:
        log.record(component, kind, target, allowed, reason, resolved)
    assert len(sink.lines) == len(decisions)
    for line, record, (component, kind, target, allowed, reason, resolved) in zip(
            sink.lines, sink.records, decisions):
        parsed = json.loads(line)
        assert line == record.to_json()
        assert parsed.pop("time").endswith(".250000Z")
        assert parsed == {"component": component, "kind": kind, "target": target,
                          "decision": "allow" if allowed else "deny", "reason": reason,
                          **({"resolved": resolved} if resolved else {})}
