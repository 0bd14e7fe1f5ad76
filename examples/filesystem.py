"""Filesystem grants: a component reads and writes only beneath what its manifest grants.

Run: python examples/filesystem.py

The ``ext-fs`` component runs one ``airssys:ext-filesystem`` call per ``execute``. Its
manifest grants reading ``data/**`` and writing ``data/out/**`` of a temporary tree; a ``..``
escape and a symlink pointing outside are refused, and every decision is an audit record.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm.security import MemoryAuditSink

WAT = Path(__file__).resolve().parent / "wat"
DENIED = 1  # file-error case index of permission-denied (wit/types.wit)


def manifest(data: Path) -> str:
    return f"""
[component]
name = "files"
version = "1.0.0"
description = "reads anything under data/, writes only under data/out/"

[capabilities]
filesystem.read = ["{data}/**"]
filesystem.write = ["{data}/out/**"]
"""


async def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        data = root / "data"
        (data / "out").mkdir(parents=True)
        (data / "notes.txt").write_text("inside the grant")
        (root / "secret.txt").write_text("outside the grant")
        (data / "escape").symlink_to(root / "secret.txt")

        audit = MemoryAuditSink()
        async with aw.Host(aw.HostConfig(name="files", audit=audit)) as host:
            await host.spawn("files", WAT / "ext-fs.wat", manifest=manifest(data))

            reply = await host.request("files", f"r{data}/notes.txt".encode())
            assert reply == b"\x00inside the grant"
            print(f"read data/notes.txt: {reply[1:].decode()!r}")

            for escape in (f"{data}/../secret.txt", f"{data}/escape", "/etc/passwd"):
                reply = await host.request("files", f"r{escape}".encode())
                assert reply[:2] == bytes([1, DENIED]), reply
                print(f"refused {escape.replace(str(root), '<tmp>')}")

            target = f"{data}/out/result.txt".encode()
            reply = await host.request("files", b"w" + bytes([len(target)]) + target + b"done")
            assert reply[:1] == b"\x00" and (data / "out" / "result.txt").read_text() == "done"
            print("wrote data/out/result.txt")

        decisions = [r.decision for r in audit.records if r.kind.startswith("filesystem.")]
        print(f"audit: {decisions.count('allow')} allowed, {decisions.count('deny')} denied, "
              f"{decisions.count('done')} performed")
        assert decisions.count("deny") == 3
        return {"deny": decisions.count("deny"), "done": decisions.count("done")}


if __name__ == "__main__":
    asyncio.run(main())
