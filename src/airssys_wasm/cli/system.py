"""``airssys-wasm run SYSTEM.toml``: a supervision tree of components described in a file.

Schema (every key optional unless marked *required*; paths are relative to the system file)::

    [host]
    name = "sensors"            # host name in logs and component ids
    health_interval = 10.0      # seconds between health probes; 0 turns probing off
    capacity = 1024             # default mailbox capacity
    max_restarts = 3            # intensity of each top-level component: more than this many
    within = 5.0                #   restarts within this many seconds and it alone is stopped

    [supervisors.pipeline]      # one table per supervisor, under the root supervisor
    strategy = "one_for_one"    # one_for_one | one_for_all | rest_for_one
    max_restarts = 5            # intensity: more than 5 restarts within 10 s -> give up
    within = 10.0
    backoff = { initial = 0.1, multiplier = 2.0, max = 5.0, jitter = 0.1 }  # for its children

    [[component]]
    name = "ingest"                 # *required*, unique
    source = "stage.wat"            # *required*: .wasm/.wat path, or "builtin:<name>" for a
                                    #   component bundled in the package (stage, counter, ...)
    manifest = "ingest.toml"        # Component.toml: version and [limits] (checked first)
    supervisor = "pipeline"         # default: the root supervisor
    restart = "permanent"           # permanent | transient | temporary
    config = "f-transform"          # config-data given to init (UTF-8 text)
    env = { LEVEL = "info" }        # env-vars given to init
    limits = { memory = "16MiB", fuel = 10000000, timeout_ms = 500 }  # override the manifest's
    backoff = { initial = 0.5 }     # overrides the supervisor's
    capacity = 256

    [[message]]                     # sent once everything started, in file order
    to = "ingest"                   # *required*
    json = { reading = 21.5 }       # a payload: json = <any TOML value> (JSON codec) or
    text = "hello"                  #   text = "..." (raw codec unless codec = "...")
    codec = "raw"                   # raw | json | cbor | msgpack
    repeat = 1

Components start in file order (start downstream components first). Every problem in the
file is reported at once, before anything starts; then, by the host, every component source
that does not load, before any component starts. ``airssys-wasm validate`` reports both
without running anything (``check_system``).

With ``--watch`` the source (and manifest) file of every component is polled every 0.5 s; a
component whose file changed is hot-upgraded (``Host.upgrade``: same mailbox, nothing queued is
lost). A failed upgrade is reported and the old version keeps running.

``airssys-wasm node`` (cli/node.py) serves the same way with a lattice: the file's components
are spawned on this node (one whose name the lattice already has, on any node, is skipped with
a note), the table gets a ``node`` column, and on stop the node detaches from the lattice
before its actor system shuts down, so its components are handed over to the other nodes
instead of being removed lattice-wide.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from airssys_wasm import demo as bundled
from airssys_wasm import multicodec as mc
from airssys_wasm.benchmarks import guests
from airssys_wasm.actor import ActorState, Backoff, HealthCheck, RestartPolicy, SupervisorStrategy
from airssys_wasm.cli.monitor import Monitor, interactive, quiet_library_logs
from airssys_wasm.errors import (
    AirssysError,
    ComponentNotFound,
    ConfigError,
    LoadError,
    ManifestError,
)
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import Engine, EngineConfig
from airssys_wasm.runtime.cache import default_cache_dir
from airssys_wasm.security import limits_from_section, load_manifest, validate_manifest
from airssys_wasm.types import ComponentConfig

if TYPE_CHECKING:
    from airssys_wasm.lattice import Lattice

__all__ = ["SystemSpec", "Watcher", "check_system", "is_system_file", "load_system",
           "run_system", "source_problems"]

logger = logging.getLogger("airssys_wasm.cli")

_CODECS = {"raw": mc.Codec.RAW, "json": mc.Codec.JSON, "cbor": mc.Codec.CBOR,
           "msgpack": mc.Codec.MSGPACK}
_HOST_KEYS = {"name", "health_interval", "capacity", "max_restarts", "within"}
_SUP_KEYS = {"strategy", "max_restarts", "within", "backoff"}
_COMPONENT_KEYS = {"name", "source", "manifest", "supervisor", "restart", "config", "env",
                   "limits", "backoff", "capacity"}
_MESSAGE_KEYS = {"to", "json", "text", "codec", "repeat"}
_BACKOFF_KEYS = {"initial", "multiplier", "max", "jitter", "reset_after"}


@dataclass(frozen=True)
class SupervisorSpec:
    name: str
    strategy: SupervisorStrategy
    max_restarts: int
    within: float
    backoff: Backoff | None


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    source: Path
    manifest: Path | None
    supervisor: str | None
    restart: RestartPolicy
    config: ComponentConfig | None
    limits: Mapping[str, Any] | None
    backoff: Backoff | None
    capacity: int | None
    uses_fuel: bool  # a fuel limit needs an engine with fuel metering
    where: str  # its place in the file, for messages: component[2]


@dataclass(frozen=True)
class SystemSpec:
    path: Path
    host: HostConfig
    supervisors: list[SupervisorSpec] = field(default_factory=list)
    components: list[ComponentSpec] = field(default_factory=list)
    messages: list[tuple[str, bytes, int]] = field(default_factory=list)  # (to, frame, repeat)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def table(self, value: object, where: str, keys: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(where, f"must be a table, got {type(value).__name__}")
            return {}
        for key in sorted(set(value) - keys):
            self.add(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(keys))})")
        return value

    def number(self, table: dict[str, Any], key: str, where: str, default: float, *,
               integer: bool = False, minimum: float = 0.0) -> Any:
        value = table.get(key, default)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
                or value < minimum:
            kind = "an integer" if integer else "a number"
            self.add(f"{where}.{key}", f"must be {kind} >= {minimum:g}, got {value!r}")
            return default
        return value

    def string(self, table: dict[str, Any], key: str, where: str, *, required: bool = False
               ) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.add(f"{where}.{key}", "is required")
            return None
        if not isinstance(value, str) or not value:
            self.add(f"{where}.{key}", f"must be a non-empty string, got {value!r}")
            return None
        return value

    def choice(self, table: dict[str, Any], key: str, where: str, enum: Any, default: Any) -> Any:
        value = table.get(key, default.value)
        try:
            return enum(value)
        except ValueError:
            self.add(f"{where}.{key}", f"must be one of {', '.join(e.value for e in enum)}, "
                     f"got {value!r}")
            return default

    def backoff(self, value: object, where: str) -> Backoff | None:
        if value is None:
            return None
        table = self.table(value, where, _BACKOFF_KEYS)
        try:
            return Backoff(**{k: v for k, v in table.items() if k in _BACKOFF_KEYS})
        except (ConfigError, TypeError) as exc:
            self.add(where, str(exc))
            return None


def _source(p: _Problems, value: str | None, base: Path, where: str) -> Path:
    if value is None:
        return base
    if value.startswith("builtin:"):
        name = value.removeprefix("builtin:")
        if name in bundled.NAMES:
            return bundled.path(name)
        if name in guests.NAMES:
            return guests.path(name)
        p.add(where, f"no bundled component {name!r} (bundled: "
              f"{', '.join(bundled.NAMES + guests.NAMES)})")
        return base
    path = (base / value)
    if not path.is_file():
        p.add(where, f"file {str(path)!r} not found")
    return path


def _component(p: _Problems, raw: object, where: str, base: Path, sups: set[str],
               seen: set[str]) -> ComponentSpec | None:
    table = p.table(raw, where, _COMPONENT_KEYS)
    if not isinstance(raw, dict):
        return None
    name = p.string(table, "name", where, required=True)
    if name is not None:
        if name in seen:
            p.add(f"{where}.name", f"{name!r} is used by another component")
        seen.add(name)
    source = _source(p, p.string(table, "source", where, required=True), base, f"{where}.source")
    manifest = None
    uses_fuel = False
    manifest_name = p.string(table, "manifest", where)
    if manifest_name is not None:
        manifest = base / manifest_name
        if not manifest.is_file():
            p.add(f"{where}.manifest", f"file {str(manifest)!r} not found")
        else:
            problems = validate_manifest(manifest)
            for problem in problems:
                p.add(f"{where}.manifest ({manifest_name})", str(problem))
            uses_fuel = not problems and load_manifest(manifest).limits.fuel is not None
    supervisor = p.string(table, "supervisor", where)
    if supervisor is not None and supervisor not in sups:
        p.add(f"{where}.supervisor", f"no supervisor {supervisor!r} in [supervisors] "
              f"(defined: {', '.join(sorted(sups)) or 'none'})")
    config = None
    data = table.get("config")
    env = table.get("env", {})
    if data is not None and not isinstance(data, str):
        p.add(f"{where}.config", f"must be a string, got {type(data).__name__}")
        data = None
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        p.add(f"{where}.env", "must be a table of strings")
        env = {}
    if data is not None or env:
        config = ComponentConfig(env_vars=tuple(env.items()),
                                 config_data=None if data is None else data.encode())
    limits = table.get("limits")
    if isinstance(limits, dict) and limits.get("fuel") is not None:
        uses_fuel = True
    if limits is not None:
        try:
            limits_from_section(limits)
        except ManifestError as exc:
            p.add(f"{where}.limits", str(exc))
    capacity = table.get("capacity")
    if capacity is not None:
        capacity = p.number(table, "capacity", where, 1, integer=True, minimum=1)
    if name is None:
        return None
    return ComponentSpec(name=name, source=source, manifest=manifest, supervisor=supervisor,
                         restart=p.choice(table, "restart", where, RestartPolicy,
                                          RestartPolicy.PERMANENT),
                         config=config, limits=limits, backoff=p.backoff(table.get("backoff"),
                                                                         f"{where}.backoff"),
                         capacity=capacity, uses_fuel=uses_fuel, where=where)


def _message(p: _Problems, raw: object, where: str, names: set[str]) -> tuple[str, bytes, int] | None:
    table = p.table(raw, where, _MESSAGE_KEYS)
    if not isinstance(raw, dict):
        return None
    to = p.string(table, "to", where, required=True)
    if to is not None and to not in names:
        p.add(f"{where}.to", f"no component named {to!r}")
    repeat = p.number(table, "repeat", where, 1, integer=True, minimum=1)
    has_json, has_text = "json" in table, "text" in table
    if has_json == has_text:
        p.add(where, "needs exactly one payload: json = <value> or text = \"...\"")
        return None
    codec_name = table.get("codec", "json" if has_json else "raw")
    codec = _CODECS.get(codec_name) if isinstance(codec_name, str) else None
    if codec is None:
        p.add(f"{where}.codec", f"must be one of {', '.join(_CODECS)}, got {codec_name!r}")
        return None
    if has_text:
        text = table["text"]
        if not isinstance(text, str):
            p.add(f"{where}.text", "must be a string")
            return None
        frame = mc.encode(codec, text.encode())
    else:
        try:
            if codec is mc.Codec.RAW:
                frame = mc.encode(codec, json.dumps(table["json"], default=str).encode())
            else:
                frame = mc.encode_value(codec, table["json"])
        except (TypeError, ValueError) as exc:  # CodecError is a ValueError
            p.add(f"{where}.json", f"cannot be encoded as {codec_name}: {exc}")
            return None
    return (to, frame, repeat) if to is not None else None


def is_system_file(path: Path) -> bool:
    """Whether ``path`` looks like a system file rather than a Component.toml: it has
    ``[[component]]`` (an array of tables; a manifest has one ``[component]`` table) or a
    ``[host]``/``[supervisors]``/``[[message]]`` section. A file that cannot be read or parsed
    is not one: the manifest check reports why."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("component"), list) or bool({"host", "supervisors", "message"}
                                                           & set(data))


