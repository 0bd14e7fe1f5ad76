"""``airssys-wasm demo``: a supervised pipeline of WebAssembly components, end to end.

The scenario, on the embedded default host (no files needed, the components ship in the
package)::

    python --send--> ingest --send-message--> transform --send-message--> sink
                     (stage, forwards)        (stage, upper-cases,        (counter)
                                               traps on "poison...")

Python sends readings (and a few poison pills) into ``ingest``; each hop after that is a guest
calling the ``send-message`` host function, which the host routes into the next mailbox. Every
poison pill makes ``transform`` trap: the message becomes a dead letter with its trap kind, the
``pipeline`` supervisor restarts ``transform`` in a fresh Store after an exponential backoff,
and the messages queued behind the pill are still delivered. The run checks its own result:
the sink must have counted every non-poison message.

``--python-guest tally.wasm`` (the example Python guest, built by ``airssys-wasm build``) adds
a stage written in Python between ``ingest`` and ``transform``: it relays every frame with
``send-message``. Without it the run is unchanged.
"""

from __future__ import annotations

import asyncio
import json
import random
import struct
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from airssys_wasm import demo as bundled
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import Backoff, HealthCheck
from airssys_wasm.cli.monitor import Monitor, interactive, quiet_library_logs, trap_kind
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import EngineConfig
from airssys_wasm.types import ComponentConfig

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    sent: int
    poison: int
    delivered: int  # counted by the sink component itself
    hops: int  # messages a component sent to another through the send-message host function
    dead_letters: list[tuple[str, str]]  # (recipient, why)
    restarts: dict[str, int]
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.delivered == self.sent - self.poison and len(self.dead_letters) == self.poison


def _frames(messages: int, poison: int, seed: int) -> tuple[list[bytes], int]:
    """The readings as JSON frames, with ``poison`` raw "poison" frames at seeded positions
    (never first or last, so the pipeline is warm before and shows recovery after)."""
    rng = random.Random(seed)
    poison = min(poison, max(0, messages - 2))
    slots = set(rng.sample(range(1, messages - 1), poison)) if poison else set()
    frames = []
    for i in range(messages):
        if i in slots:
            frames.append(mc.encode(mc.Codec.RAW, f"poison pill #{i}".encode()))
        else:
            reading = {"sensor": f"s{rng.randint(1, 4)}", "seq": i,
                       "celsius": round(rng.uniform(18, 26), 1)}
            frames.append(mc.encode(mc.Codec.JSON, json.dumps(reading).encode()))
    return frames, poison


