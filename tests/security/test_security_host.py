"""Security end to end: real components, a real Host, the default (secure) provider.

Guests built from WAT (``examples/wat/ext-*.wat``) call the ext-filesystem, ext-network and
ext-process interfaces; every call passes ``HostSecurity.check`` and leaves an audit line.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.security import HostSecurity, MemoryAuditSink, load_manifest

from security_helpers import EXAMPLES, EchoServer, argv, denials, err, manifest, ok
from airssys_wasm.benchmarks import guests

EXT_FS = EXAMPLES / "ext-fs.wat"
EXT_NET = guests.path("ext-net")
EXT_PROC = guests.path("ext-proc")
PINGPONG = guests.path("pingpong")

# Case indices of the WIT error variants (types.wit).
FILE_NOT_FOUND, FILE_DENIED, FILE_INVALID_PATH = 0, 1, 3
NET_DENIED, NET_TIMEOUT, NET_EXHAUSTED = 0, 2, 5
PROC_DENIED, PROC_TIMEOUT, PROC_EXHAUSTED, PROC_INVALID_HANDLE = 0, 3, 4, 5
MSG_EXHAUSTED = 4  # messaging-error resource-exhausted


# --- filesystem -------------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path.resolve()
    (root / "data" / "out").mkdir(parents=True)
    (root / "data" / "a.txt").write_bytes(b"inside the grant")
    (root / "secret.txt").write_bytes(b"outside the grant")
    (root / "data" / "escape").symlink_to(root / "secret.txt")
    return root


def fs_manifest(root: Path) -> str:
    data = root / "data"
    return manifest("files", f"""[capabilities.filesystem]
