"""What security costs per guest -> host action, measured through a real Host.

Ours: the default provider (``HostSecurity``: capability match, quota charge, one JSON audit
line — written to /dev/null here). Baseline: a provider that admits everything and answers
every check with one constant "allowed" decision (no matching, no quota, no audit) — the
cheapest thing the host's extension point can call, i.e. what the host costs without security.

Rows: a guest's send-message (pingpong bursts), and ext-filesystem read-file (one request per
call, so it includes the request round trip; the file path is resolved on our side only).

Run: ``python benches/compare_security_host.py [--markdown]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

from airssys_wasm import Host, HostConfig
from airssys_wasm.benchmarks.timing import Comparison, render_markdown, render_table
from airssys_wasm.host import EXTENSIONS, Admission
from airssys_wasm.runtime import Engine, Limits, WasiSettings
from airssys_wasm.security import Decision, StreamAuditSink
from airssys_wasm.benchmarks import guests

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "wat"
BURST = 2000
READS = 300
ROUNDS = 5


class Unchecked:
    """Baseline provider: no manifest parsing, no matching, no quotas, no audit."""

    _ALLOW = Decision(True, "unchecked")

    def admit(self, name: str, manifest: object, *, trust: str | None, base_limits: Limits,
              wasi: bool = False) -> Admission:
        return Admission("", base_limits, frozenset(EXTENSIONS), WasiSettings())

    def release(self, name: str) -> None:
        pass

    def check(self, component: str, kind: str, target: object, *, amount: int | None = None):
        if kind.startswith("filesystem."):
            return Decision(True, "unchecked", resolved_path=str(target))
        return self._ALLOW


async def per_send_ns(engine: Engine, config: HostConfig) -> float:
    async with Host(config, engine=engine) as host:
        manifest = '[component]\nname = "a"\nversion = "1.0.0"\n[capabilities.messaging]\nsend = ["b"]\n'
        await host.spawn("a", guests.path("pingpong"), manifest=manifest)
        b = await host.spawn("b", guests.path("pingpong"), capacity=BURST * 2)
        best = float("inf")
        op = b"brst" + struct.pack("<I", BURST) + b"b"
        for _ in range(ROUNDS):
            target = b.stats.messages_out + BURST
            start = time.perf_counter_ns()
            sent = struct.unpack("<I", await host.request("a", op, timeout=60))[0]
            best = min(best, (time.perf_counter_ns() - start) / BURST)
            if sent != BURST:
                raise RuntimeError(f"only {sent} of {BURST} sends were accepted")
            while b.stats.messages_out < target:
                await asyncio.sleep(0)
        return best


async def per_read_ns(engine: Engine, config: HostConfig, root: str) -> float:
    async with Host(config, engine=engine) as host:
        manifest = (f'[component]\nname = "f"\nversion = "1.0.0"\n'
                    f'[capabilities.filesystem]\nread = ["{root}/**"]\n')
        await host.spawn("f", EXAMPLES / "ext-fs.wat", manifest=manifest)
        op = b"r" + f"{root}/in/report.csv".encode()
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            for _ in range(READS):
                await host.request("f", op)
            best = min(best, (time.perf_counter_ns() - start) / READS)
        return best


async def measure() -> list[Comparison]:
    with Engine() as engine, open(os.devnull, "w") as devnull, \
            tempfile.TemporaryDirectory() as tmp:
        root = os.path.realpath(tmp)
        os.makedirs(f"{root}/in")
        Path(f"{root}/in/report.csv").write_bytes(b"x" * 64)
        secure = HostConfig(health=None, audit=StreamAuditSink(devnull, flush=False))
        unchecked = HostConfig(health=None, security=Unchecked())
        rows = []
        ours, base = await per_send_ns(engine, secure), await per_send_ns(engine, unchecked)
        rows.append(Comparison("guest send-message (check + quota + audit line)", ours,
                               "unchecked provider", base))
        ours, base = await per_read_ns(engine, secure, root), await per_read_ns(engine, unchecked, root)
        rows.append(Comparison("ext read-file request (resolve + check + audit + read)", ours,
                               "unchecked provider", base))
        return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure())
    if args.markdown:
        print(render_markdown(rows))
    else:
        from rich.console import Console

        Console().print(render_table(rows, "security through the host (ours vs unchecked)"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