async def _scenario(console: Console, live: bool, messages: int, poison: int, seed: int,
                    rate: float, python_guest: Path | None = None,
                    cache_dir: Path | None = None) -> DemoResult:
    frames, poison = _frames(messages, poison, seed)
    config = HostConfig(name="demo", health=HealthCheck(interval=0.5, timeout=1.0, threshold=3),
                        capacity=max(256, messages + 8),
                        engine=EngineConfig(cache_dir=cache_dir))
    backoff = Backoff(initial=0.1, multiplier=2.0, max=1.0, jitter=0.1)
    async with Host(config) as host:
        monitor = Monitor(host, console, live)
        monitor.attach()
        pipeline = await host.supervisor("pipeline", strategy="one_for_one",
                                         max_restarts=poison + 3, within=30.0)
        stage = bundled.path("stage")
        # Start downstream first so every hop has a live target from the first message.
        await host.spawn("sink", bundled.path("counter"), supervisor=pipeline, backoff=backoff)
        await host.spawn("transform", stage, supervisor=pipeline, backoff=backoff,
                         config=ComponentConfig(config_data=b"u!sink"))
        first = "transform"
        if python_guest is not None:
            from airssys_wasm.cli.progress import first_compile

            with first_compile(console, python_guest):
                await host.prepare(python_guest, name="relay")
            await host.spawn("relay", python_guest, supervisor=pipeline, backoff=backoff,
                             manifest=_RELAY_MANIFEST, config=ComponentConfig(config_data=b"relay:transform"))
            first = "relay"
        await host.spawn("ingest", stage, supervisor=pipeline, backoff=backoff,
                         config=ComponentConfig(config_data=f"f-{first}".encode()))
        chain = "ingest -> relay (Python) -> transform" if python_guest else "ingest -> transform"
        monitor.note(f"pipeline up: {chain} -> sink, supervisor 'pipeline' (one_for_one)")
        monitor.note(f"sending {messages} messages, {poison} of them poison")
        display = Live(monitor.table("demo"), console=console, refresh_per_second=8,
                       transient=False) if live else nullcontext()
        with display as screen:
            interval = 1.0 / rate if rate > 0 else 0.0
            step = max(1, messages // 4)
            for i, frame in enumerate(frames, 1):
                await host.send("ingest", frame)
                if screen is not None:
                    screen.update(monitor.table("demo"))
                elif i % step == 0 or i == messages:
                    monitor.note(f"sent {i}/{messages}")
                await asyncio.sleep(interval)
            sink = host.ref("sink")
            expected = messages - poison
            deadline = time.monotonic() + 10.0
            while sink.stats.messages_out < expected and time.monotonic() < deadline:
                if screen is not None:
                    screen.update(monitor.table("demo"))
                await asyncio.sleep(0.05)
            await monitor.probe()
            final = monitor.table("demo")  # before the request below adds to sink's counters
            hops = sum(host.ref(name).stats.messages_in for name in ("transform", "sink"))
            if python_guest is not None:
                hops += host.ref("relay").stats.messages_in  # ingest -> relay, one more hop
            if screen is not None:
                screen.update(final)
        if not live:
            console.print(final)
        # The sink's own count, read from inside the component with execute("cnt?").
        counted, _bytes = struct.unpack("<II", await host.request("sink", b"cnt?"))
        result = DemoResult(
            sent=messages, poison=poison, delivered=counted,
            dead_letters=[(d.recipient, trap_kind(d.error)) for d in host.dead_letters],
            hops=hops,
            restarts={name: host.ref(name).stats.restarts for name in host.names()},
            elapsed=monitor.elapsed())
    return result


def summary(result: DemoResult) -> Table:
    table = Table(title="summary", show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value")
    table.add_row("messages sent", str(result.sent))
    table.add_row("component -> component", f"{result.hops} (send-message host calls)")
    table.add_row("delivered to sink", f"{result.delivered} (expected {result.sent - result.poison})")
    kinds: dict[tuple[str, str], int] = {}
    for key in result.dead_letters:
        kinds[key] = kinds.get(key, 0) + 1
    table.add_row("dead letters", ", ".join(f"{n} x {who} ({why})" for (who, why), n in kinds.items())
                  or "none")
    table.add_row("restarts", ", ".join(f"{name}: {n}" for name, n in result.restarts.items() if n)
                  or "none")
    table.add_row("elapsed", f"{result.elapsed:.2f} s")
    table.add_row("result", "[green]ok[/]" if result.ok else "[red]MISMATCH[/]")
    return table


#: The Python relay stage may message the next stage (and only that); tally.py imports
#: ext-storage, which spawn links only with a storage grant.
_RELAY_MANIFEST = """[component]
name = "relay"
version = "0.1.0"

[limits]
memory = "64MiB"
timeout_ms = 5000

[capabilities]
messaging.send = ["transform"]

[capabilities.storage]
read = ["tally"]
write = ["tally"]
"""


def run_demo(console: Console, *, messages: int, poison: int, seed: int, rate: float,
             python_guest: Path | None = None, cache_dir: Path | None = None) -> DemoResult:
    """Run the scenario and print the live view, progress lines and the summary. With
    ``python_guest`` (a built examples/python_guest/tally.py) a Python relay stage joins the
    pipeline; ``cache_dir`` is the compile cache it was precompiled into."""
    with quiet_library_logs():
        result = asyncio.run(_scenario(console, interactive(console), messages, poison, seed, rate,
                                       python_guest, cache_dir))
    console.print(summary(result))
    return result