def _parse(path: Path) -> tuple[SystemSpec | None, list[str]]:
    """The spec (None if it cannot be built) and every problem of the file itself: schema,
    each component's manifest, supervisors, messages. Component sources are only looked for."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}; check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    p = _Problems()
    top = p.table(data, "<file>", {"host", "supervisors", "component", "message"})
    base = path.resolve().parent
    host = p.table(top.get("host", {}), "host", _HOST_KEYS)
    interval = p.number(host, "health_interval", "host", 10.0)
    host_kwargs: dict[str, Any] = {
        "health": HealthCheck(interval=interval) if interval > 0 else None,
        "capacity": p.number(host, "capacity", "host", 1024, integer=True, minimum=1),
        "max_restarts": p.number(host, "max_restarts", "host", 3, integer=True),
        "within": p.number(host, "within", "host", 5.0),
    }
    name = p.string(host, "name", "host")
    if name:
        host_kwargs["name"] = name
    sups: list[SupervisorSpec] = []
    raw_sups = top.get("supervisors", {})
    for sup_name, raw in p.table(raw_sups, "supervisors",
                                 set(raw_sups) if isinstance(raw_sups, dict) else set()).items():
        where = f"supervisors.{sup_name}"
        table = p.table(raw, where, _SUP_KEYS)
        sups.append(SupervisorSpec(
            name=sup_name,
            strategy=p.choice(table, "strategy", where, SupervisorStrategy,
                              SupervisorStrategy.ONE_FOR_ONE),
            max_restarts=p.number(table, "max_restarts", where, 3, integer=True),
            within=p.number(table, "within", where, 5.0),
            backoff=p.backoff(table.get("backoff"), f"{where}.backoff")))
    raw_components = top.get("component", [])
    if not isinstance(raw_components, list) or not raw_components:
        p.add("component", "define at least one [[component]] (name and source)")
        raw_components = []
    seen: set[str] = set()
    comps = [c for i, raw in enumerate(raw_components)
             if (c := _component(p, raw, f"component[{i}]", base, {s.name for s in sups}, seen))]
    raw_messages = top.get("message", [])
    if not isinstance(raw_messages, list):
        p.add("message", "must be an array of tables: [[message]]")
        raw_messages = []
    messages = [m for i, raw in enumerate(raw_messages)
                if (m := _message(p, raw, f"message[{i}]", seen))]
    # The CLI's compile cache: `validate` compiles what `run` will load, and a big guest is
    # compiled once, not on every start.
    host_kwargs["engine"] = EngineConfig(consume_fuel=any(c.uses_fuel for c in comps),
                                         cache_dir=default_cache_dir())
    try:
        config = HostConfig(**host_kwargs)
    except ConfigError as exc:
        p.add("host", str(exc))
        return None, p.items
    return SystemSpec(path=path, host=config, supervisors=sups, components=comps,
                      messages=messages), p.items


async def source_problems(load: Callable[[Path, str], Awaitable[object]],
                          components: list[ComponentSpec], console: Any = None) -> list[str]:
    """Compile every component's source with ``load(source, name)`` and check it against the
    world, each file once; one problem per component whose source the host would refuse (all
    of them, not just the first). A missing file was already reported by the schema check.
    With a ``console``, a big source's compile shows progress (cli/progress.py)."""
    from airssys_wasm.cli.progress import first_compile

    errors: dict[Path, str | None] = {}
    problems = []
    for comp in components:
        if not comp.source.is_file():
            continue
        if comp.source not in errors:
            try:
                if console is None:
                    await load(comp.source, comp.name)
                else:
                    with first_compile(console, comp.source):
                        await load(comp.source, comp.name)
                errors[comp.source] = None
            except LoadError as exc:
                errors[comp.source] = str(exc)
        error = errors[comp.source]
        if error is not None:
            problems.append(f"{comp.where}.source: {error}")
    return problems


