"""The live actor table: complete (no cell cut to "…") at 80 columns and at 100."""

from __future__ import annotations

import asyncio
import io
import re
import struct

import pytest
from rich.console import Console

from airssys_wasm import Host, HostConfig
from airssys_wasm import demo as bundled
from airssys_wasm import multicodec as mc
from airssys_wasm.cli.monitor import Monitor, actor_table, compact

WIDE_HEADERS = ["actor", "state", "in", "out", "queued", "restarts", "failures", "dead letters",
                "health"]
NARROW_HEADERS = ["actor", "state", "in", "out", "q", "rst", "fail", "dead", "health"]


def _render(table: object, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in text.splitlines()) <= width
    return str(text)


async def _monitor_of_a_busy_host(width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    async with Host(HostConfig(name="t", health=None)) as host:
        monitor = Monitor(host, console, live=False)
        sink = await host.spawn("sink", bundled.path("counter"))
        await host.spawn("transform", bundled.path("crasher"))
        for _ in range(1500):
            await host.send("sink", mc.encode(mc.Codec.RAW, b"x"))
        await host.send("transform", mc.encode(mc.Codec.RAW, b"poison"))
        counted, _ = struct.unpack("<II", await sink.request(b"cnt?"))
        assert counted == 1500
        crasher = host.ref("transform")
        for _ in range(500):  # bounded: the restart after the trap comes within ~0.1 s
            if crasher.stats.restarts and crasher.state.value == "running":
                break
            await asyncio.sleep(0.01)
        await monitor.probe()
        console.print(monitor.table("pipeline.toml"))
    return str(console.file.getvalue())  # type: ignore[attr-defined]


@pytest.mark.parametrize("width, headers", [(80, NARROW_HEADERS), (100, WIDE_HEADERS)])
async def test_actor_table_is_complete_at_80_and_100_columns(width: int, headers: list[str]) -> None:
    screen = await _monitor_of_a_busy_host(width)
    assert "…" not in screen, screen
    assert max(len(line) for line in screen.splitlines()) <= width, screen
    header = next(line for line in screen.splitlines() if line.lstrip(" ┃│").startswith("actor"))
    assert re.findall(r"[a-z]+(?: letters)?", header) == headers, header
    sink = next(line for line in screen.splitlines() if "sink" in line)
    counts = "1.5k" if width == 80 else "1501"  # 1500 messages and the cnt? request
    assert "running" in sink and counts in sink and "healthy" in sink, screen
    transform = next(line for line in screen.splitlines() if "transform" in line)
    assert re.findall(r"[\w.]+", transform) == ["transform", "running", "1", "0", "0", "1", "1", "1",
                                                "healthy"], screen
    if width == 80:
        assert "q queued · rst restarts · fail failures · dead dead letters" in screen


def test_narrow_layout_folds_a_long_name_and_keeps_every_figure() -> None:
    name = "a-component-with-a-rather-long-name"
    rows = [(name, "stopping", (12_345_678, 9_999, 4096, 100, 7, 1_000_000), "unhealthy")]
    text = _render(actor_table("demo — 1.0 s", rows, narrow=True), 80)
    assert "…" not in text
    for figure in ("12M", "9.9k", "4.0k", "100", "7", "1.0M", "stopping", "unhealthy"):
        assert figure in text, figure
    first_column = "".join(line.split()[0] for line in text.splitlines()[3:-1])
    assert first_column == name  # folded over two lines, every character kept


@pytest.mark.parametrize("n, text", [
    (0, "0"), (999, "999"), (1000, "1.0k"), (1999, "1.9k"), (12_345, "12k"), (999_999, "999k"),
    (1_000_000, "1.0M"), (123_456_789, "123M"), (10**12, "1.0T"), (10**18, "1000P"),
])
def test_compact_numbers_round_down_within_four_characters(n: int, text: str) -> None:
    assert compact(n) == text
