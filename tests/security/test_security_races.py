"""Filesystem operations that cannot be raced, proven with real guests through the Host API.

A background *process* keeps atomically exchanging the granted directory ``sandbox/real`` with
a symlink to a directory outside every grant (``renameat2(RENAME_EXCHANGE)``) while the guest
reads, writes and deletes inside ``sandbox/real``. Before the beneath-the-root opens this
created files outside after 31-61 attempts and read the outside secret about once per 1500
reads. Each scenario runs >= 2,000 attempts on each backend (openat2 and the openat walk) and
then checks the outside directory byte for byte. Also here: special files inside a grant,
dangling and looping symlinks, symlinks inside the grant, the audit "done" lines, and the same
swap under a WASI p2 preopen (wasmtime's own implementation).
"""

from __future__ import annotations

import os
import platform
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm._fast import _fsbeneath

from security_helpers import EXAMPLES, err, manifest, ok

EXT_FS = EXAMPLES / "ext-fs.wat"
WASI_PROBE = EXAMPLES / "wasi-probe.wat"
FILE_NOT_FOUND, FILE_DENIED, FILE_INVALID_PATH = 0, 1, 3
ATTEMPTS = 2000
SECRET = b"OUTSIDE SECRET - must never reach the guest"

_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}.get(platform.machine())
pytestmark = pytest.mark.skipif(sys.platform != "linux" or _SYS_RENAMEAT2 is None,
                                reason="the swap race needs Linux renameat2 (x86_64/aarch64)")

# Run by the background process: exchange a and b until the stop file appears, `limit` swaps
# or `lifetime` seconds pass, whichever first; always leaves them as they were (even count).
SWAPPER = r'''
import ctypes, os, sys, time
a, b, stop, nr, limit, lifetime = (sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3],
                                   int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD, RENAME_EXCHANGE = -100, 2
def swap():
    if libc.syscall(ctypes.c_long(nr), ctypes.c_int(AT_FDCWD), a, ctypes.c_int(AT_FDCWD), b,
                    ctypes.c_uint(RENAME_EXCHANGE)) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")
ends, n = time.monotonic() + lifetime, 0
print("ready", flush=True)
while n < limit and time.monotonic() < ends:
    for _ in range(200):
        swap(); n += 1
    if os.path.exists(stop):
        break
if n % 2:
    swap(); n += 1
print(n, flush=True)
'''


class Swapper:
    """The background process exchanging ``a`` and ``b``; stops by itself (bounded)."""

    def __init__(self, tmp: Path, a: Path, b: Path, lifetime: float = 15.0) -> None:
        script = tmp / "swapper.py"
        script.write_text(SWAPPER)
        self.stop_file = tmp / "stop-swapping"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(a), str(b), str(self.stop_file), str(_SYS_RENAMEAT2),
             "50000000", str(lifetime)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> int:
        """Stop it and return how many exchanges it made (the directories are as before)."""
        self.stop_file.touch()
        out, _ = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, out
        return int(out.strip())


