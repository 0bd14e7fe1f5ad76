"""Timing and reporting shared by every comparison suite."""

from __future__ import annotations

import statistics
import timeit
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Comparison:
    """One benchmark row: our cost, the baseline's, and how many times faster we are."""

    name: str
    ours_ns: float
    baseline: str
    baseline_ns: float | None

    @property
    def ratio(self) -> float | None:
        """Baseline time / our time (> 1 means we are faster)."""
        if self.baseline_ns is None or self.ours_ns <= 0:
            return None
        return self.baseline_ns / self.ours_ns


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


def _fmt_ns(ns: float | None) -> str:
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def _fmt_ratio(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.1f}x"


def render_markdown(rows: list[Comparison]) -> str:
    """A GitHub table for BENCHMARKS.md."""
    lines = ["| benchmark | ours | baseline | baseline time | speed-up |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row.name} | {_fmt_ns(row.ours_ns)} | {row.baseline} | {_fmt_ns(row.baseline_ns)} "
            f"| {_fmt_ratio(row.ratio)} |")
    return "\n".join(lines)


def render_table(rows: list[Comparison], title: str) -> Any:
    """A rich table for the terminal."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("benchmark", "ours", "baseline", "baseline time", "speed-up"):
        table.add_column(column, justify="left" if column in ("benchmark", "baseline") else "right",
                         no_wrap=True)
    for row in rows:
        table.add_row(row.name, _fmt_ns(row.ours_ns), row.baseline, _fmt_ns(row.baseline_ns),
                      _fmt_ratio(row.ratio))
    return table
