"""Trust levels and the audit trail: what a component may ask for depends on how much it is
trusted, and every security decision is one JSON line.

Run: python examples/audit_and_trust.py

An ``untrusted`` component must bring a manifest and stays under the untrusted ceilings; an
``unknown`` one (the default level) runs without a manifest but may then only message and log.
Every decision goes to the audit sinks, here a JSON-lines file and an in-memory sink.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm.security import FileAuditSink, MemoryAuditSink
from airssys_wasm.benchmarks import guests

WAT = Path(__file__).resolve().parent / "wat"


def manifest(name: str, limits: str = "", send: str = "") -> str:
    text = f'[component]\nname = "{name}"\nversion = "1.0.0"\n'
    text += f"\n[limits]\n{limits}\n" if limits else ""
    text += f"\n[capabilities.messaging]\nsend = {send}\n" if send else ""
    return text


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "audit.jsonl"
        memory, file_sink = MemoryAuditSink(), FileAuditSink(log_path)
        config = aw.HostConfig(name="trust", audit=[memory, file_sink], default_trust="unknown")
        async with aw.Host(config) as host:
            try:
                await host.spawn("guest", guests.path("pingpong"), trust="untrusted")
                raise AssertionError("an untrusted component without a manifest was admitted")
            except aw.ManifestError as refused:
                print(f"untrusted without a manifest: {str(refused)[:70]}...")
            try:
                await host.spawn("guest", guests.path("pingpong"), trust="untrusted",
                                 manifest=manifest("guest", limits='memory = "1GiB"'))
                raise AssertionError("the untrusted memory ceiling did not hold")
            except aw.ManifestError as refused:
                print(f"untrusted asking for 1 GiB: {str(refused)[:70]}...")

            # Admitted: it may send to "peer" only. pingpong's execute("send" ttl name) calls
            # the send-message host function and answers "sent" or the error's text.
            await host.spawn("guest", guests.path("pingpong"), trust="untrusted",
                             manifest=manifest("guest", limits='memory = "4MiB"', send='["peer"]'))
            await host.spawn("peer", guests.path("pingpong"))          # unknown: no manifest
            await host.spawn("stranger", guests.path("pingpong"))
            assert await host.request("guest", b"send\x00peer") == b"sent"
            answer = await host.request("guest", b"send\x00stranger")
            print(f"guest -> stranger: {answer.decode()[:70]}...")
            assert answer != b"sent"
        file_sink.close()

        lines = [json.loads(line) for line in log_path.read_text().splitlines()]
        sends = [(r["target"], r["decision"]) for r in lines if r["kind"] == "messaging.send"]
        print(f"{len(lines)} audit lines; messaging decisions: {sends}")
        assert ("peer", "allow") in sends and ("stranger", "deny") in sends
        assert len(lines) == len(memory.records)
        return {"sends": sends}


if __name__ == "__main__":
    asyncio.run(main())
