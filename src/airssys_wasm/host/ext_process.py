"""Host side of ``airssys:ext-process/process@1.0.0``: run a granted executable to completion.

``run`` is checked against ``process.spawn`` and executes ``decision.resolved_path`` (symlinks
resolved, so a granted ``/bin/echo`` cannot be a link to something else by the time it runs),
with the guest's argv, an EMPTY environment, ``/`` as working directory and no inherited file
descriptors. It waits at most the smaller of the guest's timeout and the call's deadline, then
kills the process: a guest cannot outlive its deadline through a child.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, wit_result
from airssys_wasm.host.policy import SecurityProvider
from airssys_wasm.runtime import HostServices

__all__ = ["INTERFACE", "functions"]

INTERFACE = "airssys:ext-process/process@1.0.0"


def functions(security: SecurityProvider) -> dict[str, Callable[..., Any]]:
    check = security.check

    def run(services: HostServices, executable: str, args: list[str], stdin: bytes,
            timeout_ms: int) -> dict[str, Any] | GuestErr:
        decision = check(services.component.name, "process.spawn", executable)
        if not decision.allowed or decision.resolved_path is None:
            return GuestErr("permission-denied", f"process.spawn {executable!r} denied: "
                        f"{decision.reason}; grant it in the component's Component.toml "
                        "[capabilities] process.spawn")
        seconds = budget(timeout_ms)
        if seconds <= 0:
            return GuestErr("timeout", f"no time left in this call to run {executable}")
        try:
            done = subprocess.run([decision.resolved_path, *map(str, args)], input=bytes(stdin),
                                  capture_output=True, timeout=seconds, env={}, cwd="/",
                                  close_fds=True, check=False)
        except subprocess.TimeoutExpired:
            return GuestErr("timeout", f"{executable} ran longer than {seconds:.3f} s and was killed")
        except FileNotFoundError:
            return GuestErr("not-found", f"{executable} does not exist")
        except OSError as exc:
            return GuestErr("spawn-failed", f"cannot run {executable}: {exc.strerror or exc}")
        return {"exit-code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}

    return {"run": wit_result(run)}
