"""Capability checks: our precompiled matchers vs naive fnmatch loops.

The baseline is what a straightforward implementation does per call: loop over the grant
strings and ``fnmatch`` each one (after ``os.path.realpath`` for paths, after splitting
``host:port`` for endpoints). It is also *less strict* than ours (``fnmatch``'s ``*`` crosses
``/``, and ``*.example.com`` via fnmatch is not IPv6/port/case aware), so it is a cost
baseline, not a correctness one.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import pathlib
import tempfile
from typing import Any

from airssys_wasm.benchmarks.timing import Comparison, time_stmt
from airssys_wasm.host import ext_filesystem
from airssys_wasm.security import (
    AuditLog,
    Capabilities,
    CapabilityKind,
    PermissionPolicy,
    StreamAuditSink,
    load_manifest,
)
from airssys_wasm.security.addresses import special_range
from airssys_wasm.security.patterns import resolve_target_path

TITLE = "Security: capability checks (vs naive fnmatch loops)"


def naive_path(patterns: list[str], target: str) -> bool:
    resolved = os.path.realpath(target)
    return any(fnmatch.fnmatchcase(resolved, p) for p in patterns)


def naive_resolved(patterns: list[str], resolved: str) -> bool:
    return any(fnmatch.fnmatchcase(resolved, p) for p in patterns)


def naive_endpoint(patterns: list[tuple[str, str]], target: str) -> bool:
    host, _, port = target.rpartition(":")
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, h) and (p == "*" or p == port) for h, p in patterns)


def naive_name(patterns: list[str], target: str) -> bool:
    return any(fnmatch.fnmatchcase(target, p) for p in patterns)


def nofollow_read(path: str) -> bytes:
    """The read step before the beneath-the-root opens: one O_NOFOLLOW open of the resolved
    string (guards the last component only), fstat, read, close."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fstat(fd)
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def read_step(policy: PermissionPolicy, file: str) -> Any:
    """What ext-filesystem's read step does for an allowed path: open the grant root with no
    symlink, open the file beneath it (openat2 or the openat walk), fstat, read, readlink the fd
    for the audit "done" line, and write that line."""
    decision = policy.check("plugin", "filesystem.read", file)
    root, rel = ext_filesystem._beneath(decision.resolved_path, decision.root)  # type: ignore[misc, arg-type]
    done = lambda what: policy.performed("plugin", "filesystem.read", file, what)  # noqa: E731
    return ext_filesystem._read(ext_filesystem._Target(file, root, rel, done))


