"""pytest-benchmark for capability checks (`pytest benches/test_bench_security.py --benchmark-enable`).

Target: <= 1 µs per capability check. With the default `--benchmark-disable` each body runs
once, so CI still checks the answers.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from airssys_wasm.security import AuditLog, Capabilities, CapabilityKind, PermissionPolicy, StreamAuditSink
from airssys_wasm.security.patterns import resolve_target_path
from airssys_wasm.benchmarks import guests

ENDPOINTS = ("api.example.com:443", "*.cdn.example.com:443", "10.0.0.5:5432", "[::1]:*", "db.internal:5432")
NAMES = ("logger", "worker-*", "audit-?", "billing")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    (root / "data" / "in" / "2026").mkdir(parents=True)
    (root / "data" / "in" / "2026" / "report.csv").write_text("")
    return root


@pytest.fixture(scope="module")
def caps(tree: Path) -> Capabilities:
    return Capabilities(
        {
            CapabilityKind.FILESYSTEM_READ: (
                f"{tree}/etc/app.conf",
                f"{tree}/logs/*.log",
                f"{tree}/data/in/**",
            ),
            CapabilityKind.NETWORK_CONNECT: ENDPOINTS,
            CapabilityKind.MESSAGING_SEND: NAMES,
            CapabilityKind.STORAGE_WRITE: NAMES,
        }
    )


def test_filesystem_read_resolve_and_match(benchmark, caps: Capabilities, tree: Path) -> None:
    target = f"{tree}/data/in/2026/report.csv"
    assert benchmark(caps.allows, "filesystem.read", target) is True


def test_filesystem_traversal_denied(benchmark, caps: Capabilities, tree: Path) -> None:
    target = f"{tree}/data/in/../../etc/passwd"
    assert benchmark(caps.allows, "filesystem.read", target) is False


def test_filesystem_match_resolved_path(benchmark, caps: Capabilities, tree: Path) -> None:
    matcher = caps._matchers["filesystem.read"]  # the matching step alone, without syscalls
    resolved = resolve_target_path(f"{tree}/data/in/2026/report.csv")
    assert benchmark(matcher.matches_resolved, resolved) is True


@pytest.mark.parametrize(
    ("target", "expected"),
    [("img.cdn.example.com:443", True), ("api.example.com:443", True), ("evilexample.com:443", False),
     ("[::1]:8080", True)],
)  # fmt: skip
def test_network_connect(benchmark, caps: Capabilities, target: str, expected: bool) -> None:
    assert benchmark(caps.allows, "network.connect", target) is expected


def test_messaging_send_glob(benchmark, caps: Capabilities) -> None:
    assert benchmark(caps.allows, "messaging.send", "worker-7") is True


def test_storage_write_denied(benchmark, caps: Capabilities) -> None:
    assert benchmark(caps.allows, "storage.write", "secrets") is False


def test_policy_check_with_audit_line(benchmark) -> None:
    with open(os.devnull, "w") as devnull:
        policy = PermissionPolicy(audit=AuditLog([StreamAuditSink(devnull, flush=False)]))
        policy.register("plugin")
        assert benchmark(policy.check, "plugin", "messaging.send", "worker-7").allowed


# --- through a Host: the default provider on real guest actions -----------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "wat"


@pytest.fixture(scope="module")
def secure_host(tree: Path):
    """A running Host with the default (secure) provider, audit lines to /dev/null, and an
    ext-fs guest granted read on the bench tree."""
    from airssys_wasm import Host, HostConfig
    from airssys_wasm.runtime import Engine

    loop = asyncio.new_event_loop()
    with open(os.devnull, "w") as devnull, Engine() as engine:
        host = Host(HostConfig(health=None, audit=StreamAuditSink(devnull, flush=False)), engine=engine)
        loop.run_until_complete(host.start())
        manifest = (f'[component]\nname = "f"\nversion = "1.0.0"\n'
                    f'[capabilities.filesystem]\nread = ["{tree}/data/**"]\n')
        loop.run_until_complete(host.spawn("f", EXAMPLES / "ext-fs.wat", manifest=manifest))
        loop.run_until_complete(host.spawn("p", guests.path("pingpong")))
        yield loop, host
        loop.run_until_complete(host.close())
    loop.close()


def test_host_security_check_messaging(benchmark, secure_host) -> None:
    """The check a guest's send-message pays (no-manifest component: messaging baseline)."""
    _, host = secure_host
    assert benchmark(host.security.check, "p", "messaging.send", "f").allowed


def test_ext_read_file_request_through_host(benchmark, secure_host, tree: Path) -> None:
    """One Host.request into the ext-fs guest: read-file = resolve + check + audit + read."""
    loop, host = secure_host
    op = b"r" + f"{tree}/data/in/2026/report.csv".encode()
    reply = benchmark(lambda: loop.run_until_complete(host.request("f", op)))
    assert reply == b"\x00"  # ok, empty file
