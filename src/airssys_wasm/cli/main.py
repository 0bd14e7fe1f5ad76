"""Entry point of the ``airssys-wasm`` command.

Exit codes: 0 success, 1 a bad input file or a failed check (the message says which and why),
2 a usage error (click's). Expected failures never print a traceback: every ``AirssysError``
and ``OSError`` becomes a one-paragraph message.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import airssys_wasm
from airssys_wasm.benchmarks import SUITE_NAMES
from airssys_wasm.cli.lattice import lattice
from airssys_wasm.cli.node import node
from airssys_wasm.errors import AirssysError
from airssys_wasm.runtime.world import WORLDS

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Turn the library's expected failures into ``Error: ...`` and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (AirssysError, OSError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(airssys_wasm.__version__, prog_name="airssys-wasm")
def main() -> None:
    """Supervised WebAssembly component actors.

    Start with `airssys-wasm demo`.
    """


main.add_command(lattice)
main.add_command(node)


@main.command()
@click.option("--messages", "-n", default=120, show_default=True,
              type=click.IntRange(2, 100_000), help="How many messages to send into the pipeline.")
@click.option("--poison", default=3, show_default=True, type=click.IntRange(0, 20),
              help="How many of them are poison pills that make `transform` trap.")
@click.option("--seed", default=7, show_default=True, type=int,
              help="Seed for the readings and the poison positions (same seed, same run).")
@click.option("--rate", default=40.0, show_default=True, type=click.FloatRange(0),
              help="Messages per second (0: as fast as the host takes them).")
@click.option("--python-guest", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None,
              help="A built examples/python_guest/tally.py (`airssys-wasm build`): adds it as a "
                   "Python relay stage between ingest and transform.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Compile cache for --python-guest (default: where `build` precompiles).")
@friendly_errors
def demo(messages: int, poison: int, seed: int, rate: float, python_guest: Path | None,
         cache_dir: Path | None) -> None:
    """Run a supervised pipeline of bundled components: ingest -> transform -> sink.

    Shows messages flowing component to component through host functions, a component trapping
    on poison messages and restarted with backoff, a live table of actors and a summary.
    """
    from airssys_wasm.cli.demo import run_demo
    from airssys_wasm.cli.monitor import make_console

    if python_guest is not None and cache_dir is None:
        from airssys_wasm.runtime.cache import default_cache_dir

        cache_dir = default_cache_dir()
    result = run_demo(make_console(), messages=messages, poison=poison, seed=seed, rate=rate,
                      python_guest=python_guest, cache_dir=cache_dir)
    if not result.ok:
        raise click.ClickException(
            f"the sink counted {result.delivered} messages, expected {result.sent - result.poison}; "
            "messages were lost")


def _listen_address(ctx: click.Context, param: click.Parameter, value: str | None
                    ) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as (host, port); port 0 picks a free one."""
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"expected HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464, "
                                 f"0.0.0.0:9464; port 0 picks a free port), got {value!r}")
    return host, int(port)


@main.command()
@click.argument("system", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop by itself after this many seconds (default: run until Ctrl-C).")
@click.option("--audit", "audit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the security audit log (one JSON line per decision) to this file.")
@click.option("--watch", is_flag=True,
              help="Hot-upgrade a component when its source or manifest file changes "
                   "(polled every 0.5 s; a failed upgrade keeps the old version running).")
@click.option("--metrics", "metrics", metavar="HOST:PORT", callback=_listen_address, default=None,
              help="Serve Prometheus metrics at http://HOST:PORT/metrics while running "
                   "(port 0 picks a free port; the address is printed).")
@friendly_errors
def run(system: Path, duration: float | None, audit_path: Path | None, watch: bool,
        metrics: tuple[str, int] | None) -> None:
    """Start the components and supervisors SYSTEM.toml describes; stop on Ctrl-C / SIGTERM.

    Shutdown is graceful: queued messages are handled first, and what was drained is reported.
    See the README ("System files") for the schema.
    """
    from airssys_wasm.cli.monitor import make_console
    from airssys_wasm.cli.system import load_system, run_system

    spec = load_system(system)
    if audit_path is None:
        run_system(make_console(), spec, duration=duration, watch=watch, metrics=metrics)
        return
    from airssys_wasm.security import FileAuditSink

    try:
        sink = FileAuditSink(audit_path)
    except OSError as exc:
        raise click.ClickException(f"cannot open the audit log {str(audit_path)!r}: {exc.strerror}")
    try:
        run_system(make_console(), dataclasses.replace(spec, host=dataclasses.replace(spec.host, audit=sink)),
                   duration=duration, watch=watch, metrics=metrics)
    finally:
        sink.close()


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wit", "wit", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="WIT file or folder of the custom interfaces the host provides "
                   "(repeatable): custom imports are checked against it.")
