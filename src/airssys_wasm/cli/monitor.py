"""What `demo` and `run` show while components work: a table of actors and a log of events.

The monitor listens to the host's events (restarts, health, dead letters) instead of polling
the components, so watching never adds calls into wasm. On a terminal the table is redrawn in
place (rich ``Live``); without one (CI, a pipe) events become plain lines and the table is
printed once at the end, so logs stay readable.

On a lattice host (``airssys-wasm node``) the table has a ``node`` column and lists the
lattice's components placed on other nodes too: their state is what their placement records,
their counters and health are kept by their node, so those cells show ``-``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from airssys_wasm import multicodec as mc
from airssys_wasm.actor import (
    DeadLetter,
    EscalationEvent,
    Event,
    HealthEvent,
    HealthStatus,
    RestartEvent,
)
from airssys_wasm.errors import (
    ActorStateError,
    AirssysError,
    CodecError,
    ComponentNotFound,
    TrapError,
)
from airssys_wasm.cli.progress import interactive
from airssys_wasm.host import Host

__all__ = ["Monitor", "actor_table", "compact", "interactive", "make_console", "quiet_library_logs", "trap_kind"]


def make_console() -> Console:
    """Wide enough for the actor table even when stdout is a pipe (rich then assumes 80)."""
    console = Console()
    if not console.is_terminal and console.width < 110:
        console = Console(width=110)
    return console


@contextmanager
def quiet_library_logs() -> Iterator[None]:
    """The monitor reports failures itself: keep the library's warnings (which Python would
    print to stderr through its last-resort handler) out of the display, for this run only."""
    logger = logging.getLogger("airssys_wasm")
    handler = logging.NullHandler()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def trap_kind(error: BaseException | None) -> str:
    """A short name for why a message failed: the trap kind, else the error type."""
    if isinstance(error, TrapError):
        return f"trap: {error.kind.value}"
    if error is None:
        return "stopped"
    return type(error).__name__


@dataclass
class Monitor:
    """Turns a host's events into progress lines and keeps what the actor table needs
    (the last health answer of each component, the supervisors that gave up)."""

    host: Host
    console: Console
    live: bool
    started: float = field(default_factory=time.monotonic)
    health: dict[str, HealthStatus] = field(default_factory=dict)
    escalations: list[EscalationEvent] = field(default_factory=list)

    def attach(self) -> None:
        self.host.add_listener(self.on_event)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        """A progress line: printed as-is without a terminal, above the live table with one."""
        self.console.print(f"[{self.elapsed():6.2f}s] {text}", markup=False, highlight=False, soft_wrap=True)

    def on_event(self, event: Event) -> None:
        if isinstance(event, HealthEvent):
            self.health[event.actor] = event.status
        elif isinstance(event, RestartEvent):
            self.note(f"restart {event.actor} (attempt {event.attempt}) in {event.delay:.2f} s "
                      f"after {trap_kind(event.error)}")
        elif isinstance(event, DeadLetter):
            self.note(f"dead letter to {event.recipient}: {_preview(event.message)} "
                      f"({trap_kind(event.error)})")
        elif isinstance(event, EscalationEvent):
            self.escalations.append(event)
            self.note(f"supervisor {event.supervisor} gave up: more than {event.max_restarts} "
                      f"restarts within {event.within:g} s (last failure: {event.child})")

    async def probe(self) -> None:
        """Ask every component for its health now, so the final table shows a fresh answer
        even for one that restarted after its last periodic probe."""
        for name in self.host.names():
            if name not in self.host.registry:
                continue  # on another node of the lattice: that node probes it
            try:
                self.health[name] = await self.host.health(name)
            except (AirssysError, TimeoutError):  # stopping or stuck: the state column says so
                self.health.pop(name, None)

    def table(self, title: str = "actors") -> Table:
        """The actor table in the wide layout if it fits the console, else the narrow one
        (abbreviated headers, compact numbers, no vertical rules) that fits 80 columns: a
        cut-off cell (``runni…``) is worse than an abbreviation explained in the caption.

        On a lattice host: a ``node`` column, and the components on other nodes too."""
        rows: list[ActorRow] = []
        lattice = self.host.lattice
        nodes: dict[str, str | None] | None = None if lattice is None else {}
        for name in self.host.names():
            try:
                ref = self.host.ref(name)
            except ComponentNotFound:  # stopped between names() and ref(): skip it this time
                continue
            counters: tuple[int, ...] | None
            try:
                stats = ref.stats
            except ActorStateError:  # a RemoteRef: its node keeps the counters
                counters, health = None, "-"
            else:
                counters = (stats.messages_in, stats.messages_out, stats.queued, stats.restarts,
                            stats.failures, stats.dead_letters)
                health = self.health.get(name, HealthStatus.UNKNOWN).value
            rows.append((name, ref.state.value, counters, health))
            if lattice is not None and nodes is not None:
                nodes[name] = lattice.where(name)
        heading = f"{title} — {self.elapsed():.1f} s"
        wide = actor_table(heading, rows, narrow=False, nodes=nodes)
        unbounded = self.console.options.update_width(1 << 16)  # its natural width
        if self.console.measure(wide, options=unbounded).maximum <= self.console.width:
            return wide
        return actor_table(heading, rows, narrow=True, nodes=nodes)


#: (wide header, narrow header) of the counter columns, in table order.
_COUNTERS = (("in", "in"), ("out", "out"), ("queued", "q"), ("restarts", "rst"),
             ("failures", "fail"), ("dead letters", "dead"))
_NARROW_CAPTION = "q queued · rst restarts · fail failures · dead dead letters"

#: (name, state, counters, health); counters None: kept by another node (shown as ``-``).
ActorRow = tuple[str, str, tuple[int, ...] | None, str]


def compact(n: int) -> str:
    """A counter in at most 4 characters (999, 1.2k, 12k, 123k, 1.2M ...), rounded down so it
    never claims more than happened."""
    if n < 1000:
        return str(n)
    units, rest, scaled = "kMGTP", n, n // 1000
    while scaled >= 1000 and len(units) > 1:
        units, rest, scaled = units[1:], scaled, scaled // 1000
    if scaled < 10:
        return f"{scaled}.{rest // 100 % 10}{units[0]}"
    return f"{scaled}{units[0]}"


def actor_table(title: str, rows: list[ActorRow], *, narrow: bool,
                nodes: Mapping[str, str | None] | None = None) -> Table:
    """One row per actor: state, message counters, last health answer.

    ``nodes`` (a lattice host's: component name -> the node it is placed on, None while it
    moves) adds a ``node`` column after the actor's name; without it the table has none."""
    if narrow:
        table = Table(title=title, caption=_NARROW_CAPTION, box=box.SIMPLE_HEAD,
                      show_edge=False, padding=(0, 1), pad_edge=False)
    else:
        table = Table(title=title)
    # A long actor name folds onto a second line instead of being cut; nothing else can wrap.
    table.add_column("actor", overflow="fold")
    if nodes is not None:
        table.add_column("node", overflow="fold")
    table.add_column("state", no_wrap=True)
    for wide_header, narrow_header in _COUNTERS:
        table.add_column(narrow_header if narrow else wide_header, justify="right", no_wrap=True)
    table.add_column("health", no_wrap=True)
    number = compact if narrow else str
    for name, state, counters, health in rows:
        style = {"running": "green", "failed": "red", "stopped": "dim"}.get(state, "yellow")
        where = [] if nodes is None else [escape(nodes.get(name) or "-")]
        figures = ["-"] * len(_COUNTERS) if counters is None else [number(c) for c in counters]
        table.add_row(escape(name), *where, f"[{style}]{state}[/]", *figures,
                      f"[{'green' if health == 'healthy' else 'yellow'}]{health}[/]")
    return table


def _preview(message: Any) -> str:
    """A dead letter's message, short: tuples are (sender, frame)."""
    if isinstance(message, tuple) and len(message) == 2:
        message = message[1]
    if isinstance(message, (bytes, bytearray, memoryview)):
        data = bytes(message)
        try:
            codec, payload = mc.decode(data)
        except CodecError:
            return repr(data[:24] + (b"..." if len(data) > 24 else b""))
        body = bytes(payload)
        return f"{codec.name.lower()} {body[:24] + (b'...' if len(body) > 24 else b'')!r}"
    text = repr(message)
    return text if len(text) <= 40 else text[:37] + "..."
