"""Timing and reporting shared by every comparison suite."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: What brings numpy and matplotlib (distributions and ``bench --plot``).
BENCH_EXTRA = "pip install 'airssys-wasm[bench]'"


def not_installed(baselines: list[str]) -> str:
    """The baseline column of a row whose optional baselines are not importable: which ones,
    and the extra that brings them."""
    return f"{', '.join(baselines)} not installed: pip install '.[bench]'"


@dataclass(frozen=True)
class Comparison:
    """One benchmark row: our cost, the baseline's, and how many times faster we are.

    With ``target=True`` the baseline is a budget, not a competitor: the last column says
    whether it was met instead of showing a ratio nobody should read as a speed-up. A row of
    ``unit="bytes"`` measures memory: its ``*_ns`` fields then hold bytes (less is better too).
    """

    name: str
    ours_ns: float
    baseline: str
    baseline_ns: float | None
    target: bool = False
    unit: str = "ns"

    @property
    def ratio(self) -> float | None:
        """Baseline time / our time (> 1 means we are faster); None for a target row."""
        if self.baseline_ns is None or self.ours_ns <= 0 or self.target:
            return None
        return self.baseline_ns / self.ours_ns

    @property
    def verdict(self) -> str:
        """The last column: ``1.3x`` (a speed-up), ``met``/``missed`` (a target) or ``n/a``."""
        if self.target and self.baseline_ns is not None:
            return "met" if self.ours_ns <= self.baseline_ns else "missed"
        ratio = self.ratio
        if ratio is None:
            return "n/a"
        # Two significant digits below 0.1, so a 30x slower row does not read as "0.0x".
        return f"{ratio:.1f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


@dataclass(frozen=True)
class Distribution:
    """How one path's latency is spread (nanoseconds): a mean hides the tail a user waits on."""

    n: int
    mean: float
    p50: float
    p99: float
    max: float


def distribution(samples_ns: Sequence[float]) -> Distribution:
    """Mean, p50, p99 and max of per-operation samples, computed with numpy (the ``[bench]``
    extra): its percentiles interpolate linearly, as every plotting tool expects."""
    if not samples_ns:
        raise ValueError("distribution() needs at least one sample")
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is in [bench] and [test]
        raise ImportError("latency distributions need numpy: pip install 'airssys-wasm[bench]'") from None
    data = np.asarray(samples_ns, dtype=np.float64)
    p50, p99 = np.percentile(data, [50, 99])
    return Distribution(int(data.size), float(data.mean()), float(p50), float(p99), float(data.max()))


@dataclass(frozen=True)
class Curve:
    """A scaling curve (cost against a size or a count) for tables and ``bench --plot``.

    ``series`` maps a line's label (ours, a baseline) to its ``(x, y)`` points; ``y`` is in
    ``y_unit`` ("ns" or "bytes"). A suite that measures curves exposes
    ``curves(*, quick: bool) -> list[Curve]`` beside ``run``.
    """

    name: str
    title: str
    x_label: str
    y_label: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    y_unit: str = "ns"
    log_x: bool = False
    log_y: bool = False
    #: "bytes" labels the x axis and the table's first column 16 B, 1 KiB, ...; "" as numbers.
    x_unit: str = ""

    def xs(self) -> list[float]:
        """Every x of every series, ascending (a table's rows)."""
        return sorted({x for points in self.series.values() for x, _ in points})


@asynccontextmanager
async def loop_gaps(period: float = 0.001) -> AsyncIterator[list[float]]:
    """The gaps (seconds) between the turns of a ticker that sleeps ``period`` on the running
    loop, recorded while the block runs: what blocks the loop shows as one long gap. The list
    is complete once the block has left (the ticker gets one more turn to record the last)."""
    import asyncio  # here: `airssys-wasm --help` reads this module and must not load asyncio

    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(5 * period)  # ticking before the block starts
    try:
        yield gaps
        await asyncio.sleep(5 * period)  # the gap the block's last step left is recorded
    finally:
        ticker.cancel()


def time_stmt(stmt: str, namespace: dict[str, Any], *, repeat: int = 5, min_seconds: float = 0.1) -> float:
    """Median nanoseconds per execution of ``stmt``.

    Statements (not callables) are timed so no extra Python call is counted; the loop count is
    chosen so each repeat runs at least ``min_seconds``, and the median damps a noisy shared box.
    """
    timer = timeit.Timer(stmt, globals=namespace)
    number = 1
    while True:
        if timer.timeit(number) >= min_seconds:
            break
        number *= 4
    samples = timer.repeat(repeat=repeat, number=number)
    return statistics.median(samples) / number * 1e9


