"""What `demo` and `run` show while components work: a table of actors and a log of events.

The monitor listens to the host's events (restarts, health, dead letters) instead of polling
the components, so watching never adds calls into wasm. On a terminal the table is redrawn in
place (rich ``Live``); without one (CI, a pipe) events become plain lines and the table is
printed once at the end, so logs stay readable.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
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
from airssys_wasm.errors import AirssysError, CodecError, ComponentNotFound, TrapError
from airssys_wasm.host import Host

__all__ = ["Monitor", "interactive", "make_console", "quiet_library_logs", "trap_kind"]


def interactive(console: Console) -> bool:
    """Redraw in place only on a real terminal outside CI."""
    return console.is_terminal and not os.environ.get("CI")


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
        self.console.print(f"[{self.elapsed():6.2f}s] {text}", markup=False, highlight=False)

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
            try:
                self.health[name] = await self.host.health(name)
            except (AirssysError, TimeoutError):  # stopping or stuck: the state column says so
                self.health.pop(name, None)

    def table(self, title: str = "actors") -> Table:
        table = Table(title=f"{title} — {self.elapsed():.1f} s")
        for column in ("actor", "state", "in", "out", "queued", "restarts", "failures",
                       "dead letters", "health"):
            table.add_column(column, justify="left" if column in ("actor", "state", "health")
                             else "right", no_wrap=True)
        for name in self.host.names():
            try:
                ref = self.host.ref(name)
            except ComponentNotFound:  # stopped between names() and ref(): skip it this time
                continue
            stats = ref.stats
            state = ref.state.value
            health = self.health.get(name, HealthStatus.UNKNOWN).value
            style = {"running": "green", "failed": "red", "stopped": "dim"}.get(state, "yellow")
            table.add_row(name, f"[{style}]{state}[/]", str(stats.messages_in),
                          str(stats.messages_out), str(stats.queued), str(stats.restarts),
                          str(stats.failures), str(stats.dead_letters),
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
