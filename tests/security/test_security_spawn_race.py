"""Spawn what was checked: the ``ext-proc`` guest runs a granted executable while its path is
swapped for a link to another binary (a real racing process) or replaced after the check (a
provider that does the replacing right after deciding). Nothing but the checked file may run.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.host.ext_process import EXEC_BY_FD
from airssys_wasm.security import HostSecurity, MemoryAuditSink

from security_helpers import argv, err, manifest, ok
from airssys_wasm.benchmarks import guests

pytestmark = pytest.mark.skipif(not EXEC_BY_FD, reason="executing by descriptor needs Linux")

EXT_PROC = guests.path("ext-proc")
PROC_DENIED, PROC_SPAWN_FAILED = 0, 2  # process-error case indices


def _bin(name: str) -> str:
    return os.path.realpath(shutil.which(name) or f"/bin/{name}")


def run_op(executable: str, *args: str) -> bytes:
    return b"x" + argv(executable, *args)


def wait_op(handle: int) -> bytes:
    return b"w" + struct.pack("<II", handle, 2000)


def script(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path))  # the paths the kernel reports
    (root / "bin").mkdir()
    return root


# The racer: a separate process (a thread would share the GIL with the host) exchanging the two
# names as fast as it can. renameat2(RENAME_EXCHANGE) swaps them atomically, so the granted
# name always exists: half the time as the real file, half as a symlink to the other binary.
# A pause of ~0.1 ms after each exchange keeps the two states long enough for a call to see
# one of them twice (so some runs get through) and short enough for the check-to-exec window
# of a path-string exec to straddle a swap often. Bounded: it stops by itself after `seconds`
# even if the test dies without killing it.
RACER = r"""
import ctypes, os, sys, time
a, b, seconds, pause = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
libc = ctypes.CDLL(None, use_errno=True)
SYS_renameat2 = {"x86_64": 316, "aarch64": 276}[os.uname().machine]
AT_FDCWD, RENAME_EXCHANGE = -100, 2
pa, pb = a.encode(), b.encode()
ends, swaps = time.monotonic() + seconds, 0
print("ready", flush=True)
while time.monotonic() < ends:
    for _ in range(20):
        if libc.syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, pb, RENAME_EXCHANGE) != 0:
            sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
        swaps += 1
        time.sleep(pause)
    if swaps % 2 == 0 and os.path.exists(a + ".stop"):
        break
if swaps % 2:  # leave the granted name as the real file
    libc.syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, pb, RENAME_EXCHANGE)
    swaps += 1
