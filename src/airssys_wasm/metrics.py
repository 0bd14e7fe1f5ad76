"""Metrics of a Host for Prometheus and OpenTelemetry: the public entry points.

::

    from airssys_wasm.metrics import instrument_otel

    async with aw.Host() as host:
        server = await host.serve_metrics("127.0.0.1", 9464)   # GET /metrics, Prometheus text
        print(server.url)
        instruments = instrument_otel(host)                     # needs airssys-wasm[otel]

Both read one snapshot of counters the host keeps anyway (``collect``): a scrape costs work per
component, never per message. Names, labels and the costs measured are in
docs/guides/metrics.md; the snapshot itself is built in ``airssys_wasm.host.metrics``.
"""

from __future__ import annotations

from airssys_wasm.host.metrics import (
    COMPONENT_FAMILIES,
    HOST_FAMILIES,
    HistogramSample,
    LoopSnapshot,
    MetricFamily,
    Sample,
    collect,
)
from airssys_wasm.host.otel import OtelInstruments, instrument_otel
from airssys_wasm.host.prometheus import (
    CONTENT_TYPE,
    HostCollector,
    MetricsServer,
    exposition,
    render,
    start_server,
)

__all__ = [
    "COMPONENT_FAMILIES",
    "CONTENT_TYPE",
    "HOST_FAMILIES",
    "HistogramSample",
    "HostCollector",
    "LoopSnapshot",
    "MetricFamily",
    "MetricsServer",
    "OtelInstruments",
    "Sample",
    "collect",
    "exposition",
    "instrument_otel",
    "render",
    "start_server",
]
