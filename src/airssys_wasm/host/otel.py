"""A Host's metrics as OpenTelemetry instruments (the ``airssys-wasm[otel]`` extra).

Every family of ``airssys_wasm.host.metrics.collect`` becomes an *observable* instrument whose
callback reads the same snapshot a Prometheus scrape reads: OpenTelemetry pulls when its
reader collects, nothing is recorded per message, and a host nobody instruments pays nothing
(``opentelemetry`` is not even imported). Counters become ``ObservableCounter`` and gauges
``ObservableGauge``, named like the Prometheus family without ``_total``
(``airssys_messages_in``), with the same labels as attributes.

OpenTelemetry has no asynchronous histogram, and re-recording every handled message into a
synchronous one would put work on the message path. The handle-latency histogram is therefore
reported in the shape Prometheus gives it: ``airssys_handle_seconds_bucket`` (cumulative count
per upper bound, attribute ``le``), ``airssys_handle_seconds_sum`` (seconds) and
``airssys_handle_seconds_count``, all observable counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from airssys_wasm.errors import ConfigError
from airssys_wasm.host.metrics import (
    COMPONENT_FAMILIES,
    HOST_FAMILIES,
    HistogramSample,
    LoopSnapshot,
    MetricFamily,
)

if TYPE_CHECKING:
    from airssys_wasm.host.host import Host

__all__ = ["OtelInstruments", "instrument_otel"]

_METER = "airssys_wasm"
#: One snapshot serves every instrument of one collection (callbacks run back to back).
_SNAPSHOT_MAX_AGE = 0.25


def _otel() -> Any:
    try:
        from opentelemetry import metrics
    except ImportError as exc:
        raise ConfigError("OpenTelemetry metrics need the opentelemetry-api package; install "
                          "the extra: pip install 'airssys-wasm[otel]'") from exc
    return metrics


class OtelInstruments:
    """The instruments ``instrument_otel`` registered. ``close()`` makes their callbacks
    report nothing (OpenTelemetry cannot unregister an instrument), e.g. when the host is
    closed but the meter provider lives on."""

    def __init__(self, host: Host) -> None:
        self._snapshot = LoopSnapshot(host, max_age=_SNAPSHOT_MAX_AGE)
        self._closed = False
        #: Instrument names, in registration order.
        self.names: list[str] = []

    def close(self) -> None:
        """Report nothing from now on (the instruments themselves stay registered)."""
        self._closed = True

    def _family(self, name: str) -> MetricFamily | None:
        if self._closed:
            return None
        for family in self._snapshot():
            if family.name == name:
                return family
        return None

    def _observations(self, name: str) -> Iterable[Any]:
        from opentelemetry.metrics import Observation

        family = self._family(name)
        if family is None:
            return []
        return [Observation(sample.value, dict(sample.labels)) for sample in family.samples
                if not isinstance(sample, HistogramSample)]

    def _histogram(self, name: str, part: str) -> Iterable[Any]:
        from opentelemetry.metrics import Observation

        family = self._family(name)
        if family is None:
            return []
        out = []
        for sample in family.samples:
            if not isinstance(sample, HistogramSample):
                continue
            labels = dict(sample.labels)
            if part == "sum":
                out.append(Observation(sample.sum, labels))
            elif part == "count":
                out.append(Observation(sample.count, labels))
            else:
                bounds = [repr(b) for b in sample.bounds] + ["+Inf"]
                out += [Observation(count, {**labels, "le": le})
                        for le, count in zip(bounds, sample.buckets)]
        return out

    def callback(self, name: str, part: str = "") -> Callable[[Any], Iterable[Any]]:
        """The OpenTelemetry callback of family ``name`` (``part``: a histogram's ``bucket``,
        ``sum`` or ``count``)."""
        if part:
            return lambda options: self._histogram(name, part)
        return lambda options: self._observations(name)


def instrument_otel(host: Host, meter_provider: Any | None = None) -> OtelInstruments:
    """Register observable instruments for ``host`` with ``meter_provider`` (default: the
    global one, ``opentelemetry.metrics.get_meter_provider()``) and return them.

    Call it on the host's loop (inside ``async with Host() as host:``): the callbacks, which
    a reader may run in its own thread, take their snapshot on that loop. ConfigError when
    ``opentelemetry-api`` is not installed (``pip install 'airssys-wasm[otel]'``).
    """
    metrics = _otel()
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    meter = provider.get_meter(_METER)
    out = OtelInstruments(host)
    for name, kind, unit, help in COMPONENT_FAMILIES + HOST_FAMILIES:
        base = name.removesuffix("_total")
        if kind == "histogram":
            for part, part_unit in (("bucket", "1"), ("sum", unit), ("count", "1")):
                meter.create_observable_counter(f"{base}_{part}", [out.callback(name, part)],
                                                unit=part_unit, description=help)
                out.names.append(f"{base}_{part}")
            continue
        create = meter.create_observable_counter if kind == "counter" \
            else meter.create_observable_gauge
        create(base, [out.callback(name)], unit=unit, description=help)
        out.names.append(base)
    return out
