"""Host side of ``airssys:ext-process/process@1.0.0``: granted executables, run or spawned.

``run`` and ``spawn`` are checked against ``process.spawn``, and what runs is the file that
check resolved — not whatever the path names a moment later. Executing the path *string* again
would let anyone who can rename inside the granted directory (or a directory on the way to it)
swap another binary in between the check and the exec. So the host opens the checked path once
(``O_PATH | O_NOFOLLOW | O_CLOEXEC``: no symlink is followed at the last step, nothing is read),
verifies the descriptor — a regular file, with execute bits, and the same ``(st_dev, st_ino)``
the check resolved (``decision.resolved_inode``, taken from the check's own descriptor) — and
executes *that descriptor*: the child gets it through ``pass_fds`` and execs
``/proc/self/fd/N`` (fexecve semantics). A replaced file, a symlink swapped in, or a directory on
the path exchanged all end as ``permission-denied`` for the guest, and nothing runs.

Why ``/proc/self/fd/N`` from ``subprocess`` and not ``execveat(fd, "", AT_EMPTY_PATH)`` from a
C helper: subprocess already gives everything else this module relies on (``close_fds`` closes
every other descriptor, ``start_new_session``, pipes, ``communicate`` with timeouts), it needs no
extra binary to build and locate, and it runs ``#!`` scripts — the kernel hands the interpreter
``/proc/self/fd/N`` to open, which only works because the descriptor stays open across the exec
(with a close-on-exec descriptor, as fexecve/execveat want, scripts fail with ENOENT). The one
descriptor the child keeps is that ``O_PATH`` reference to its own executable: it reads and
writes nothing, and it names only the file the child can already reach as ``/proc/self/exe``
(or, for a script, the script its interpreter reads). Cost: one open + fstat + readlink per
spawn plus an fstat in the check, ~15 µs next to a fork/exec of ~1 ms. Linux only (``O_PATH`` and ``/proc``); elsewhere run
and spawn answer ``spawn-failed`` rather than execute an unverified path.

The child runs with the guest's argv (``argv[0]`` is the real path of the executable), an
EMPTY environment, ``/`` as working directory, no other inherited file descriptors and a session
of its own. ``run`` waits at most the smaller of the guest's timeout and the call's deadline,
then kills the process group. After the start, one audit ``"done"`` line
(``security.performed``) records the real path of the descriptor that was executed.

``spawn`` returns a handle into the component's own table (another component's handle is just
not in it); ``wait`` and ``signal`` act on it. A component has at most :data:`MAX_PROCESSES`
live children, and they belong to the component's current incarnation: when it stops or
restarts, :meth:`Processes.release` kills their process groups and reaps them, so a guest
cannot leave a child running behind it. ``signal`` only sends the signals of the WIT enum.
"""

from __future__ import annotations

import os
import signal as signals
import stat as stat_module
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
from airssys_wasm.host.policy import SecurityProvider, performed_hook
from airssys_wasm.runtime import HostServices

__all__ = ["EXEC_BY_FD", "INTERFACE", "MAX_PROCESSES", "SIGNALS", "Processes"]

INTERFACE = "airssys:ext-process/process@1.0.0"
#: Most live (spawned, not yet waited-for) processes per component.
MAX_PROCESSES = 8
#: The WIT ``process-signal`` cases -> the signal sent. Nothing that stops or continues a process.
SIGNALS: dict[str, signals.Signals] = {
    "terminate": signals.SIGTERM,
    "kill": signals.SIGKILL,
    "interrupt": signals.SIGINT,
    "hangup": signals.SIGHUP,
}
#: How long release waits for a SIGKILLed child to be reaped.
_REAP_SECONDS = 2.0