def _listing(path: Path, problems: list[str]) -> str:
    return f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {item}" for item in problems)


def load_system(path: Path) -> SystemSpec:
    """Parse and check a system file; ConfigError listing every problem. The component
    sources are compiled by the host that runs them (``run`` checks them all before it
    starts anything), so they are not compiled twice."""
    spec, problems = _parse(path)
    if problems or spec is None:
        raise ConfigError(_listing(path, problems))
    return spec


def check_system(path: Path) -> tuple[SystemSpec | None, list[str]]:
    """What ``validate`` reports for a system file, without starting a host: every problem
    ``load_system`` finds and every component source that does not compile or does not fit the
    world (compiled by a throwaway engine configured like the host's)."""
    spec, problems = _parse(path)
    if spec is not None:
        with Engine(spec.host.engine) as engine:
            async def load(source: Path, name: str) -> object:
                return engine.load(source, name=name)  # nothing else runs on this loop

            problems += asyncio.run(source_problems(load, spec.components))
    return spec, problems


async def _check_sources(host: Host, spec: SystemSpec, console: Any = None) -> None:
    """Before anything starts: ConfigError listing every component the host cannot load
    (compiled off the loop: on a lattice node, components taken over at start already run)."""
    problems = await source_problems(lambda source, name: host.prepare(source, name=name),
                                     spec.components, console)
    if problems:
        raise ConfigError(_listing(spec.path, problems) + "\nnothing was started")


