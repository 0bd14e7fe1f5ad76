"""Entry point of the ``airssys-wasm`` command."""

from __future__ import annotations

import datetime
import os
import platform

import click
from rich.console import Console

import airssys_wasm
from airssys_wasm.benchmarks import actor as actor_suite
from airssys_wasm.benchmarks import multicodec as multicodec_suite
from airssys_wasm.benchmarks.timing import render_markdown, render_table

SUITES = {"multicodec": multicodec_suite.run, "actor": actor_suite.run}


@click.group()
@click.version_option(airssys_wasm.__version__, prog_name="airssys-wasm")
def main() -> None:
    """Supervised WebAssembly component actors."""


@main.command()
@click.option("--suite", "suites", multiple=True, type=click.Choice(sorted(SUITES)),
              help="Run only this suite (repeatable). Default: all.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table for BENCHMARKS.md.")
@click.option("--quick", is_flag=True, help="Fewer, shorter repeats (a smoke run, noisier).")
def bench(suites: tuple[str, ...], markdown: bool, quick: bool) -> None:
    """Run the side-by-side benchmarks (ours vs the baselines, same process) and print ratios."""
    console = Console()
    if console.width < 110:  # the ratio table does not fit 80 columns; let it overflow instead
        console = Console(width=110)
    repeat, min_seconds = (3, 0.02) if quick else (5, 0.1)
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    for name in suites or sorted(SUITES):
        rows = SUITES[name](repeat=repeat, min_seconds=min_seconds)
        if markdown:
            today = datetime.date.today().isoformat()
            click.echo(f"### {name}\n\n`airssys-wasm bench --suite {name}` — {today}, {machine}\n")
            click.echo(render_markdown(rows) + "\n")
        else:
            console.print(render_table(rows, f"{name} ({machine}; median of {repeat})"))