read = ["{data}/**"]
list = ["{data}"]
write = ["{data}/out/**"]
delete = ["{data}/out/**"]""")


async def test_ext_filesystem_reads_inside_the_grant_and_nowhere_else(host, audit, tree) -> None:
    await host.spawn("files", EXT_FS, manifest=fs_manifest(tree))
    data = tree / "data"

    def read(path: str) -> bytes:
        return host.request("files", b"r" + path.encode())

    assert ok(await read(f"{data}/a.txt")) == b"inside the grant"
    assert ok(await read(f"{data}//out/../a.txt")) == b"inside the grant"  # normalised, still inside
    for escape in (f"{data}/../secret.txt",          # .. out of the grant
                   f"{data}/out/../../secret.txt",
                   f"{data}/escape",                 # symlink pointing outside
                   "/etc/passwd",
                   "data/a.txt"):                    # relative: never matches an absolute grant
        case, text = err(await read(escape))
        assert case == FILE_DENIED, escape
        assert "filesystem.read" in text and "Component.toml" in text
    case, text = err(await read(f"{data}/out"))  # a directory: a file-error, not a host crash
    assert case == FILE_INVALID_PATH and "Is a directory" in text


async def test_ext_filesystem_denials_are_audited_with_resolved_paths(host, audit, tree) -> None:
    await host.spawn("files", EXT_FS, manifest=fs_manifest(tree))
    data = tree / "data"
    err(await host.request("files", f"r{data}/escape".encode()))
    ok(await host.request("files", f"r{data}/a.txt".encode()))
    deny = denials(audit, "filesystem.read")
    assert len(deny) == 1
    assert deny[0].component == "files" and deny[0].target == f"{data}/escape"
    assert deny[0].resolved == str(tree / "secret.txt")  # where the link really pointed
    allow = [r for r in audit.records if r.kind == "filesystem.read" and r.decision == "allow"]
    assert [r.resolved for r in allow] == [str(data / "a.txt")]
    line = json.loads(audit.lines[-1])
    assert {"time", "component", "kind", "target", "decision", "reason"} <= set(line)


async def test_ext_filesystem_write_list_stat_delete(host, audit, tree) -> None:
    await host.spawn("files", EXT_FS, manifest=fs_manifest(tree))
    data = tree / "data"
    target = f"{data}/out/new.txt".encode()
    assert ok(await host.request("files", b"w" + bytes([len(target)]) + target + b"written")) == b""
    assert (data / "out" / "new.txt").read_bytes() == b"written"
    listing = ok(await host.request("files", f"l{data}".encode())).decode()
    assert listing == "a.txt\nescape\nout\n"
    size, is_dir, _, modified = struct.unpack("<QB7sQ", ok(await host.request("files", b"s" + target)))
    assert (size, is_dir) == (7, 0) and modified > 0
    assert ok(await host.request("files", b"d" + target)) == b""
    assert not (data / "out" / "new.txt").exists()
    assert err(await host.request("files", b"d" + target))[0] == FILE_NOT_FOUND
    # Outside the write/delete grants: refused, and nothing changed on disk.
    outside = f"{data}/a.txt".encode()
    assert err(await host.request("files", b"w" + bytes([len(outside)]) + outside + b"x"))[0] \
        == FILE_DENIED
    assert err(await host.request("files", b"d" + outside))[0] == FILE_DENIED
    assert (data / "a.txt").read_bytes() == b"inside the grant"
    # list is granted on data itself, not on its subdirectories
    assert err(await host.request("files", f"l{data}/out".encode()))[0] == FILE_DENIED
    assert [r.kind for r in denials(audit, "filesystem.write")] == ["filesystem.write"]
    assert [r.kind for r in denials(audit, "filesystem.delete")] == ["filesystem.delete"]


async def test_write_through_a_symlink_swapped_in_is_refused(host, tree) -> None:
    """A symlink inside the write grant that points outside resolves outside: denied, and the
    file it points to is untouched."""
    await host.spawn("files", EXT_FS, manifest=fs_manifest(tree))
    (tree / "data" / "out" / "link").symlink_to(tree / "secret.txt")
    path = f"{tree}/data/out/link".encode()
    assert err(await host.request("files", b"w" + bytes([len(path)]) + path + b"pwned"))[0] \
        == FILE_DENIED
    assert (tree / "secret.txt").read_bytes() == b"outside the grant"


async def test_a_component_must_be_granted_the_extension_it_imports(host, tree) -> None:
    with pytest.raises(aw.PermissionDenied) as no_manifest:
        await host.spawn("files", EXT_FS)
    message = str(no_manifest.value)
    assert "airssys:ext-filesystem/filesystem@1.0.0" in message and "filesystem.read" in message
    with pytest.raises(aw.PermissionDenied, match="ext-network"):
        await host.spawn("net", EXT_NET, manifest=fs_manifest(tree))
    assert host.names() == []
    # the refused spawn registered nothing: the name is free and has no grant left behind
    assert host.security.policy.grant("net") is None


async def test_without_a_manifest_a_component_may_message_but_not_touch_files(host, audit) -> None:
    await host.spawn("a", PINGPONG)
    await host.spawn("b", PINGPONG)
    assert await host.request("a", b"send\x00b") == b"sent"
    assert [(r.component, r.kind, r.target, r.decision) for r in audit.records] == [
        ("a", "messaging.send", "b", "allow")]
    decision = host.security.check("a", "filesystem.read", "/etc/passwd")
    assert not decision.allowed and decision.error == "permission-denied"


# --- messaging: grants and quotas ------------------------------------------------------------

async def test_messaging_grant_limits_targets(host, audit) -> None:
    caps = '[capabilities.messaging]\nsend = ["worker-*"]'
    await host.spawn("a", PINGPONG, manifest=manifest("a", caps))
    await host.spawn("worker-1", PINGPONG)
    await host.spawn("admin", PINGPONG)
    assert await host.request("a", b"send\x00worker-1") == b"sent"
    refused = await host.request("a", b"send\x00admin")
    assert b"may not send to 'admin'" in refused and b"messaging.send" in refused
    assert [(r.target, r.decision) for r in audit.records] == [("worker-1", "allow"),
                                                               ("admin", "deny")]


async def test_message_rate_quota_is_enforced_and_audited(host, audit) -> None:
    caps = '[capabilities.messaging]\nsend = ["b"]'
    quota = "messages_per_second = 0.001\nmessage_burst = 3"
    await host.spawn("a", PINGPONG, manifest=manifest("a", caps, quota))
    await host.spawn("b", PINGPONG)
    accepted = struct.unpack("<I", await host.request("a", b"brst" + struct.pack("<I", 10) + b"b"))[0]
    assert accepted == 3  # the burst, then resource-exhausted
    over = denials(audit, "messaging.send")
    assert len(over) == 7 and all(r.reason.startswith("quota exceeded") for r in over)
    # the guest sees the messaging-error case resource-exhausted (tag 1 = err, case index)
    assert await host.request("a", b"why?") == bytes([1, MSG_EXHAUSTED])
    refused = await host.request("a", b"send\x00b")
    assert b"messages_per_second" in refused
    assert await host.request("a", b"why?") == bytes([1, MSG_EXHAUSTED])


# --- network ------------------------------------------------------------------------------------

@pytest.fixture
def server():
    srv = EchoServer()
    yield srv
    srv.close()


def roundtrip(address: str, data: bytes) -> bytes:
    return b"x" + bytes([len(address)]) + address.encode() + data


async def test_ext_network_connects_only_to_granted_endpoints(host, audit, server) -> None:
    granted = f"127.0.0.1:{server.port}"
    caps = f'[capabilities.network]\nconnect = ["{granted}"]'
    await host.spawn("net", EXT_NET, manifest=manifest("net", caps))
    assert ok(await host.request("net", roundtrip(granted, b"hello"))) == b"echo:hello"
    for other in (f"127.0.0.1:{server.port + 1}", f"localhost:{server.port}", "10.0.0.1:80"):
        case, text = err(await host.request("net", roundtrip(other, b"x")))
        assert case == NET_DENIED and "network.connect" in text, other
    assert server.accepted == 1  # the denied ones never reached a socket
    assert [r.decision for r in audit.records if r.kind == "network.connect"] == \
        ["allow", "done", "allow", "allow", "deny", "deny", "deny"]  # connect (+ what it
    # connected), send, receive; 3 denials
    assert [r.performed for r in audit.records if r.decision == "done"] == [granted]


async def test_a_silent_peer_cannot_hold_the_guest_past_its_deadline(host) -> None:
    """The guest asks receive() for 2 s; its call deadline is 100 ms. The host stops waiting at
    the deadline: a network-error timeout (or the epoch trap as the guest resumes late)."""
    silent = EchoServer(limit=1, silent=True)
    try:
        granted = f"127.0.0.1:{silent.port}"
        caps = f'[capabilities.network]\nconnect = ["{granted}"]'
        await host.spawn("net", EXT_NET, manifest=manifest("net", caps, limits="timeout_ms = 100"))
        try:
            case, text = err(await host.request("net", roundtrip(granted, b"hi"), timeout=5.0))
            assert case == NET_TIMEOUT and text.startswith("nothing from"), text
        except aw.TrapError as trap:
            assert trap.kind is aw.TrapKind.TIMEOUT
    finally:
        silent.close()


async def test_network_bandwidth_quota(host, audit, server) -> None:
    granted = f"127.0.0.1:{server.port}"
    caps = f'[capabilities.network]\nconnect = ["{granted}"]'
    await host.spawn("net", EXT_NET, manifest=manifest("net", caps,
                                                       "network_bytes_per_second = 16"))
    case, text = err(await host.request("net", roundtrip(granted, b"y" * 64)))
    assert case == NET_EXHAUSTED and "network_bytes_per_second" in text
    assert any(r.reason.startswith("quota exceeded") for r in denials(audit, "network.connect"))


# --- process ------------------------------------------------------------------------------------

def run_op(executable: str, *args: str) -> bytes:
    return b"x" + argv(executable, *args)


async def test_ext_process_runs_only_granted_executables(host, audit) -> None:
    caps = '[capabilities.process]\nspawn = ["/bin/echo"]'
    await host.spawn("proc", EXT_PROC, manifest=manifest("proc", caps))
    reply = ok(await host.request("proc", run_op("/bin/echo", "hello", "world")))
    assert struct.unpack("<i", reply[:4])[0] == 0 and reply[4:] == b"hello world\n"
    for denied in ("/bin/sh", "/bin/../bin/sh", "echo"):
        case, text = err(await host.request("proc", run_op(denied, "-c", "id")))
        assert case == PROC_DENIED and "process.spawn" in text, denied
    assert [r.decision for r in audit.records if r.kind == "process.spawn"] == \
        ["allow", "done", "deny", "deny", "deny"]


async def test_spawned_processes_get_no_inherited_environment(host, monkeypatch) -> None:
    monkeypatch.setenv("AIRSSYS_SECRET", "leaked")
    env = "/usr/bin/env" if os.path.exists("/usr/bin/env") else "/bin/env"
    caps = f'[capabilities.process]\nspawn = ["{env}"]'
    await host.spawn("proc", EXT_PROC, manifest=manifest("proc", caps))
    reply = ok(await host.request("proc", run_op(env)))
    assert b"AIRSSYS_SECRET" not in reply[4:] and reply[4:] == b""


# --- trust levels, limits, lifecycle --------------------------------------------------------------

async def test_untrusted_components_need_a_manifest(host) -> None:
    with pytest.raises(aw.ManifestError, match="untrusted"):
        await host.spawn("u", PINGPONG, trust="untrusted")
    await host.spawn("u", PINGPONG, trust="untrusted", manifest=manifest("u"))
    assert host.ref("u").state.value == "running"


async def test_manifest_limits_apply_and_trust_ceilings_hold(host) -> None:
    ref = await host.spawn("p", PINGPONG, manifest=manifest("p", limits='memory = "8MiB"'))
    assert host.registry.get("p").limits.memory_bytes == 8 << 20
    assert ref.component_id.version == "1.0.0"
    with pytest.raises(aw.ManifestError, match="exceeds the untrusted ceiling"):
        await host.spawn("q", PINGPONG, trust="untrusted",
                         manifest=manifest("q", limits='memory = "1GiB"'))


async def test_grants_are_released_when_the_component_stops(host) -> None:
    await host.spawn("p", PINGPONG, manifest=manifest("p"))
    assert host.security.policy.grant("p") is not None
    await host.stop("p")
    assert host.security.policy.grant("p") is None
    await host.spawn("p", PINGPONG)  # the name can be admitted again
    with pytest.raises(ValueError):  # refused after admission: the grant does not linger
        await host.spawn("q", PINGPONG, manifest=manifest("q"), restart="sometimes")
    assert host.security.policy.grant("q") is None


async def test_spawn_takes_a_parsed_manifest_object(host) -> None:
    parsed = load_manifest(manifest("p", '[capabilities.messaging]\nsend = ["nobody"]'))
    ref = await host.spawn("p", PINGPONG, manifest=parsed)
    assert ref.component_id.version == "1.0.0"
    assert host.security.policy.grant("p").manifest is parsed  # parsed once, not re-read


async def test_allow_all_is_explicit_and_for_trusted_components_only(engine, tree) -> None:
    config = HostConfig(health=None, security=HostSecurity.allow_all())
    async with Host(config, engine=engine) as host:
        with pytest.raises(aw.ConfigError, match="only runs trusted components"):
            await host.spawn("p", PINGPONG)
        await host.spawn("p", PINGPONG, trust="trusted")
        assert host.security.check("p", "filesystem.read", "/etc/hostname").allowed


async def test_audit_sink_is_configurable(engine) -> None:
    sink = MemoryAuditSink()
    async with Host(HostConfig(health=None, audit=[sink]), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG)
        await host.request("a", b"send\x00b")
    assert [r.decision for r in sink.records] == ["allow"]


async def test_a_child_process_cannot_outlive_the_call_deadline(host) -> None:
    """The guest asks for 2 s, its call deadline is 100 ms: the host kills `sleep 30` at the
    deadline, so the call ends with a timeout (an error value, or the epoch trap if the guest
    resumes past its deadline) instead of waiting 30 s."""
    sleep = "/bin/sleep" if os.path.exists("/bin/sleep") else "/usr/bin/sleep"
    caps = f'[capabilities.process]\nspawn = ["{sleep}"]'
    await host.spawn("proc", EXT_PROC, manifest=manifest("proc", caps, limits="timeout_ms = 100"))
    try:
        case, text = err(await host.request("proc", run_op(sleep, "30"), timeout=5.0))
        assert case == PROC_TIMEOUT and text.startswith(sleep) and "was killed" in text
    except aw.TrapError as trap:
        assert trap.kind is aw.TrapKind.TIMEOUT


async def test_run_at_its_deadline_kills_grandchildren_too(host) -> None:
    """`sh` leaves a background `sleep` holding the output pipe: killing only `sh` would keep
    the host reading until the sleep ends. The whole process group goes at the deadline."""
    shell = os.path.realpath("/bin/sh")
    caps = f'[capabilities.process]\nspawn = ["{shell}"]'
    await host.spawn("proc", EXT_PROC, manifest=manifest("proc", caps, limits="timeout_ms = 200"))
    marker = "31.4159"
    try:
        case, text = err(await host.request("proc", run_op(shell, "-c", f"sleep {marker} & wait"),
                                            timeout=5.0))
        assert case == PROC_TIMEOUT and "was killed" in text
    except aw.TrapError as trap:
        assert trap.kind is aw.TrapKind.TIMEOUT

    def survivors() -> list[str]:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if cmdline.read_bytes() == b"sleep\x00" + marker.encode() + b"\x00":
                    found.append(cmdline.parent.name)
            except OSError:
                continue  # the process ended while we looked
        return found

    # When the guest's deadline trap came first (a loaded machine), the I/O worker sends the
    # kill moments later, at the end of its own budget; and a killed process still needs a turn
    # on a CPU to die. Bounded: an unkilled one would live 31 s.
    for _ in range(200):
        if not survivors():
            break
        await asyncio.sleep(0.01)
    assert survivors() == []


# --- WASI p2 ------------------------------------------------------------------------------------

WASI_PROBE = EXAMPLES / "wasi-probe.wat"
WASI_READ, WASI_MUTATE_DIRECTORY = 0x01, 0x20
WASI_NOT_PERMITTED = 31  # wasi:filesystem error-code index


def preopens(reply: bytes) -> list[tuple[int, str]]:
    body, out = ok(reply), []
    while body:
        flags, n = body[0], body[1]
        out.append((flags, body[2:2 + n].decode()))
        body = body[2 + n:]
    return out


async def test_wasi_guest_sees_only_read_only_preopens_of_its_read_grant(host, audit, tree) -> None:
    data = tree / "data"
    await host.spawn("w", WASI_PROBE, manifest=manifest(
        "w", f'[capabilities.filesystem]\nread = ["{data}/**"]'))
    assert preopens(await host.request("w", b"p")) == [(WASI_READ, str(data))]
    assert ok(await host.request("w", b"r\x00a.txt")) == b"inside the grant"
    for escape in (b"../secret.txt", b"escape", str(tree / "secret.txt").encode()):
        assert err(await host.request("w", b"r\x00" + escape))[0] == WASI_NOT_PERMITTED, escape
    assert [(r.kind, r.target, r.decision, r.reason) for r in audit.records] == [
        ("filesystem.read", str(data), "allow", "WASI preopen (read-only)")]


async def test_wasi_preopen_is_writable_only_with_write_and_delete(host, tree) -> None:
    data = tree / "data"
    caps = f'[capabilities.filesystem]\nread = ["{data}/**"]\nwrite = ["{data}/**"]'
    await host.spawn("ro", WASI_PROBE, manifest=manifest("ro", caps))
    assert preopens(await host.request("ro", b"p")) == [(WASI_READ, str(data))]
    await host.spawn("rw", WASI_PROBE, manifest=manifest("rw", caps + f'\ndelete = ["{data}/**"]'))
    [(flags, _)] = preopens(await host.request("rw", b"p"))
    assert flags & WASI_MUTATE_DIRECTORY


async def test_wasi_guest_without_a_manifest_sees_no_directories(host) -> None:
    assert preopens(await host.request((await host.spawn("w", WASI_PROBE)).name, b"p")) == []