def _in_lattice(host: Host, name: str, this_node: str | None) -> str | None:
    """On a lattice host: where the lattice already has a component named ``name`` ("on node
    n2", "on this node", "failed", "moving between nodes"); None when the name is free (and
    always without a lattice)."""
    lattice = host.lattice
    if lattice is None:
        return None
    node = lattice.where(name)
    state, _ = lattice.state(name)  # STOPPED: no placement entry of that name
    if node is None and state is ActorState.STOPPED and name not in host.registry:
        return None
    if state is ActorState.FAILED:
        return "failed lattice-wide (stop it to spawn it again)"
    if node is None:
        return "moving between nodes"
    return f"on node {node}" + (" (this node)" if node == this_node else "")


async def _start(host: Host, spec: SystemSpec, monitor: Monitor, *,
                 node: str | None = None) -> None:
    """Start ``spec``'s supervisors and components, then send its messages; on a lattice host
    (``node``: this node's name) a component the lattice already has is skipped."""
    await _check_sources(host, spec, monitor.console)
    backoffs = {s.name: s.backoff for s in spec.supervisors}
    for sup in spec.supervisors:
        try:  # on a lattice host, components it took over at start may have made it already
            host.find_supervisor(sup.name)
        except ComponentNotFound:
            await host.supervisor(sup.name, strategy=sup.strategy, max_restarts=sup.max_restarts,
                                  within=sup.within)
    started: set[str] = set()
    for comp in spec.components:
        where = _in_lattice(host, comp.name, node)
        if where is None:
            limits = None
            if comp.limits is not None:
                limits = limits_from_section(comp.limits, base=spec.host.limits)
            try:
                await host.spawn(comp.name, comp.source, manifest=comp.manifest,
                                 restart=comp.restart, limits=limits, supervisor=comp.supervisor,
                                 config=comp.config,
                                 backoff=comp.backoff or backoffs.get(comp.supervisor or ""),
                                 capacity=comp.capacity)
            except ConfigError:
                where = _in_lattice(host, comp.name, node)  # spawned by another node meanwhile
                if where is None:
                    raise
        if where is not None:
            monitor.note(f"skipped {comp.name}: already in the lattice, {where}")
            continue
        started.add(comp.name)
        monitor.note(f"started {comp.name} ({comp.source.name}) under "
                     f"{comp.supervisor or 'the root supervisor'}")
    # A skipped component got its initial messages from the node that spawned it.
    messages = [m for m in spec.messages if m[0] in started]
    for to, frame, repeat in messages:
        for _ in range(repeat):
            await host.send(to, frame)
    if messages:
        monitor.note(f"sent {sum(r for _, _, r in messages)} initial message(s)")


