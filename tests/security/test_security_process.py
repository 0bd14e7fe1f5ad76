"""ext-process spawn / wait / signal end to end: real children (/bin/echo, /bin/cat, /bin/sleep)
started by the `ext-proc` guest, owned per component, killed and reaped when it stops or restarts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm.host.ext_process import MAX_PROCESSES

from security_helpers import argv, denials, err, manifest, ok
from airssys_wasm.benchmarks import guests

EXT_PROC = guests.path("ext-proc")
PROC_DENIED, PROC_TIMEOUT, PROC_EXHAUSTED, PROC_INVALID_HANDLE = 0, 3, 4, 5
TERMINATE, KILL = 0, 1  # process-signal case indices


def _bin(name: str) -> str:
    return f"/bin/{name}" if os.path.exists(f"/bin/{name}") else f"/usr/bin/{name}"


ECHO, CAT, SLEEP = _bin("echo"), _bin("cat"), _bin("sleep")
GRANTS = f'[capabilities.process]\nspawn = ["{ECHO}", "{CAT}", "{SLEEP}"]'


async def spawn(host: aw.Host, name: str, executable: str, *args: str, stdin: bytes = b"") -> int:
    reply = ok(await host.request(name, b"s" + argv(executable, *args) + stdin))
    return struct.unpack("<I", reply)[0]


def wait_op(handle: int, timeout_ms: int = 2000) -> bytes:
    return b"w" + struct.pack("<II", handle, timeout_ms)


def signal_op(handle: int, sig: int) -> bytes:
    return b"k" + struct.pack("<IB", handle, sig)


def status(reply: bytes) -> tuple[int | None, int | None, bytes, bytes]:
    """(exit code, signal, stdout, stderr) of a wait reply."""
    body = ok(reply)
    has_code, code, has_sig, sig, out_len = struct.unpack("<BiBII", body[:14])
    rest = body[14:]
    return (code if has_code else None, sig if has_sig else None, rest[:out_len], rest[out_len:])


def alive(pid: int) -> bool:
    """Running or a zombie nobody reaped: /proc still lists it."""
    return Path(f"/proc/{pid}").exists()


def running(pid: int) -> bool:
    """Listed and not a zombie (an orphan's zombie waits for init, which may be slow to reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.fixture
async def proc(host: aw.Host) -> aw.Host:
    await host.spawn("proc", EXT_PROC, manifest=manifest("proc", GRANTS))
    return host


async def test_spawn_then_wait_returns_exit_code_and_output(proc, audit) -> None:
    handle = await spawn(proc, "proc", ECHO, "hello", "world")
    assert status(await proc.request("proc", wait_op(handle))) == (0, None, b"hello world\n", b"")
    # stdin reaches the child; the handle is released by the wait that saw the exit
    handle = await spawn(proc, "proc", CAT, stdin=b"piped through cat")
    assert status(await proc.request("proc", wait_op(handle)))[2] == b"piped through cat"
    case, _ = err(await proc.request("proc", wait_op(handle)))
    assert case == PROC_INVALID_HANDLE
    assert [r.decision for r in audit.records if r.kind == "process.spawn"] == \
        ["allow", "done", "allow", "done"]
    assert {r.performed for r in audit.records if r.decision == "done"} == \
        {os.path.realpath(ECHO), os.path.realpath(CAT)}


async def test_signal_terminate_is_reported_by_wait(proc) -> None:
    handle = await spawn(proc, "proc", SLEEP, "30")
    [pid] = proc.processes.pids("proc")
    assert ok(await proc.request("proc", signal_op(handle, TERMINATE))) == b""
    code, sig, _, _ = status(await proc.request("proc", wait_op(handle)))
    assert (code, sig) == (None, signal.SIGTERM)
    assert not alive(pid)  # reaped by the wait


async def test_wait_timeout_leaves_the_process_running(proc) -> None:
    handle = await spawn(proc, "proc", SLEEP, "30")
    [pid] = proc.processes.pids("proc")
    case, text = err(await proc.request("proc", wait_op(handle, timeout_ms=50)))
    assert case == PROC_TIMEOUT and "still runs" in text
    assert alive(pid) and proc.processes.pids("proc") == [pid]  # the handle stays valid
    ok(await proc.request("proc", signal_op(handle, KILL)))
    assert status(await proc.request("proc", wait_op(handle)))[:2] == (None, signal.SIGKILL)


async def test_handles_of_another_component_are_invalid(proc) -> None:
    await proc.spawn("other", EXT_PROC, manifest=manifest("other", GRANTS))
    handle = await spawn(proc, "proc", SLEEP, "30")
    [pid] = proc.processes.pids("proc")
    for op in (wait_op(handle, 50), signal_op(handle, KILL)):
        case, text = err(await proc.request("other", op))
        assert case == PROC_INVALID_HANDLE and "not a live process of this component" in text
    assert alive(pid)  # other's signal did not reach it
    for bogus in (0, handle + 1000):
        assert err(await proc.request("proc", wait_op(bogus, 50)))[0] == PROC_INVALID_HANDLE


async def test_stopping_the_component_kills_and_reaps_its_children(proc) -> None:
    for _ in range(2):
        await spawn(proc, "proc", SLEEP, "30")
    pids = proc.processes.pids("proc")
    assert len(pids) == 2 and all(alive(p) for p in pids)
    await proc.stop("proc")
    assert not any(alive(p) for p in pids)
    assert proc.processes.pids("proc") == []


async def test_a_restart_kills_the_children_of_the_old_instance(proc) -> None:
    handle = await spawn(proc, "proc", SLEEP, "30")
    [pid] = proc.processes.pids("proc")
    with pytest.raises(aw.TrapError):
        await proc.request("proc", b"?")  # unknown command: unreachable, the actor restarts
    # the next request runs in the new instance, which starts with no handles
    assert err(await proc.request("proc", wait_op(handle, 50)))[0] == PROC_INVALID_HANDLE
    assert not alive(pid)


async def test_spawn_is_checked_and_audited(proc, audit) -> None:
    for denied in ("/bin/sh", f"{Path(SLEEP).parent}/../bin/sh", "sleep"):
        case, text = err(await proc.request("proc", b"s" + argv(denied, "-c", "id")))
        assert case == PROC_DENIED and "process.spawn" in text, denied
    assert [r.target for r in denials(audit, "process.spawn")] == \
        ["/bin/sh", f"{Path(SLEEP).parent}/../bin/sh", "sleep"]
    assert proc.processes.pids("proc") == []


async def test_live_processes_per_component_are_capped(proc) -> None:
    for _ in range(MAX_PROCESSES):
        await spawn(proc, "proc", SLEEP, "30")
    case, text = err(await proc.request("proc", b"s" + argv(SLEEP, "30")))
    assert case == PROC_EXHAUSTED and str(MAX_PROCESSES) in text
    assert len(proc.processes.pids("proc")) == MAX_PROCESSES


async def test_spawned_children_get_an_empty_environment_and_root_cwd(host, monkeypatch) -> None:
    monkeypatch.setenv("AIRSSYS_SECRET", "leaked")
    env, pwd = _bin("env"), _bin("pwd")
    grants = f'[capabilities.process]\nspawn = ["{env}", "{pwd}"]'
    await host.spawn("p", EXT_PROC, manifest=manifest("p", grants))
    handle = await spawn(host, "p", env)
    assert status(await host.request("p", wait_op(handle)))[:3] == (0, None, b"")
    handle = await spawn(host, "p", pwd)
    assert status(await host.request("p", wait_op(handle)))[2] == b"/\n"


async def test_stop_also_kills_what_a_child_started(host) -> None:
    """A child's own children share its process group: release kills the group, not one pid."""
    sh = _bin("sh")
    await host.spawn("p", EXT_PROC, manifest=manifest("p", f'[capabilities.process]\nspawn = ["{sh}"]'))
    handle = await spawn(host, "p", sh, "-c", f"{SLEEP} 30 & echo $!; wait")
    [pid] = host.processes.pids("p")
    grandchild = None
    for _ in range(100):  # the shell reports its child's pid as soon as it started it
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists() and children.read_text().split():
            grandchild = int(children.read_text().split()[0])
            break
        await asyncio.sleep(0.01)
    assert grandchild is not None and running(grandchild)
    await host.stop("p")
    assert not alive(pid)  # the child: killed and reaped
    for _ in range(100):  # the grandchild: killed; reaping it is init's job, signals are async
        if not running(grandchild):
            break
        await asyncio.sleep(0.01)
    assert not running(grandchild)
    assert handle > 0