#: Both backends where the kernel has openat2 (Linux >= 5.6), the walk alone elsewhere.
BACKENDS = (["openat2"] if _fsbeneath.HAVE_OPENAT2 else []) + ["openat-walk"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = _fsbeneath.set_backend(request.param)
    try:
        yield request.param
    finally:
        _fsbeneath.set_backend(previous)


@pytest.fixture
def arena(tmp_path: Path) -> Path:
    """sandbox/real (granted, a real directory), sandbox/swap -> outside (a symlink), outside/."""
    root = tmp_path.resolve()
    (root / "sandbox" / "real").mkdir(parents=True)
    (root / "outside").mkdir()
    (root / "sandbox" / "real" / "inside.txt").write_bytes(b"inside")
    (root / "outside" / "secret.txt").write_bytes(SECRET)
    (root / "outside" / "inside.txt").write_bytes(SECRET)  # same name as the file inside
    (root / "outside" / "victim.txt").write_bytes(SECRET)  # what an escaped delete would remove
    (root / "sandbox" / "swap").symlink_to(root / "outside")
    return root


def race_manifest(root: Path) -> str:
    """The racer's grants. Its deadline is 10 s, not the default 1 s: the swapper takes the
    filesystem's rename lock back to back, so on a loaded machine one file operation can wait
    for it past a second. These tests are about where operations land, not how fast."""
    box = root / "sandbox"
    return manifest("racer", limits="timeout_ms = 10000", capabilities=f"""[capabilities.filesystem]
read = ["{box}/**"]
write = ["{box}/real/**"]
delete = ["{box}/real/**"]
list = ["{box}/**"]""")


def outside_untouched(root: Path) -> None:
    outside = root / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["inside.txt", "secret.txt", "victim.txt"]
    for name in ("inside.txt", "secret.txt", "victim.txt"):
        assert (outside / name).read_bytes() == SECRET, name
    assert (root / "sandbox" / "real").is_dir() and not (root / "sandbox" / "real").is_symlink()


def write_op(path: str, data: bytes) -> bytes:
    raw = path.encode()
    return b"w" + bytes([len(raw)]) + raw + data


# --- the directory-swap race -------------------------------------------------------------------


async def test_swap_race_read_never_returns_outside_content(host, arena, backend) -> None:
    await host.spawn("racer", EXT_FS, manifest=race_manifest(arena))
    real = arena / "sandbox" / "real"
    swapper = Swapper(arena, real, arena / "sandbox" / "swap")
    outcomes = {"inside": 0, "refused": 0, "missing": 0}
    try:
        for i in range(ATTEMPTS):
            name = "inside.txt" if i % 2 else "secret.txt"
            reply = await host.request("racer", f"r{real}/{name}".encode(), timeout=10)
            if reply[:1] == b"\x00":
                assert reply[1:] == b"inside", f"attempt {i}: read {reply[1:]!r} outside the grant"
                outcomes["inside"] += 1
            else:
                case, _ = err(reply)
                assert case in (FILE_DENIED, FILE_NOT_FOUND)
                outcomes["refused" if case == FILE_DENIED else "missing"] += 1
    finally:
        swaps = swapper.stop()
    assert swaps > 0 and outcomes["refused"] > 0, (swaps, outcomes)  # the race really ran
    outside_untouched(arena)


async def test_swap_race_write_never_creates_a_file_outside(host, arena, backend) -> None:
    await host.spawn("racer", EXT_FS, manifest=race_manifest(arena))
    real = arena / "sandbox" / "real"
    swapper = Swapper(arena, real, arena / "sandbox" / "swap")
    written = refused = 0
    try:
        for i in range(ATTEMPTS):
            name = f"{real}/new-{i % 50}.txt" if i % 2 else f"{real}/inside.txt"
            reply = await host.request("racer", write_op(name, b"pwned"), timeout=10)
            if reply == b"\x00":
                written += 1
            else:
                assert err(reply)[0] == FILE_DENIED
                refused += 1
    finally:
        swaps = swapper.stop()
    assert swaps > 0 and written > 0 and refused > 0, (swaps, written, refused)
    outside_untouched(arena)


async def test_swap_race_delete_never_removes_a_file_outside(host, arena, backend) -> None:
    await host.spawn("racer", EXT_FS, manifest=race_manifest(arena))
    real = arena / "sandbox" / "real"
    victim = f"{real}/victim.txt"
    (real / "victim.txt").write_bytes(b"inside victim")
    swapper = Swapper(arena, real, arena / "sandbox" / "swap")
    deleted = refused = 0
    try:
        for _ in range(ATTEMPTS):
            reply = await host.request("racer", b"d" + victim.encode(), timeout=10)
            if reply == b"\x00":
                deleted += 1
                put_back(real)
            else:
                case, _ = err(reply)
                assert case in (FILE_DENIED, FILE_NOT_FOUND)
                refused += case == FILE_DENIED
    finally:
        swaps = swapper.stop()
    assert swaps > 0 and deleted > 0 and refused > 0, (swaps, deleted, refused)
    outside_untouched(arena)


def put_back(real: Path) -> None:
    """Recreate real/victim.txt from the test's side, through the real directory only (its
    name is a symlink half of the time: retry, bounded, until it is the directory)."""
    for _ in range(10_000):
        try:
            fd = _fsbeneath.open_root(str(real))
        except OSError:
            continue
        try:
            os.close(_fsbeneath.open_beneath(fd, "victim.txt", os.O_WRONLY | os.O_CREAT))
            return
        finally:
            os.close(fd)
    raise AssertionError("sandbox/real never was a directory in 10,000 tries")


# --- only regular files ------------------------------------------------------------------------


async def test_special_files_inside_a_grant_are_refused_fast_and_audited(host, audit, arena) -> None:
    await host.spawn("racer", EXT_FS, manifest=race_manifest(arena))
    real = arena / "sandbox" / "real"
    os.mkfifo(real / "fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(real / "sock"))
    specials = {"fifo": "a FIFO", "sock": "a socket"}
    try:
        os.mknod(real / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))  # like /dev/zero
        specials["zero"] = "a character device"
    except PermissionError:
        pass  # no CAP_MKNOD here: the FIFO and socket cases still run
    try:
        for name, kind in specials.items():
            path = f"{real}/{name}"
            for op in (b"r" + path.encode(), write_op(path, b"data")):
                started = time.perf_counter()
                case, text = err(await host.request("racer", op))
                elapsed = time.perf_counter() - started
                assert case == FILE_DENIED and kind in text and "regular files" in text, text
                # a blocking open would hang until the request timeout (1 s); a refusal by type
                # is immediate (0.5 s leaves room for a loaded box)
                assert elapsed < 0.5, f"{name}: {elapsed * 1000:.1f} ms"
            refusals = [r for r in audit.records if r.decision == "done" and r.target == path]
            assert len(refusals) == 2 and all(kind in r.performed for r in refusals), refusals
            assert all(r.performed.startswith(f"refused {path}") for r in refusals)
    finally:
        server.close()


async def test_the_hosts_own_devices_inside_a_grant_are_refused(host) -> None:
    """Character devices whatever the test's privileges (os.mknod above needs CAP_MKNOD):
    /dev/zero read forever and /dev/null swallows writes; both refused by type, at once."""
    await host.spawn("devs", EXT_FS, manifest=manifest(
        "devs", '[capabilities.filesystem]\nread = ["/dev/**"]\nwrite = ["/dev/**"]'))
    for path in ("/dev/zero", "/dev/null"):
        for op in (b"r" + path.encode(), write_op(path, b"data")):
            started = time.perf_counter()
            case, text = err(await host.request("devs", op))
            assert case == FILE_DENIED and "a character device" in text, text
            assert time.perf_counter() - started < 0.5  # no read of an endless device


# --- symlinks ------------------------------------------------------------------------------------


async def test_dangling_and_looping_symlinks_give_a_file_error(host, arena, backend) -> None:
    await host.spawn("racer", EXT_FS, manifest=race_manifest(arena))
    real = arena / "sandbox" / "real"
    (real / "dangling").symlink_to(real / "nothing-here")
    (real / "loop").symlink_to("loop")
    (real / "ping").symlink_to("pong")
    (real / "pong").symlink_to("ping")
    assert err(await host.request("racer", f"r{real}/dangling".encode()))[0] == FILE_NOT_FOUND
    for name in ("loop", "ping", "loop/x"):
        case, text = err(await host.request("racer", f"r{real}/{name}".encode()))
        assert case == FILE_DENIED and "symlink" in text, (name, text)
        assert err(await host.request("racer", write_op(f"{real}/{name}", b"x")))[0] == FILE_DENIED
        reply = await host.request("racer", f"s{real}/{name}".encode())
        # stat never follows a final link: "loop" is the link itself; "loop/x" is refused
        assert (reply[:1] == b"\x00" and reply[9] == 0) if name != "loop/x" \
            else err(reply)[0] == FILE_DENIED, (name, reply)
    assert ok(await host.request("racer", f"r{real}/inside.txt".encode())) == b"inside"  # serving


async def test_symlinks_inside_the_grant_keep_working_and_done_lines_name_the_real_path(
        host, audit, arena, backend) -> None:
    await host.spawn("racer", EXT_FS, manifest=race_manifest(arena))
    box, real = arena / "sandbox", arena / "sandbox" / "real"
    (box / "alias").symlink_to("real")                 # relative, a directory
    (real / "abs-link").symlink_to(real / "inside.txt")  # absolute, a file
    (real / "escape").symlink_to(arena / "outside" / "secret.txt")
    assert ok(await host.request("racer", f"r{box}/alias/inside.txt".encode())) == b"inside"
    assert ok(await host.request("racer", f"r{real}/abs-link".encode())) == b"inside"
    assert ok(await host.request("racer", write_op(f"{box}/alias/made.txt", b"via alias"))) == b""
    assert (real / "made.txt").read_bytes() == b"via alias"
    assert ok(await host.request("racer", f"l{box}/alias".encode())).decode().split() == sorted(
        ["abs-link", "escape", "inside.txt", "made.txt"])
    assert ok(await host.request("racer", f"s{box}/alias/made.txt".encode()))[:8] == \
        (9).to_bytes(8, "little")
    assert ok(await host.request("racer", f"d{box}/alias/made.txt".encode())) == b""
    assert err(await host.request("racer", f"r{real}/escape".encode()))[0] == FILE_DENIED
    done = [(r.kind, r.target, r.performed) for r in audit.records if r.decision == "done"]
    assert done == [
        ("filesystem.read", f"{box}/alias/inside.txt", f"{real}/inside.txt"),
        ("filesystem.read", f"{real}/abs-link", f"{real}/inside.txt"),
        ("filesystem.write", f"{box}/alias/made.txt", f"{real}/made.txt"),
        ("filesystem.list", f"{box}/alias", str(real)),
        ("filesystem.read", f"{box}/alias/made.txt", f"{real}/made.txt"),
        ("filesystem.delete", f"{box}/alias/made.txt", f"{real}/made.txt"),
    ]


# --- WASI p2 preopens (wasmtime's implementation) -------------------------------------------------


async def test_wasi_preopen_swap_race_under_the_preopen_never_escapes(host, arena) -> None:
    """The swap happens *below* the preopened directory: wasmtime resolves beneath the
    preopen's fd and refuses the escaping symlink (cap-std). Recorded, not changed."""
    box, real = arena / "sandbox", arena / "sandbox" / "real"
    await host.spawn("w", WASI_PROBE, manifest=manifest(
        "w", f'[capabilities.filesystem]\nread = ["{box}/**"]'))
    swapper = Swapper(arena, real, box / "swap")
    inside = refused = 0
    try:
        for i in range(ATTEMPTS):
            name = b"real/inside.txt" if i % 2 else b"real/secret.txt"
            reply = await host.request("w", b"r\x00" + name, timeout=10)
            if reply[:1] == b"\x00":
                assert reply[1:] == b"inside", f"attempt {i}: WASI read {reply[1:]!r} outside"
                inside += 1
            else:
                refused += 1
    finally:
        swaps = swapper.stop()
    assert swaps > 0 and inside > 0 and refused > 0, (swaps, inside, refused)
    outside_untouched(arena)


# --- the grant directory itself swapped while components are spawned ----------------------------

SPAWNS = 300  # successful spawns wanted (each then reads twice); attempts are bounded too
MAX_SPAWN_ATTEMPTS = 5000
SPAWN_SECONDS = 20.0


@pytest.mark.parametrize("guest", ["ext-fs", "wasi"])
async def test_swapping_the_granted_directory_at_spawn_never_exposes_outside(
        host, arena, guest) -> None:
    """The swap hits the grant's own directory while components are spawned and read. A grant
    is resolved at spawn and WASI preopens are opened at instantiation: before grant paths had
    to be real (no symlink) and preopens were opened race-free and handed over by fd, 47 of 300
    ext-fs spawns and 90 of 300 WASI spawns read the outside secret. Most spawns are refused
    while the swapper runs (the grant is seen through the symlink); the loop goes on until
    enough of them got through, within bounds."""
    real = arena / "sandbox" / "real"
    grant = manifest("s", f'[capabilities.filesystem]\nread = ["{real}/**"]')
    swapper = Swapper(arena, real, arena / "sandbox" / "swap", lifetime=SPAWN_SECONDS + 5)
    spawned = refused = attempts = 0
    ends = time.monotonic() + SPAWN_SECONDS
    try:
        while spawned < SPAWNS and attempts < MAX_SPAWN_ATTEMPTS and time.monotonic() < ends:
            name = f"s{attempts}"
            attempts += 1
            try:
                await host.spawn(name, EXT_FS if guest == "ext-fs" else WASI_PROBE, manifest=grant)
            except (aw.ManifestError, aw.PermissionDenied):
                refused += 1  # the grant went through a symlink, or the preopen was swapped
                continue
            spawned += 1
            for leaf in ("inside.txt", "secret.txt"):
                op = (b"r" + str(real / leaf).encode()) if guest == "ext-fs" \
                    else b"r\x00" + leaf.encode()
                reply = await host.request(name, op, timeout=10)
                assert SECRET not in reply, f"spawn {attempts}: {guest} read {reply!r} from outside"
            await host.stop(name)
    finally:
        swaps = swapper.stop()
    assert swaps > 0 and spawned > 0 and refused > 0, (swaps, spawned, refused)
    outside_untouched(arena)