_Stamp = tuple[int, int, int] | None


def _stamp(path: Path | None) -> _Stamp:
    """What identifies a version of a file without reading it: inode, size, mtime."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None  # being replaced right now: look again next time
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Watcher:
    """``run --watch``: upgrade a component when its source or manifest file changed.

    Polling (no inotify dependency, works on every filesystem) every ``interval`` seconds. A
    change is acted on once the file looked the same on two polls in a row, so an editor's
    half-written file is not loaded; a version that still fails (LoadError, ManifestError, an
    ``init`` that fails and is rolled back) is reported and the old one keeps running — the
    next change is tried again.
    """

    def __init__(self, host: Host, spec: SystemSpec, monitor: Monitor, *,
                 interval: float = 0.5) -> None:
        self.host = host
        self.monitor = monitor
        self.interval = interval
        self.components = list(spec.components)
        self._loaded = {c.name: (_stamp(c.source), _stamp(c.manifest)) for c in self.components}
        self._seen = dict(self._loaded)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> None:
        """One look at every file; upgrades (one after another) the components that changed."""
        for comp in self.components:
            now = (_stamp(comp.source), _stamp(comp.manifest))
            previous, self._seen[comp.name] = self._seen[comp.name], now
            if now == self._loaded[comp.name] or now != previous or now[0] is None:
                continue  # unchanged, still changing, or missing (being replaced)
            self._loaded[comp.name] = now
            await self.reload(comp)

    async def reload(self, comp: ComponentSpec) -> None:
        try:
            await self.host.upgrade(comp.name, comp.source, manifest=comp.manifest)
        except AirssysError as exc:
            logger.warning("reloading %s from %s failed: %s", comp.name, comp.source, exc)
            self.monitor.note(f"reload of {comp.name} ({comp.source.name}) failed, the old "
                              f"version keeps running: {type(exc).__name__}: {exc}")
        else:
            self.monitor.note(f"reloaded {comp.name} ({comp.source.name}): upgraded in place, "
                              "mailbox kept")


async def _serve(console: Console, spec: SystemSpec, duration: float | None, *,
                 watch: bool = False, metrics: tuple[str, int] | None = None,
                 lattice: Lattice | None = None) -> None:
    live = interactive(console)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        async with Host(spec.host, lattice=lattice) as host:
            monitor = Monitor(host, console, live)
            monitor.attach()
            if lattice is not None:  # one plain line a script can wait for
                console.print(f"node {lattice.node} joined lattice {lattice.name} at "
                              f"{lattice.url}", markup=False, highlight=False,
                              soft_wrap=True)
                console.file.flush()
            if metrics is not None:  # up before the first spawn: a scrape sees it all happen
                server = await host.serve_metrics(*metrics)
                monitor.note(f"metrics: {server.url} (Prometheus text format)")
            await _start(host, spec, monitor, node=None if lattice is None else lattice.node)
            monitor.note("running; Ctrl-C to stop" if duration is None
                         else f"running for {duration:g} s")
            title = spec.path.name if lattice is None else f"node {lattice.node}" + (
                f" — {spec.path.name}" if spec.components else "")
            display = Live(monitor.table(title), console=console, refresh_per_second=4) \
                if live else nullcontext()
            watcher = asyncio.create_task(Watcher(host, spec, monitor).run()) if watch else None
            if watch:
                monitor.note("watching the component files; a changed one is upgraded in place")
            with display as screen:
                refresher = asyncio.create_task(_refresh(screen, monitor, title))
                try:
                    await asyncio.wait_for(stop.wait(), duration)
                    monitor.note("stop requested: draining mailboxes")
                except asyncio.TimeoutError:
                    monitor.note("duration reached: draining mailboxes")
                finally:
                    refresher.cancel()
                    if watcher is not None:
                        watcher.cancel()
                await monitor.probe()
                if screen is not None:
                    screen.update(monitor.table(title))
            if not live:
                console.print(monitor.table(title))
            assert host.system is not None
            names = [c.name for c in spec.components]
            if lattice is not None:
                # Leave first: no new frames from the lattice while draining, and the lifecycle
                # events of the shutdown do not remove this node's components lattice-wide —
                # Host.close then hands them over to the other nodes.
                await lattice.detach(drain=True)
                names = host.registry.names()
                monitor.note(f"leaving the lattice: {len(names)} component(s) of this node "
                             "are handed over to the other nodes")
            report = await host.system.shutdown(drain=True)
            console.print(_drain_table(names, report.handled, report.dead_lettered))
            if monitor.escalations:
                raise ConfigError(f"a supervisor gave up ({monitor.escalations[-1].supervisor}); "
                                  "see the events above")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _refresh(screen: Live | None, monitor: Monitor, title: str) -> None:
    if screen is None:
        return
    while True:
        await asyncio.sleep(0.25)
        screen.update(monitor.table(title))


def _drain_table(names: list[str], handled: Mapping[str, int], dead: Mapping[str, int]) -> Table:
    """What graceful shutdown did with the messages still queued when the stop came."""
    table = Table(title="graceful shutdown: queued messages")
    for column in ("component", "handled while draining", "dead-lettered"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for name in names:
        table.add_row(name, str(handled.get(name, 0)), str(dead.get(name, 0)))
    return table


def run_system(console: Console, spec: SystemSpec, *, duration: float | None,
               watch: bool = False, metrics: tuple[str, int] | None = None,
               lattice: Lattice | None = None) -> None:
    """Run ``spec`` until ``duration`` passed or Ctrl-C / SIGTERM; ``metrics``: (host, port)
    of a Prometheus endpoint to serve meanwhile (``run --metrics``); ``lattice``: make the host
    a node of that lattice (``airssys-wasm node``)."""
    with quiet_library_logs():
        asyncio.run(_serve(console, spec, duration, watch=watch, metrics=metrics,
                           lattice=lattice))