_KIND = "process.spawn"
_O_PATH = getattr(os, "O_PATH", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FD_DIR = "/proc/self/fd/"
#: Executing a descriptor needs O_PATH and /proc (Linux); without them nothing is executed.
EXEC_BY_FD = bool(_O_PATH) and os.path.isdir(_FD_DIR)


@dataclass(frozen=True, slots=True)
class _Checked:
    """What an allowed ``process.spawn`` check resolved: the guest's string, the resolved path
    and the identity of the file there (None: the provider reported none)."""

    executable: str
    path: str
    inode: tuple[int, int] | None


@dataclass(slots=True)
class _Child:
    proc: subprocess.Popen[bytes]
    executable: str
    #: Not yet written: fed to the child by the first wait (communicate).
    stdin: bytes | None


def _denied(executable: str, reason: str) -> GuestErr:
    return GuestErr("permission-denied", f"process.spawn {executable!r} denied: {reason}; grant "
                    "it in the component's Component.toml [capabilities] process.spawn")


def _spawn_error(executable: str, exc: OSError) -> GuestErr:
    """An exec that failed although the descriptor was verified."""
    if isinstance(exc, FileNotFoundError):  # the file is open: its interpreter is what is missing
        return GuestErr("not-found", f"cannot run {executable}: its interpreter (the #! line or "
                        "the ELF loader) does not exist")
    return GuestErr("spawn-failed", f"cannot run {executable}: {exc.strerror or exc}")


def _open_checked(checked: _Checked) -> tuple[int, str] | GuestErr:
    """Open the checked executable once and keep it only if it is the file the check resolved:
    ``(descriptor, its real path)`` or the guest's error. The caller closes the descriptor."""
    executable, path = checked.executable, checked.path
    if not EXEC_BY_FD:
        return GuestErr("spawn-failed", f"cannot run {executable}: this host has no O_PATH or "
                        "/proc/self/fd, so it cannot execute the checked file itself (Linux only)")
    try:
        fd = os.open(path, _O_PATH | _NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return GuestErr("not-found", f"{executable} does not exist")
    except OSError as exc:
        return GuestErr("spawn-failed", f"cannot open {executable}: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        real = os.readlink(_FD_DIR + str(fd))
    except OSError as exc:
        os.close(fd)
        return GuestErr("spawn-failed", f"cannot inspect {executable}: {exc.strerror or exc}")
    error = None
    if stat_module.S_ISLNK(st.st_mode):  # O_PATH | O_NOFOLLOW opens the link itself
        error = GuestErr("permission-denied", f"{path} became a symlink after the process.spawn "
                         "check; not followed, nothing was run")
    elif not stat_module.S_ISREG(st.st_mode):
        error = GuestErr("spawn-failed", f"{executable} resolves to {path}, which is not a "
                         "regular file; grant the executable file itself")
    elif not st.st_mode & 0o111:
        error = GuestErr("spawn-failed", f"{path} has no execute permission "
                         f"(mode {stat_module.filemode(st.st_mode)}); chmod +x it on the host")
    elif checked.inode is None:
        error = GuestErr("permission-denied", f"the process.spawn check of {executable} did not "
                         "identify an existing file (none was there, or the security provider "
                         "reports no resolved_inode); nothing was run")
    elif (st.st_dev, st.st_ino) != checked.inode:
        error = GuestErr("permission-denied", f"{path} was replaced between the process.spawn "
                         "check and the exec; nothing was run, try again")
    if error is not None:
        os.close(fd)
        return error
    return fd, real


def _start(checked: _Checked, args: list[str], stdin: int) -> tuple[subprocess.Popen[bytes], str] \
        | GuestErr:
    """Start the verified executable (see the module docstring): ``(process, real path)``."""
    opened = _open_checked(checked)
    if isinstance(opened, GuestErr):
        return opened
    fd, real = opened
    try:
        proc = subprocess.Popen([real, *args], executable=_FD_DIR + str(fd), pass_fds=(fd,),
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={}, cwd="/", close_fds=True, start_new_session=True)
    except OSError as exc:
        return _spawn_error(checked.executable, exc)
    finally:
        os.close(fd)
    return proc, real


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (its own session: the child and what it started).
    Skipped once the child was reaped, when its pid may already name another process."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signals.SIGKILL)
    except ProcessLookupError:
        pass


class Processes:
    """Spawned processes per component; ``functions()`` is the interface, ``release`` ends them."""

    def __init__(self, security: SecurityProvider) -> None:
        self._check = security.check
        self._performed = performed_hook(security)
        self._live: dict[str, dict[int, _Child]] = {}
        self._next = 1

    def release(self, component: str) -> None:
        """Kill and reap every child of ``component`` (it stopped or is restarting)."""
        children = self._live.pop(component, {})
        for child in children.values():
            _kill_group(child.proc)
        for child in children.values():
            try:
                child.proc.communicate(timeout=_REAP_SECONDS)  # reaps and closes the pipes
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait(_REAP_SECONDS)

    def close_all(self) -> None:
        for component in list(self._live):
            self.release(component)

    def pids(self, component: str) -> list[int]:
        """OS process ids of ``component``'s live children (for operators and tests)."""
        return [child.proc.pid for child in self._live.get(component, {}).values()]

    def _wait(self, name: str, handle: int, child: _Child, timeout_ms: int
              ) -> dict[str, Any] | GuestErr:
        """The blocking part of ``wait`` (in the I/O pool for a suspended guest)."""
        seconds = budget(timeout_ms)
        if seconds <= 0:
            return GuestErr("timeout", f"no time left in this call to wait for {child.executable}")
        stdin, child.stdin = child.stdin, None
        try:
            # communicate keeps what it read across a timeout, so a later wait loses nothing.
            out, err = child.proc.communicate(stdin, timeout=seconds)
        except subprocess.TimeoutExpired:
            return GuestErr("timeout", f"{child.executable} (process {handle}) still runs after "
                            f"{seconds:.3f} s; wait again or signal it")
        self._live.get(name, {}).pop(handle, None)
        code = child.proc.returncode
        return {"exit-code": code if code >= 0 else None,
                "signal": -code if code < 0 else None, "stdout": out or b"", "stderr": err or b""}

    def functions(self) -> dict[str, Callable[..., Any]]:
        check, performed = self._check, self._performed

        def allowed(services: HostServices, executable: str) -> _Checked | GuestErr:
            decision = check(services.component.name, _KIND, executable)
            if not decision.allowed or decision.resolved_path is None:
                return _denied(executable, decision.reason)
            return _Checked(executable, decision.resolved_path,
                            getattr(decision, "resolved_inode", None))

        def run(services: HostServices, executable: str, args: list[str], stdin: bytes,
                timeout_ms: int) -> dict[str, Any] | GuestErr:
            checked = allowed(services, executable)
            if isinstance(checked, GuestErr):
                return checked
            return blocking(f"run {executable}", _run, performed, services.component.name,
                            checked, list(map(str, args)), bytes(stdin), timeout_ms)

        def spawn(services: HostServices, executable: str, args: list[str],
                  stdin: bytes) -> int | GuestErr:
            name = services.component.name
            checked = allowed(services, executable)
            if isinstance(checked, GuestErr):
                return checked
            children = self._live.setdefault(name, {})
            if len(children) >= MAX_PROCESSES:
                return GuestErr("resource-exhausted", f"{name} already has {MAX_PROCESSES} live "
                                "processes; wait for or signal some first")
            data = bytes(stdin)
            started = _start(checked, list(map(str, args)),
                             subprocess.PIPE if data else subprocess.DEVNULL)
            if isinstance(started, GuestErr):
                return started
            proc, real = started
            performed(name, _KIND, executable, real)
            handle = self._next
            self._next = self._next % 0xFFFF_FFFF + 1  # u32, never 0
            children[handle] = _Child(proc, executable, data or None)
            return handle

        def lookup(services: HostServices, handle: int) -> _Child | GuestErr:
            child = self._live.get(services.component.name, {}).get(handle)
            if child is None:
                return GuestErr("invalid-handle", f"process {handle} is not a live process of this "
                                "component (never spawned by it, or already waited for)")
            return child

        def wait(services: HostServices, handle: int, timeout_ms: int) -> dict[str, Any] | GuestErr:
            child = lookup(services, handle)
            if isinstance(child, GuestErr):
                return child
            return blocking(f"wait for {child.executable}", self._wait, services.component.name,
                            handle, child, timeout_ms)

        def signal(services: HostServices, handle: int, sig: str) -> GuestErr | None:
            child = lookup(services, handle)
            if isinstance(child, GuestErr):
                return child
            # sig is a process-signal case name (the lifting admits nothing else)
            child.proc.send_signal(SIGNALS[sig])  # no-op once it exited (reaped by the next wait)
            return None

        return {"run": suspending(wit_result(run)), "spawn": wit_result(spawn),
                "wait": suspending(wit_result(wait)), "signal": wit_result(signal)}


def _run(performed: Callable[[str, str, object, str], None], component: str,
         checked: _Checked, args: list[str], stdin: bytes,
         timeout_ms: int) -> dict[str, Any] | GuestErr:
    """The blocking part of ``run`` (in the I/O pool for a suspended guest)."""
    executable = checked.executable
    seconds = budget(timeout_ms)
    if seconds <= 0:
        return GuestErr("timeout", f"no time left in this call to run {executable}")
    started = _start(checked, args, subprocess.PIPE)
    if isinstance(started, GuestErr):
        return started
    proc, real = started
    performed(component, _KIND, executable, real)
    try:
        stdout, stderr = proc.communicate(stdin, timeout=seconds)
    except subprocess.TimeoutExpired:
        # The whole group: a grandchild holding the pipes must not outlive the call.
        _kill_group(proc)
        proc.communicate()
        return GuestErr("timeout", f"{executable} ran longer than {seconds:.3f} s and was "
                        "killed")
    return {"exit-code": proc.returncode, "stdout": stdout, "stderr": stderr}
