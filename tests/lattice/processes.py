"""`airssys-wasm node` subprocesses for the lattice tests: started with the test's NATS URL,
their output read line by line (the "joined" line, notes), killed by PID at the end."""

from __future__ import annotations

import asyncio
import os
import sys

#: A node process that has not printed its "joined" line by then is stuck: fail, do not hang.
JOIN_TIMEOUT = 20.0
#: Heartbeats as in the library's defaults: a node lost after 1 s of silence.
FAST = ("--heartbeat", "0.25", "--failover-after", "1.0")


class NodeProcess:
    """One `airssys-wasm node` subprocess and everything it printed."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def line_with(self, text: str, timeout: float = JOIN_TIMEOUT) -> str:
        """The first line (from now on, or already read) that contains ``text``."""
        for line in self.lines:
            if text in line:
                return line
        assert self.proc.stdout is not None

        async def scan() -> str:
            assert self.proc.stdout is not None
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise AssertionError(f"node exited before printing {text!r}:\n"
                                         + "\n".join(self.lines))
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                if text in line:
                    return line

        return await asyncio.wait_for(scan(), timeout)

    async def finish(self, timeout: float = JOIN_TIMEOUT) -> tuple[int, str]:
        """Exit code and the whole output (stdout then stderr) once it exited."""
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        self.lines += out.decode().splitlines()
        return self.proc.returncode or 0, "\n".join(self.lines) + "\n" + err.decode()


async def start_node(*args: str) -> NodeProcess:
    env = {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1", "COLUMNS": "140"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "airssys_wasm.cli", "node", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return NodeProcess(proc)
