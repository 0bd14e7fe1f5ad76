"""Host side of ``airssys:ext-process/process@1.0.0``: granted executables, run or spawned.

``run`` and ``spawn`` are checked against ``process.spawn`` and execute
``decision.resolved_path`` (symlinks resolved, so a granted ``/bin/echo`` cannot be a link to
something else by the time it runs), with the guest's argv, an EMPTY environment, ``/`` as
working directory, no inherited file descriptors and a session of its own. ``run`` waits at most
the smaller of the guest's timeout and the call's deadline, then kills the process.

``spawn`` returns a handle into the component's own table (another component's handle is just
not in it); ``wait`` and ``signal`` act on it. A component has at most :data:`MAX_PROCESSES`
live children, and they belong to the component's current incarnation: when it stops or
restarts, :meth:`Processes.release` kills their process groups and reaps them, so a guest
cannot leave a child running behind it. ``signal`` only sends the signals of the WIT enum.
"""

from __future__ import annotations

import os
import signal as signals
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
from airssys_wasm.host.policy import SecurityProvider
from airssys_wasm.runtime import HostServices

__all__ = ["INTERFACE", "MAX_PROCESSES", "SIGNALS", "Processes"]

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
    if isinstance(exc, FileNotFoundError):
        return GuestErr("not-found", f"{executable} does not exist")
    return GuestErr("spawn-failed", f"cannot run {executable}: {exc.strerror or exc}")


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
        check = self._check

        def allowed(services: HostServices, executable: str) -> str | GuestErr:
            decision = check(services.component.name, "process.spawn", executable)
            if not decision.allowed or decision.resolved_path is None:
                return _denied(executable, decision.reason)
            return decision.resolved_path

        def run(services: HostServices, executable: str, args: list[str], stdin: bytes,
                timeout_ms: int) -> dict[str, Any] | GuestErr:
            path = allowed(services, executable)
            if isinstance(path, GuestErr):
                return path
            return blocking(f"run {executable}", _run, executable, path, list(map(str, args)),
                            bytes(stdin), timeout_ms)

        def spawn(services: HostServices, executable: str, args: list[str],
                  stdin: bytes) -> int | GuestErr:
            name = services.component.name
            path = allowed(services, executable)
            if isinstance(path, GuestErr):
                return path
            children = self._live.setdefault(name, {})
            if len(children) >= MAX_PROCESSES:
                return GuestErr("resource-exhausted", f"{name} already has {MAX_PROCESSES} live "
                                "processes; wait for or signal some first")
            data = bytes(stdin)
            try:
                proc = subprocess.Popen([path, *map(str, args)],
                                        stdin=subprocess.PIPE if data else subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={},
                                        cwd="/", close_fds=True, start_new_session=True)
            except OSError as exc:
                return _spawn_error(executable, exc)
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


def _run(executable: str, path: str, args: list[str], stdin: bytes,
         timeout_ms: int) -> dict[str, Any] | GuestErr:
    """The blocking part of ``run`` (in the I/O pool for a suspended guest)."""
    seconds = budget(timeout_ms)
    if seconds <= 0:
        return GuestErr("timeout", f"no time left in this call to run {executable}")
    try:
        proc = subprocess.Popen([path, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={}, cwd="/", close_fds=True,
                                start_new_session=True)
    except OSError as exc:
        return _spawn_error(executable, exc)
    try:
        stdout, stderr = proc.communicate(stdin, timeout=seconds)
    except subprocess.TimeoutExpired:
        # The whole group: a grandchild holding the pipes must not outlive the call.
        _kill_group(proc)
        proc.communicate()
        return GuestErr("timeout", f"{executable} ran longer than {seconds:.3f} s and was "
                        "killed")
    return {"exit-code": proc.returncode, "stdout": stdout, "stderr": stderr}
