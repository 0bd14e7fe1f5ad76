"""Process grants: a component runs only the executables its manifest names, with an empty
environment.

Run: python examples/process.py      (Linux)

The ``ext-proc`` component's ``execute("x" argv)`` runs a program through
``airssys:ext-process`` and answers its exit code and stdout. ``/bin/echo`` is granted;
``/bin/sh`` and a relative ``echo`` are not.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm.benchmarks import guests

WAT = Path(__file__).resolve().parent / "wat"
DENIED = 0  # process-error case index of permission-denied (wit/types.wit)
MANIFEST = """
[component]
name = "runner"
version = "1.0.0"

[capabilities.process]
spawn = ["/bin/echo"]
"""


def run(executable: str, *args: str) -> bytes:
    """The probe's run command: 'x' ++ len u8 ++ executable ++ argc u8 ++ (len u8 ++ arg)*."""
    op = b"x" + bytes([len(executable)]) + executable.encode() + bytes([len(args)])
    for arg in args:
        op += bytes([len(arg)]) + arg.encode()
    return op


async def main() -> dict[str, object]:
    async with aw.Host(aw.HostConfig(name="process")) as host:
        await host.spawn("runner", guests.path("ext-proc"), manifest=MANIFEST)
        reply = await host.request("runner", run("/bin/echo", "hello", "from", "a", "child"))
        assert reply[:1] == b"\x00"
        code, stdout = struct.unpack("<i", reply[1:5])[0], reply[5:]
        print(f"/bin/echo exited {code}: {stdout.decode().strip()!r}")
        assert (code, stdout) == (0, b"hello from a child\n")

        for denied in ("/bin/sh", "echo"):
            reply = await host.request("runner", run(denied, "-c", "id"))
            assert reply[:2] == bytes([1, DENIED]), reply
            print(f"{denied} refused")
        return {"code": code, "stdout": stdout.decode()}


if __name__ == "__main__":
    asyncio.run(main())