def naive_special(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The ``ipaddress`` properties a straightforward address check would test."""
    return (address.is_private or address.is_loopback or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified)


def build(root: str, devnull: Any) -> dict[str, object]:
    """The timing namespace: grants over a real directory tree under ``root``."""
    os.makedirs(f"{root}/data/in/2026", exist_ok=True)
    file = f"{root}/data/in/2026/report.csv"
    pathlib.Path(file).touch()
    path_patterns = [f"{root}/etc/app.conf", f"{root}/logs/*.log", f"{root}/cache/**",
                     f"{root}/data/in/**"]
    endpoints = ["api.example.com:443", "*.cdn.example.com:443", "10.0.0.5:5432", "[::1]:*",
                 "db.internal:5432"]
    names = ["logger", "worker-*", "audit-?", "billing"]
    caps = Capabilities({
        CapabilityKind.FILESYSTEM_READ: tuple(path_patterns),
        CapabilityKind.NETWORK_CONNECT: tuple(endpoints),
        CapabilityKind.MESSAGING_SEND: tuple(names),
        CapabilityKind.STORAGE_READ: tuple(names),
    })
    policy = PermissionPolicy(audit=AuditLog([StreamAuditSink(devnull, flush=False)]))
    policy.register("plugin", load_manifest(
        f'[component]\nname = "plugin"\nversion = "1.0.0"\n'
        f'[capabilities]\nmessaging.send = ["worker-*"]\nfilesystem.read = ["{root}/data/in/**"]\n'
        'network.connect = ["api.example.com:443", "*.cdn.example.com:443", "127.0.0.1:8080"]\n'))
    return {
        "caps": caps,
        "allows": caps.allows,
        "file": file,
        "resolved": resolve_target_path(file),
        "fs_match": caps._matchers["filesystem.read"].matches_resolved,  # type: ignore[attr-defined]
        "path_patterns": path_patterns,
        "endpoint_patterns": [tuple(e.rsplit(":", 1)) for e in endpoints],
        "names": names,
        "policy": policy,
        "naive_path": naive_path,
        "naive_resolved": naive_resolved,
        "naive_endpoint": naive_endpoint,
        "naive_name": naive_name,
        "read_step": read_step,
        "nofollow_read": nofollow_read,
        "naive_special": naive_special,
        "special_range": special_range,
        "v6_global": ipaddress.ip_address("2606:4700::1111"),
        "public": ["93.184.216.34"],
        "loopback": ["127.0.0.1"],
        "realpath": os.path.realpath,
        "stat": os.stat,
    }


#: (row, our statement, baseline statement or None, baseline label)
CASES = [
    ("filesystem.read (resolve + match)", "allows('filesystem.read', file)",
     "naive_path(path_patterns, file)", "realpath + fnmatch loop"),
    ("filesystem match of a resolved path", "fs_match(resolved)",
     "naive_resolved(path_patterns, resolved)", "fnmatch loop"),
    ("network.connect wildcard host", "allows('network.connect', 'img.cdn.example.com:443')",
     "naive_endpoint(endpoint_patterns, 'img.cdn.example.com:443')", "split + fnmatch loop"),
    ("network.connect exact host", "allows('network.connect', 'api.example.com:443')",
     "naive_endpoint(endpoint_patterns, 'api.example.com:443')", "split + fnmatch loop"),
    ("network.connect denied", "allows('network.connect', 'evilexample.com:443')",
     "naive_endpoint(endpoint_patterns, 'evilexample.com:443')", "split + fnmatch loop"),
    ("messaging.send glob", "allows('messaging.send', 'worker-7')",
     "naive_name(names, 'worker-7')", "fnmatch loop"),
    ("storage.read exact", "allows('storage.read', 'billing')",
     "naive_name(names, 'billing')", "fnmatch loop"),
    ("policy.check messaging.send + audit line",
     "policy.check('plugin', 'messaging.send', 'worker-7')", None, "-"),
    ("policy.check filesystem.read + audit line",
     "policy.check('plugin', 'filesystem.read', file)", None, "-"),
    ("fs read: check + beneath-root open + read + done",
     "read_step(policy, file)",
     "policy.check('plugin', 'filesystem.read', file); nofollow_read(resolved)",
     "check + O_NOFOLLOW read"),
    ("policy.check network.connect + audit line",
     "policy.check('plugin', 'network.connect', 'api.example.com:443')", None, "-"),
    ("check_resolved: name -> global address",
     "policy.check_resolved('plugin', 'network.connect', 'api.example.com:443', public)", None,
     "-"),
    ("check_resolved: name -> loopback, denied + audit",
     "policy.check_resolved('plugin', 'network.connect', 'api.example.com:443', loopback)",
     None, "-"),
    ("check_resolved: literal 127.0.0.1 grant",
     "policy.check_resolved('plugin', 'network.connect', '127.0.0.1:8080', loopback)", None, "-"),
    ("address range classifier (IPv6)", "special_range(v6_global)", "naive_special(v6_global)",
     "ipaddress properties"),
    ("os.path.realpath alone (reference)", "realpath(file)", None, "-"),
    ("os.stat alone (one syscall, reference)", "stat(file)", None, "-"),
]


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    with tempfile.TemporaryDirectory() as root, open(os.devnull, "w") as devnull:
        ns = build(root, devnull)
        rows = []
        for name, ours, baseline, label in CASES:
            ours_ns = time_stmt(ours, ns, repeat=repeat, min_seconds=min_seconds)
            base_ns = (time_stmt(baseline, ns, repeat=repeat, min_seconds=min_seconds)
                       if baseline else None)
            rows.append(Comparison(name, ours_ns, label, base_ns))
        return rows