print(swaps, flush=True)
"""


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="renameat2 number")
async def test_a_path_swapped_for_a_symlink_while_running_never_runs_the_other_binary(
        host: Host, audit: MemoryAuditSink, tree: Path) -> None:
    granted = tree / "bin" / "tool"
    shutil.copy2(_bin("echo"), granted)  # a real binary: prints its arguments
    other = script(tree / "other", "echo OTHER")  # must never run
    link = tree / "bin" / "link"
    link.symlink_to(other)
    # A generous deadline: the racer process competes with every run for the two cores.
    await host.spawn("proc", EXT_PROC, manifest=manifest(
        "proc", f'[capabilities.process]\nspawn = ["{granted}"]', limits="timeout_ms = 10000"))
    racer = subprocess.Popen([sys.executable, "-c", RACER, str(granted), str(link), "30",
                              os.environ.get("RACE_PAUSE", "0.0001")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        outputs: list[bytes] = []
        refused: list[str] = []
        for i in range(2000):
            if i % 5 < 3:  # run: checked on the loop, executed in the I/O pool
                reply = await host.request("proc", run_op(str(granted), "ran", str(i)), timeout=10)
                if reply[:1] == b"\x00":
                    outputs.append(reply[5:])
                    continue
            else:  # spawn + wait: checked and executed in one synchronous step
                reply = await host.request("proc", b"s" + argv(str(granted), "ran", str(i)), timeout=10)
                if reply[:1] == b"\x00":
                    handle = struct.unpack("<I", reply[1:5])[0]
                    outputs.append(ok(await host.request("proc", wait_op(handle), timeout=10))[14:])
                    continue
            case, text = err(reply)
            assert case == PROC_DENIED, text
            refused.append(text)
    finally:
        Path(f"{granted}.stop").touch()
        swaps = int(racer.communicate(timeout=10)[0].strip() or 0)
    assert racer.returncode == 0 and swaps > 2000
    assert not [out for out in outputs if b"OTHER" in out]
    assert all(out.startswith(b"ran ") for out in outputs)
    # the race really ran both ways: some calls got through, some met the symlink
    assert len(outputs) > 100 and len(refused) > 100, (len(outputs), len(refused))
    # every done line names the file that ran: the echo copy, by the name it had when the host
    # read its descriptor back (an exchange right then gives it the link's name), never `other`
    done = [r.performed for r in audit.records if r.kind == "process.spawn" and r.decision == "done"]
    assert len(done) == len(outputs) and str(granted) in done
    assert set(done) <= {str(granted), str(link)}


@dataclass
class AfterCheck:
    """A SecurityProvider that decides like HostSecurity, then runs ``act`` right after an
    allowed process.spawn check: the attacker winning the race between check and exec, every
    time."""

    inner: HostSecurity
    act: Callable[[], None]
    strip_inode: bool = False

    def admit(self, name, manifest, *, trust, base_limits, wasi=False):  # type: ignore[no-untyped-def]
        return self.inner.admit(name, manifest, trust=trust, base_limits=base_limits, wasi=wasi)

    def release(self, name: str) -> None:
        self.inner.release(name)

    def check(self, component, kind, target, *, amount=None):  # type: ignore[no-untyped-def]
        decision = self.inner.check(component, kind, target, amount=amount)
        if kind == "process.spawn" and decision.allowed:
            self.act()
            if self.strip_inode:
                return _NoInode(decision.allowed, decision.reason, decision.error,
                                decision.resolved_path)
        return decision

    def check_resolved(self, component, kind, target, addresses, *, failure=None):  # type: ignore[no-untyped-def]
        return self.inner.check_resolved(component, kind, target, addresses, failure=failure)

    def performed(self, component: str, kind: str, target: object, what: str) -> None:
        self.inner.performed(component, kind, target, what)


@dataclass(frozen=True)
class _NoInode:
    """A provider's decision that says which path it checked, but not which file."""

    allowed: bool
    reason: str
    error: str | None
    resolved_path: str | None


async def _probe(engine: aw.Engine, provider: object, executable: str) -> list[bytes]:
    """Run then spawn ``executable`` through the guest under ``provider``: both replies."""
    async with Host(HostConfig(health=None, security=provider), engine=engine) as host:
        await host.spawn("proc", EXT_PROC, manifest=manifest(
            "proc", f'[capabilities.process]\nspawn = ["{executable}"]'))
        return [await host.request("proc", run_op(executable, "x")),
                await host.request("proc", b"s" + argv(executable, "x")),
                await host.request("proc", run_op(executable, "still", "serving"))]


async def test_a_regular_file_replaced_after_the_check_is_not_executed(engine, tree) -> None:
    granted = script(tree / "bin" / "tool", 'echo "granted $*"')
    other = script(tree / "other", "echo OTHER")
    audit = MemoryAuditSink()

    def replace() -> None:  # rename over: same name, same type, a fresh inode every time
        shutil.copy2(other, f"{other}.new")
        os.rename(f"{other}.new", granted)

    replies = await _probe(engine, AfterCheck(HostSecurity(audit=audit), replace), granted)
    for reply in replies:
        case, text = err(reply)
        assert case == PROC_DENIED and "replaced between the process.spawn check and the exec" \
            in text and "try again" in text
    # the check saw the granted file; the host refused once the name held another inode
    assert [r.decision for r in audit.records if r.kind == "process.spawn"] == ["allow"] * 3