@friendly_errors
def inspect(file: Path, wit: tuple[Path, ...]) -> None:
    """Show a .wasm/.wat file's kind, imports and exports (WIT types) and whether it fits
    the airssys-component world (or the core-ABI lane). Exit 1 if it does not."""
    from airssys_wasm.cli.inspect import inspect_file, render_report
    from airssys_wasm.cli.monitor import make_console

    from airssys_wasm.cli.progress import first_compile

    console = make_console()
    with first_compile(console, file):
        report = inspect_file(file, wit)
    render_report(console, report)
    if report.problems:
        raise click.ClickException(f"{file} does not satisfy {report.target} "
                                   f"({len(report.problems)} problem(s))")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def validate(file: Path) -> None:
    """Check a Component.toml or a system file (what `run` takes) and print every problem at
    once; exit 1 if there is any.

    A system file is checked completely without running it: its schema, each component's
    manifest, source (compiled and checked against the world), supervisor and messages.
    """
    from airssys_wasm.cli.system import check_system, is_system_file
    from airssys_wasm.security import load_manifest, validate_manifest

    if not file.is_file():
        raise click.ClickException(f"cannot read {str(file)!r}: no such file; check the path")
    if is_system_file(file):
        spec, problems = check_system(file)
    else:
        spec, problems = None, [str(p) for p in validate_manifest(file)]
    if problems:
        click.echo(f"{file}: {len(problems)} problem(s)", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1)
    if spec is not None:
        sends = sum(repeat for _, _, repeat in spec.messages)
        click.echo(f"{file}: valid system - host {spec.host.name}; "
                   f"{len(spec.components)} component(s), {len(spec.supervisors)} supervisor(s), "
                   f"{sends} initial message(s)")
        return
    m = load_manifest(file)
    grants = ", ".join(f"{kind} ({len(patterns)})" for kind, patterns in m.capabilities.grants.items()) \
        or "none"
    click.echo(f"{file}: valid - {m.component.name} {m.component.version}; capabilities: {grants}")


@main.command()
@click.argument("guest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The component to write (default: GUEST with the suffix .wasm).")
@click.option("--world", type=click.Choice(list(WORLDS)), default=None,
              help="The world to target (default: the smallest one covering the lifecycle methods "
                   "the guest's Component defines).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Compile cache to precompile into (default: $XDG_CACHE_HOME/airssys-wasm); pass "
                   "the same directory as EngineConfig(cache_dir=...) so the first spawn is fast.")
@click.option("--no-precompile", is_flag=True, help="Only build the component; do not compile it.")
@friendly_errors
def build(guest: Path, output: Path | None, world: str | None, cache_dir: Path | None,
          no_precompile: bool) -> None:
    """Build a Python guest module into a component (needs `pip install 'airssys-wasm[guest]'`).

    GUEST defines one subclass of airssys_wasm_guest.Component; a Component.toml next to it
    adds the extension interfaces its capabilities grant. Then the component is compiled into
    the compile cache, so a host using that cache spawns it without compiling.
    """
    from airssys_wasm.cli.guest import build_guest
    from airssys_wasm.runtime.cache import default_cache_dir
    from airssys_wasm.cli.monitor import make_console

    target = output if output is not None else guest.with_suffix(".wasm")
    cache = None if no_precompile else (cache_dir if cache_dir is not None else default_cache_dir())
    result = build_guest(guest, target, world=world, cache_dir=cache, console=make_console())
    extras = f" + {', '.join(result.extensions)}" if result.extensions else ""
    click.echo(f"{result.output}: {result.size / 1e6:.1f} MB component, world {result.world}{extras}")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--world", "world_name", default="airssys-component", show_default=True,
              type=click.Choice(["airssys-handler", "airssys-service", "airssys-component"]),
              help="The shipped world to write.")
@click.option("--import", "imports", multiple=True, metavar="INTERFACE",
              help="An extension interface to add to the world's imports (repeatable), "
                   "e.g. airssys:ext-storage/storage@1.0.0.")
@friendly_errors
def wit(directory: Path, world_name: str, imports: tuple[str, ...]) -> None:
    """Write the WIT package of a shipped world into DIRECTORY (replaced if it exists): what
    `wasm-tools component embed DIRECTORY --world NAME`, componentize-py or wit-bindgen read.

    The smaller worlds are cut from the one definition in the package's wit/, so a component
    built against any of them is accepted by the host exactly as one built against the full world.
    """
    from airssys_wasm.runtime import write_world
    from airssys_wasm.runtime.world import ALLOWED_IMPORTS

    extensions = sorted(i for i in ALLOWED_IMPORTS if i.startswith("airssys:ext-"))
    unknown = sorted(set(imports) - set(extensions))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: not a shipped extension interface; "
                                 f"choose from {', '.join(extensions)}",
                                 param_hint="--import")
    written = write_world(world_name, directory, imports=tuple(imports))
    click.echo(f"{written}/: world {world_name}"
               + (f" + {', '.join(imports)}" if imports else "")
               + f"; next: wasm-tools component embed {written} --world {world_name} CORE.wasm")


