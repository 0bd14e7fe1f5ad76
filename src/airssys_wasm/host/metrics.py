"""What a Host reports to dashboards: a snapshot of its counters, taken when someone asks.

A pull model: nothing is pushed per message. A scrape (``collect``) reads the counters the
runtime keeps anyway — the mailbox ring counts accepted messages in C, the batch loop adds the
handled count and times each drained batch (``ActorRef.latency``, two C calls per batch), the
audit log counts its decisions — plus the rare events an :class:`EventCounters` listener
counts when they happen (spawns, traps by kind, dead letters by reason). ``collect`` turns
them into :class:`MetricFamily` values with Prometheus names (``airssys_`` prefix, unit
suffixes ``_total`` / ``_seconds`` / ``_bytes``); ``airssys_wasm.host.prometheus`` renders them
for a scrape and ``airssys_wasm.host.otel`` hands them to OpenTelemetry.

Per-component series carry the labels ``host`` (``HostConfig.name``) and ``component`` (the
spawn name); they live as long as the component's entry, so stopping a component removes its
series and spawning the name again starts them from zero (a counter reset, which Prometheus'
``rate()`` handles). Components a supervisor gave up on keep reporting (state ``failed``) until
the name is spawned again, like ``Host.ref`` and ``Host.stats``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airssys_wasm.actor import ActorState, DeadLetter, Event, LifecycleEvent
from airssys_wasm.errors import ComponentNotFound, TrapError
from airssys_wasm.host.policy import audit_counts
from airssys_wasm.host.registry import ComponentEntry, Registry

if TYPE_CHECKING:
    from airssys_wasm.host.host import Host

__all__ = ["COMPONENT_FAMILIES", "HOST_FAMILIES", "EventCounters", "HistogramSample",
           "LoopSnapshot", "MetricFamily", "Sample", "collect"]

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One series of a counter or gauge: its labels and current value."""

    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class HistogramSample:
    """One series of a histogram: cumulative counts per upper bound (the last is +Inf)."""

    labels: Labels
    bounds: tuple[float, ...]
    buckets: tuple[int, ...]  # len(bounds) + 1 cumulative counts; the last one == count
    sum: float
    count: int


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A named metric and its series. ``name`` is the exposition name (counters end in
    ``_total``); ``kind`` is ``"counter"``, ``"gauge"`` or ``"histogram"``; ``unit`` is the
    UCUM unit OpenTelemetry wants (``"s"``, ``"By"``, ``"1"``)."""

    name: str
    kind: str
    help: str
    unit: str
    samples: tuple[Sample | HistogramSample, ...]


class EventCounters:
    """Counts the events a dashboard wants and no counter holds: spawns (per host), traps
    that ended an incarnation by kind, and dead letters by reason (per component).

    It is an event listener (``Host.start`` adds it), so it runs only when such an event
    happens — a failure, a spawn, a dead letter — never per handled message. Per-component
    counts go into the component's ``ComponentStats`` (``traps``, ``dead_letters``).
    """

    __slots__ = ("_registry", "spawns")

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        #: Actors the host created (one per successful or failed-at-init spawn).
        self.spawns = 0

    def _entry(self, name: str) -> ComponentEntry | None:
        try:
            return self._registry.get(name)
        except ComponentNotFound:
            return None  # not (or no longer) a component of this host: the host total has it

    def __call__(self, event: Event) -> None:
        if type(event) is DeadLetter:
            entry = self._entry(event.recipient)
            if entry is not None:
                counts = entry.stats.dead_letters
                counts[event.reason.value] = counts.get(event.reason.value, 0) + 1
        elif type(event) is LifecycleEvent:
            if event.state is ActorState.CREATED:
                self.spawns += 1
            elif event.state is ActorState.FAILED and isinstance(event.error, TrapError):
                entry = self._entry(event.actor)
                if entry is not None:
                    traps = entry.stats.traps
                    kind = event.error.kind.value
                    traps[kind] = traps.get(kind, 0) + 1


class _Families:
    """Accumulates samples per family, in declaration order (the exposition order)."""

    def __init__(self) -> None:
        self._specs: dict[str, tuple[str, str, str]] = {}
        self._samples: dict[str, list[Sample | HistogramSample]] = {}

    def declare(self, name: str, kind: str, unit: str, help: str) -> None:
        self._specs[name] = (kind, unit, help)
        self._samples[name] = []

    def add(self, name: str, labels: Labels, value: float) -> None:
        self._samples[name].append(Sample(labels, float(value)))

    def add_histogram(self, name: str, sample: HistogramSample) -> None:
        self._samples[name].append(sample)

    def families(self) -> list[MetricFamily]:
        return [MetricFamily(name, kind, help, unit, tuple(self._samples[name]))
                for name, (kind, unit, help) in self._specs.items()]


#: (name, kind, unit, help) of the per-component families (labels host, component, and their
#: own), in exposition order; ``collect`` reports these, then HOST_FAMILIES.
COMPONENT_FAMILIES = (
    ("airssys_messages_in_total", "counter", "1",
     "Envelopes accepted into the component's mailbox (messages, requests, callbacks)."),
    ("airssys_messages_out_total", "counter", "1",
     "Envelopes the component handled (an error answer counts as handled, a trap does not)."),
    ("airssys_guest_errors_total", "counter", "1",
     "Messages and callbacks the guest answered with an error value (dead-lettered)."),
    ("airssys_traps_total", "counter", "1",
     "Traps that ended an incarnation of the component, by trap kind."),
    ("airssys_health_probe_traps_total", "counter", "1",
     "Health probes that trapped (the instance was replaced in place)."),
    ("airssys_restarts_total", "counter", "1", "Restarts of the component by its supervisor."),
    ("airssys_failures_total", "counter", "1",
     "Incarnations that ended in a failure (trap, init error, failed health checks)."),
    ("airssys_dead_letters_total", "counter", "1",
     "Messages for the component that were never handled, by reason."),
    ("airssys_callbacks_dropped_total", "counter", "1",
     "Replies to the component's own requests dropped: it exports no handle-callback."),
    ("airssys_mailbox_depth", "gauge", "1", "Envelopes queued in the component's mailbox."),
    ("airssys_mailbox_capacity", "gauge", "1", "Capacity of the component's mailbox."),
    ("airssys_component_state", "gauge", "1",
     "1 for the component's current lifecycle state (label state)."),
    ("airssys_handle_seconds", "histogram", "s",
     "Time to handle an envelope; timed per drained batch, each envelope of a batch counted "
     "at the batch's mean (exact sum and count)."),
    ("airssys_memory_bytes", "gauge", "By",
     "Linear memory of the running instance, where the host can see it (core-ABI components; "
     "a component's memory is internal to it)."),
    ("airssys_memory_limit_bytes", "gauge", "By",
     "Linear memory the component may grow to ([limits] memory)."),
    ("airssys_fuel_limit", "gauge", "1",
     "Fuel per call ([limits] fuel), for components with a fuel limit."),
)
#: (name, kind, unit, help) of the per-host families (label host only, plus their own).
HOST_FAMILIES = (
    ("airssys_spawns_total", "counter", "1", "Components the host started (spawn calls that "
                                             "created an actor, including ones whose init failed)."),
    ("airssys_components", "gauge", "1", "Components registered in the host."),
    ("airssys_host_dead_letters_total", "counter", "1",
     "Every dead letter of the host, including those for components that stopped for good."),
    ("airssys_audit_decisions_total", "counter", "1",
     "Permission decisions of the security provider, by component, kind and decision."),
    ("airssys_audit_sink_failures_total", "counter", "1",
     "Audit lines a sink failed to write (each made the decision a denial when fail-closed)."),
    ("airssys_requests_total", "counter", "1",
     "Requests opened (Host.request and the guests' own requests)."),
    ("airssys_requests_completed_total", "counter", "1", "Requests that ended, by outcome."),
    ("airssys_requests_late_replies_total", "counter", "1",
     "Replies that arrived after their request had ended (dropped)."),
    ("airssys_requests_pending", "gauge", "1", "Requests waiting for their reply."),
)


def collect(host: Host) -> list[MetricFamily]:
    """Read every counter of ``host`` now and return the metric families.

    Call it on the host's loop thread (the endpoint does; exporters in other threads go
    through ``LoopSnapshot``): nothing changes while it reads, so the snapshot is consistent
    without locks. Its cost is per component and per scrape, never per message.
    """
    out = _Families()
    for name, kind, unit, help in COMPONENT_FAMILIES + HOST_FAMILIES:
        out.declare(name, kind, unit, help)
    host_label = ("host", host.config.name)
    for name in host.names(given_up=True):
        _component(out, host, name, host_label)
    _host(out, host, host_label)
    return out.families()


def _component(out: _Families, host: Host, name: str, host_label: tuple[str, str]) -> None:
    try:
        ref = host.ref(name)
        stats = host.stats(name)
    except ComponentNotFound:
        return  # stopping right now: its series end with this scrape
    labels: Labels = (host_label, ("component", name))
    actor = ref.actor
    counters = actor.stats
    out.add("airssys_messages_in_total", labels, counters.messages_in)
    out.add("airssys_messages_out_total", labels, counters.messages_out)
    out.add("airssys_guest_errors_total", labels, stats.guest_errors)
    for kind, count in sorted(stats.traps.items()):
        out.add("airssys_traps_total", labels + (("kind", kind),), count)
    out.add("airssys_health_probe_traps_total", labels, stats.health_traps)
    out.add("airssys_restarts_total", labels, counters.restarts)
    out.add("airssys_failures_total", labels, counters.failures)
    for reason, count in sorted(stats.dead_letters.items()):
        out.add("airssys_dead_letters_total", labels + (("reason", reason),), count)
    out.add("airssys_callbacks_dropped_total", labels, stats.callbacks_dropped)
    out.add("airssys_mailbox_depth", labels, counters.queued)
    out.add("airssys_mailbox_capacity", labels, actor.mailbox.capacity)
    out.add("airssys_component_state", labels + (("state", actor.state.value),), 1)
    latency = actor.latency
    out.add_histogram("airssys_handle_seconds", HistogramSample(
        labels, latency.bounds, tuple(latency.buckets()), latency.sum, latency.count))
    if name in host.registry:
        entry = host.registry.get(name)
        memory = entry.instance.memory_bytes() if entry.instance is not None else None
        if memory is not None:
            out.add("airssys_memory_bytes", labels, memory)
        limits = entry.limits
        out.add("airssys_memory_limit_bytes", labels, limits.memory_bytes)
        if limits.fuel is not None:
            out.add("airssys_fuel_limit", labels, limits.fuel)


def _host(out: _Families, host: Host, host_label: tuple[str, str]) -> None:
    labels: Labels = (host_label,)
    out.add("airssys_spawns_total", labels, host.event_counters.spawns)
    out.add("airssys_components", labels, len(host.registry))
    system = host.system
    if system is not None:
        out.add("airssys_host_dead_letters_total", labels, system.dead_letter_count)
    decisions, failures = audit_counts(host.security)
    for (component, kind, allowed), count in sorted(decisions.items()):
        out.add("airssys_audit_decisions_total",
                labels + (("component", component), ("kind", kind),
                          ("decision", "allow" if allowed else "deny")), count)
    out.add("airssys_audit_sink_failures_total", labels, failures)
    if host.requests is not None:
        requests = host.requests.stats()
        out.add("airssys_requests_total", labels, requests.issued)
        for outcome in ("replied", "failed", "timed_out", "cancelled", "expired_unstarted"):
            out.add("airssys_requests_completed_total", labels + (("outcome", outcome),),
                    getattr(requests, outcome))
        out.add("airssys_requests_late_replies_total", labels, requests.late_replies)
        out.add("airssys_requests_pending", labels, requests.pending)


class LoopSnapshot:
    """``collect(host)`` callable from any thread, taken on the host's loop.

    Exporters that run in threads of their own (OpenTelemetry's periodic reader,
    prometheus_client's HTTP server) must not walk the host's tables while the loop changes
    them; from another thread the snapshot is taken by a callback on the loop and waited for
    (at most ``timeout`` seconds: a loop blocked that long gets an empty snapshot rather than a
    hung exporter). On the loop's own thread it is a plain call. Snapshots younger than
    ``max_age`` seconds are reused, so the many instruments of one collection share one.
    Create it on the host's loop (it remembers that loop).
    """

    def __init__(self, host: Host, *, timeout: float = 5.0, max_age: float = 0.0) -> None:
        self._host = host
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._timeout = timeout
        self._max_age = max_age
        self._taken = -1.0
        self._last: list[MetricFamily] = []

    def __call__(self) -> list[MetricFamily]:
        now = time.monotonic()
        if self._taken >= 0 and now - self._taken <= self._max_age:
            return self._last
        if threading.get_ident() == self._thread:
            families = collect(self._host)
        else:
            future: concurrent.futures.Future[list[MetricFamily]] = concurrent.futures.Future()

            def take() -> None:
                try:
                    future.set_result(collect(self._host))
                except Exception as exc:
                    future.set_exception(exc)

            try:
                self._loop.call_soon_threadsafe(take)
                families = future.result(self._timeout)
            except (RuntimeError, concurrent.futures.TimeoutError):
                return []  # the loop is closed or blocked: report nothing rather than hang
        self._taken, self._last = time.monotonic(), families
        return families