async def test_a_symlink_swapped_in_after_the_check_is_not_followed(engine, tree) -> None:
    granted = script(tree / "bin" / "tool", 'echo "granted $*"')
    other = script(tree / "other", "echo OTHER")

    def to_link() -> None:
        if not os.path.islink(granted):
            os.symlink(other, f"{granted}.link")
            os.rename(f"{granted}.link", granted)

    replies = await _probe(engine, AfterCheck(HostSecurity(audit=[]), to_link), granted)
    case, text = err(replies[0])
    assert case == PROC_DENIED and "became a symlink" in text
    # from then on the check itself sees the link to an ungranted file
    assert [err(r)[0] for r in replies[1:]] == [PROC_DENIED, PROC_DENIED]


async def test_a_decision_without_the_checked_inode_runs_nothing(engine, tree) -> None:
    granted = script(tree / "bin" / "tool", 'echo "granted $*"')
    replies = await _probe(engine, AfterCheck(HostSecurity(audit=[]), lambda: None,
                                              strip_inode=True), granted)
    for reply in replies:
        case, text = err(reply)
        assert case == PROC_DENIED and "resolved_inode" in text


async def test_scripts_run_through_the_descriptor(host, audit, tree) -> None:
    granted = script(tree / "bin" / "tool", 'echo "granted $*"; echo "$0"')
    await host.spawn("proc", EXT_PROC, manifest=manifest(
        "proc", f'[capabilities.process]\nspawn = ["{granted}"]'))
    out = ok(await host.request("proc", run_op(granted, "a", "b")))[4:].decode().splitlines()
    assert out[0] == "granted a b" and out[1].startswith("/proc/self/fd/")
    [done] = [r for r in audit.records if r.decision == "done"]
    assert (done.component, done.kind, done.target, done.performed) == \
        ("proc", "process.spawn", granted, granted)


async def test_the_child_inherits_only_its_pipes_and_its_executable(host) -> None:
    ls = _bin("ls")
    await host.spawn("proc", EXT_PROC, manifest=manifest(
        "proc", f'[capabilities.process]\nspawn = ["{ls}"]'))
    listing = ok(await host.request("proc", run_op(ls, "-l", "/proc/self/fd")))[4:].decode()
    targets = {line.split(" -> ")[0].split()[-1]: line.split(" -> ")[1]
               for line in listing.splitlines() if " -> " in line}
    assert {targets[fd].split(":")[0] for fd in ("0", "1", "2")} <= {"pipe", "/dev/null"}
    rest = {t for fd, t in targets.items() if fd not in ("0", "1", "2")}
    # ls's own handle on the directory it lists, and the descriptor it was executed from
    assert {t for t in rest if not t.startswith("/proc/")} == {ls}, listing
    assert len(rest) == 2, listing


async def test_what_cannot_be_executed_is_refused_with_the_reason(host, tree) -> None:
    plain = tree / "bin" / "plain"
    plain.write_text("#!/bin/sh\necho no\n")
    plain.chmod(0o644)
    folder = tree / "bin" / "folder"
    folder.mkdir()
    await host.spawn("proc", EXT_PROC, manifest=manifest(
        "proc", f'[capabilities.process]\nspawn = ["{tree}/bin/*"]'))
    case, text = err(await host.request("proc", run_op(str(plain))))
    assert case == PROC_SPAWN_FAILED and "no execute permission" in text and "chmod +x" in text
    case, text = err(await host.request("proc", b"s" + argv(str(folder))))
    assert case == PROC_SPAWN_FAILED and "not a regular file" in text
    case, text = err(await host.request("proc", run_op(f"{tree}/bin/missing")))
    assert case == 1 and "does not exist" in text  # not-found