@main.command()
@click.argument("name")
@click.option("--lang", type=click.Choice(["python"]), default="python", show_default=True,
              help="The guest language.")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="Where to create the NAME directory.")
@friendly_errors
def new(name: str, lang: str, parent: Path) -> None:
    """Write a runnable component skeleton NAME/: the guest, its Component.toml and a test."""
    from airssys_wasm.cli.guest import new_python_project

    directory = new_python_project(name, parent)
    module = name.replace("-", "_")
    click.echo(f"created {directory}/ ({module}.py, Component.toml, test_{module}.py); next: "
               f"cd {directory} && airssys-wasm build {module}.py -o {name}.wasm")


@main.command()
@click.option("--suite", "suites", multiple=True, type=click.Choice(SUITE_NAMES),
              help="Run only this suite (repeatable). Default: all.")
@click.option("--markdown", is_flag=True, help="Print the Markdown sections of BENCHMARKS.md.")
@click.option("--compare", is_flag=True,
              help="Side by side with the baselines (the only mode; accepted for clarity).")
@click.option("--quick", is_flag=True, help="Fewer, shorter repeats (a smoke run, noisier).")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR",
              help="Measure the scaling curves of the selected suites instead of their rows "
                   "(suites without curves are skipped) and write one PNG per curve into DIR; "
                   "with --markdown, print each curve's table too. Needs matplotlib: "
                   "pip install 'airssys-wasm[bench]'.")
def bench(suites: tuple[str, ...], markdown: bool, compare: bool, quick: bool,
          plot_dir: Path | None) -> None:
    """Run the side-by-side benchmarks (ours vs the baselines, same process) and print ratios."""
    from airssys_wasm.benchmarks import suite
    from airssys_wasm.cli.monitor import quiet_library_logs

    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    today = datetime.date.today().isoformat()
    if plot_dir is not None:
        _bench_plots(suites or SUITE_NAMES, plot_dir, markdown=markdown, quick=quick,
                     stamp=f"{today}, {machine}")
        return
    from rich.console import Console

    from airssys_wasm.benchmarks.timing import render_markdown, render_table

    console = Console()
    if not console.is_terminal and console.width < 120:  # a pipe: rich would assume 80
        console = Console(width=120)
    repeat, min_seconds = (3, 0.02) if quick else (5, 0.1)
    for name in suites or SUITE_NAMES:
        module = suite(name)
        with quiet_library_logs():  # the suites cancel and crash guests on purpose
            rows = module.run(repeat=repeat, min_seconds=min_seconds)
        if markdown:
            click.echo(f"## {module.TITLE}\n\n`airssys-wasm bench --compare --markdown "
                       f"--suite {name}` — {today}, {machine}\n")
            click.echo(render_markdown(rows) + "\n")
        else:
            console.print(render_table(rows, f"{name} ({machine}; median of {repeat})"))


def _bench_plots(names: tuple[str, ...], directory: Path, *, markdown: bool, quick: bool,
                 stamp: str) -> None:
    """``bench --plot``: each selected suite's ``curves()`` as PNGs (and tables with --markdown).

    matplotlib is checked before anything is measured, so a missing extra fails in a second,
    not after minutes of benchmarks."""
    from airssys_wasm.benchmarks import suite
    from airssys_wasm.benchmarks.timing import plot_curve, render_curve_markdown, require_plotting
    from airssys_wasm.cli.monitor import quiet_library_logs

    try:
        require_plotting()
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    modules = [(name, suite(name)) for name in names]
    measured = [(name, module) for name, module in modules if hasattr(module, "curves")]
    if not measured:
        with_curves = [n for n in SUITE_NAMES if hasattr(suite(n), "curves")]
        raise click.ClickException(f"none of the selected suites ({', '.join(names)}) measures "
                                   f"curves; the ones that do: {', '.join(with_curves)}")
    quick_flag = " --quick" if quick else ""
    for name, module in measured:
        with quiet_library_logs():  # the suites cancel and crash guests on purpose
            found = module.curves(quick=quick)
        if markdown:
            click.echo(f"## {module.TITLE}: curves\n\n`airssys-wasm bench --plot {directory} "
                       f"--markdown{quick_flag} --suite {name}` — {stamp}\n")
        for curve in found:
            try:
                plotted = plot_curve(curve, directory)
            except OSError as exc:
                raise click.ClickException(f"cannot write {directory / curve.name}.png: "
                                           f"{exc.strerror or exc}; choose a writable DIR") from None
            if markdown:
                click.echo(f"### {curve.title}\n\n![{curve.title}]({plotted.path.as_posix()})\n\n"
                           f"{render_curve_markdown(curve)}\n")
            else:
                click.echo(str(plotted.path))