def _fmt_size(n: float) -> str:
    """16 B, 1 KiB, 64 KiB: a payload size as a reader writes it."""
    if n >= 1024 and n % 1024 == 0:
        return f"{int(n) // 1024} KiB"
    return f"{n:.0f} B"


def _fmt_x(x: float, unit: str) -> str:
    if unit == "bytes":
        return _fmt_size(x)
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _fmt_bytes(n: float) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    return f"{n / 1024:.1f} KiB"


def _fmt(value: float | None, unit: str) -> str:
    if value is None or value != value:  # not measured, or NaN
        return "n/a"
    return _fmt_bytes(value) if unit == "bytes" else _fmt_ns(value)


def _fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def render_markdown(rows: list[Comparison]) -> str:
    """A GitHub table for BENCHMARKS.md."""
    lines = ["| benchmark | ours | baseline | baseline time | speed-up |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row.name} | {_fmt(row.ours_ns, row.unit)} | {row.baseline} | {_fmt(row.baseline_ns, row.unit)} "
            f"| {row.verdict} |")
    return "\n".join(lines)


def render_table(rows: list[Comparison], title: str) -> Any:
    """A rich table for the terminal."""
    from rich.table import Table

    table = Table(title=title)
    # The text columns wrap when the terminal is narrow; a figure is never cut to "1.44 …".
    table.add_column("benchmark")
    table.add_column("ours", justify="right", no_wrap=True)
    table.add_column("baseline")
    table.add_column("baseline time", justify="right", no_wrap=True)
    table.add_column("speed-up", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(row.name, _fmt(row.ours_ns, row.unit), row.baseline,
                      _fmt(row.baseline_ns, row.unit),
                      row.verdict)
    return table


def render_curve_markdown(curve: Curve) -> str:
    """The points of ``curve`` as a GitHub table: one row per x, one column per series."""
    labels = list(curve.series)
    lines = [f"| {curve.x_label} | " + " | ".join(labels) + " |",
             "|---|" + "---|" * len(labels)]
    by_label = {label: dict(points) for label, points in curve.series.items()}
    for x in curve.xs():
        cells = [_fmt(by_label[label].get(x), curve.y_unit) for label in labels]
        lines.append(f"| {_fmt_x(x, curve.x_unit)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def require_plotting() -> None:
    """ImportError naming the extra unless matplotlib and numpy import (``bench --plot`` checks
    before it measures anything, so a missing extra costs no benchmark run)."""
    try:
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"bench --plot draws with matplotlib and numpy, and {exc.name or 'one'} "
                          f"is not installed: {BENCH_EXTRA}") from None


@dataclass(frozen=True)
class Plotted:
    """A curve written as a PNG, and the lines read back from the drawn axes (in ``unit``), so
    a caller can check that what is in the image is what was measured."""

    path: Path
    unit: str
    lines: dict[str, list[tuple[float, float]]]


def _display_unit(curve: Curve) -> tuple[str, float]:
    """The unit the y axis is labelled in, and the divisor from the curve's unit to it."""
    top = max((y for points in curve.series.values() for _, y in points), default=0.0)
    if curve.y_unit == "bytes":
        return ("MiB", float(1 << 20)) if top >= 1 << 20 else ("KiB", 1024.0)
    if top >= 1e6:
        return "ms", 1e6
    if top >= 1e3:
        return "µs", 1e3
    return "ns", 1.0


def plot_curve(curve: Curve, directory: Path) -> Plotted:
    """Draw ``curve`` into ``directory/<name>.png`` with matplotlib's Agg canvas.

    A ``Figure`` on its own canvas, not pyplot: no global figure state, no backend selection
    that a display (or its absence) could change, and matplotlib is imported only here."""
    require_plotting()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    unit, scale = _display_unit(curve)
    figure = Figure(figsize=(7.0, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, points in curve.series.items():
        ordered = sorted(points)
        axes.plot([x for x, _ in ordered], [y / scale for _, y in ordered], marker="o", label=label)
    if curve.log_x:
        axes.set_xscale("log", base=2 if curve.x_unit == "bytes" else 10)
    if curve.log_y:
        axes.set_yscale("log")
    xs = curve.xs()
    if xs:
        axes.set_xticks(xs, [_fmt_x(x, curve.x_unit) for x in xs])
        axes.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    axes.set_title(curve.title)
    axes.set_xlabel(curve.x_label)
    axes.set_ylabel(f"{curve.y_label} ({unit})")
    axes.grid(True, which="major", alpha=0.35)
    if curve.series:
        axes.legend()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{curve.name}.png"
    figure.savefig(path, format="png")
    import numpy as np

    lines = {str(line.get_label()): list(zip(np.asarray(line.get_xdata(), dtype=float).tolist(),
                                             np.asarray(line.get_ydata(), dtype=float).tolist()))
             for line in axes.get_lines()}
    return Plotted(path, unit, lines)
