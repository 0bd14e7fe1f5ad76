"""Metrics of a running host: a Prometheus endpoint, scraped once, and OpenTelemetry.

Run: python examples/metrics.py          (needs only `pip install .`; the OpenTelemetry part
                                         needs 'airssys-wasm[otel]' and opentelemetry-sdk and
                                         is skipped without them)

It starts a small pipeline (stage -> counter) and a crasher, makes some traffic, a guest
error and a trap, then serves the host's metrics on a free loopback port, scrapes the page like
Prometheus would and prints a few series. With the OpenTelemetry SDK installed it also reads
the same counters through an in-memory metric reader.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import urllib.request
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import Backoff
from airssys_wasm.types import ComponentConfig
from airssys_wasm import demo

HERE = Path(__file__).resolve().parent / "wat"
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
SHOWN = ("airssys_messages_out_total", "airssys_traps_total", "airssys_guest_errors_total",
         "airssys_audit_decisions_total", "airssys_handle_seconds_count")


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


async def main() -> dict[str, float]:
    async with aw.Host(aw.HostConfig(name="example")) as host:
        # Listen first (port 0: any free port); `server.url` is where it really listens.
        server = await host.serve_metrics("127.0.0.1", 0)
        print(f"serving {server.url}")

        await host.spawn("sink", demo.path("counter"), manifest=HERE / "counter.toml")
        await host.spawn("stage", demo.path("stage"), manifest=HERE / "stage.toml",
                         config=ComponentConfig(config_data=b"f-sink"))
        crasher = await host.spawn("crasher", demo.path("crasher"),
                                   manifest=HERE / "crasher.toml", backoff=Backoff(initial=0))
        for i in range(20):
            await host.send("stage", mc.encode_value(mc.Codec.JSON, {"reading": i}))
        await host.send("crasher", mc.encode(mc.Codec.RAW, b"refuse"))  # a guest error
        await host.send("crasher", mc.encode(mc.Codec.RAW, b"poison"))  # a trap, a restart
        while host.ref("sink").stats.messages_out < 20 or crasher.stats.restarts < 1:
            await asyncio.sleep(0.01)

        # What Prometheus does every scrape interval (here from a thread: the endpoint is
        # served by the host's own loop, which must keep running meanwhile). Each line of the
        # text format is `name{label="value",...} number`; `#` lines describe the families.
        page = await asyncio.to_thread(fetch, server.url)
        found: dict[str, float] = {}
        for line in page.splitlines():
            series, _, value = line.rpartition(" ")
            name = series.split("{", 1)[0]
            if line.startswith("#") or name not in SHOWN:
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(LABEL.findall(series)) if k != "host")
            print(f"  {name}{{{labels}}} {float(value):g}")
            found[f"{name}{{{labels}}}"] = float(value)

        if importlib.util.find_spec("opentelemetry.sdk") is not None:
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader

            from airssys_wasm.metrics import instrument_otel

            reader = InMemoryMetricReader()
            provider = MeterProvider(metric_readers=[reader])
            instrument_otel(host, provider)
            data = reader.get_metrics_data()
            assert data is not None
            names = sorted(m.name for r in data.resource_metrics for s in r.scope_metrics
                           for m in s.metrics)
            print(f"OpenTelemetry: {len(names)} instruments, e.g. {', '.join(names[:3])}")
            provider.shutdown()
        # The example checks its own outcome (the test suite runs it).
        assert found["airssys_messages_out_total{component=sink}"] == 20
        assert found["airssys_traps_total{component=crasher,kind=unreachable}"] == 1
        assert found["airssys_guest_errors_total{component=crasher}"] == 1
        return found


if __name__ == "__main__":
    logging.basicConfig(format="  (log) %(name)s: %(message).100s")
    asyncio.run(main())
