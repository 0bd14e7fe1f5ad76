"""Metrics: a real host with the packaged components, scraped over loopback and parsed with
prometheus_client's parser; the same snapshot through OpenTelemetry's in-memory reader."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

from airssys_wasm import ConfigError, Host, HostConfig
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import ActorState, Backoff
from airssys_wasm.demo import path
from airssys_wasm.metrics import collect, instrument_otel, render
from airssys_wasm.runtime import Engine
from airssys_wasm.types import ComponentConfig
from host_helpers import EXAMPLES, eventually
from airssys_wasm.benchmarks import guests

STAGE_TOML = EXAMPLES / "stage.toml"


def raw(text: str) -> bytes:
    return mc.encode(mc.Codec.RAW, text.encode())


async def spawn_all(host: Host) -> None:
    await host.spawn("sink", path("counter"), EXAMPLES / "counter.toml")
    await host.spawn("fwd", path("stage"), STAGE_TOML, config=ComponentConfig(config_data=b"f-sink"))
    # Its manifest grants messaging.send to transform and sink only: every forward is denied.
    await host.spawn("rogue", path("stage"), STAGE_TOML,
                     config=ComponentConfig(config_data=b"f-elsewhere"))
    await host.spawn("crasher", path("crasher"), EXAMPLES / "crasher.toml", restart="permanent",
                     backoff=Backoff(initial=0))


async def scenario(host: Host) -> None:
    """5 messages forwarded fwd -> sink, 2 refused forwards, a guest error, a trap + restart,
    a message after the restart and one request."""
    await spawn_all(host)
    sink, fwd, rogue, crasher = (host.ref(n) for n in ("sink", "fwd", "rogue", "crasher"))
    for i in range(5):
        await host.send("fwd", mc.encode(mc.Codec.JSON, b'{"i": %d}' % i))
    for _ in range(2):
        await host.send("rogue", raw("hello"))
    await eventually(lambda: sink.stats.messages_out == 5 and rogue.stats.messages_out == 2
                     and fwd.stats.messages_out == 5, "the forwards")
    await host.send("crasher", raw("refuse"))
    await eventually(lambda: crasher.stats.dead_letters + host.stats("crasher").guest_errors >= 1,
                     "the refusal")
    await host.send("crasher", raw("oob"))
    await eventually(lambda: crasher.stats.restarts == 1 and crasher.state is ActorState.RUNNING,
                     "the restart")
    await host.send("crasher", raw("fine"))
    await eventually(lambda: crasher.stats.messages_out == 2, "the message after the restart")
    reply = await host.request("sink", b"cnt?")
    assert reply[:4] == (5).to_bytes(4, "little")  # the sink counted the 5 forwarded messages


class Scrape:
    """A parsed Prometheus page: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(self, name: str, **labels: str) -> list[Any]:
        return [s for f in self.families.values() for s in f.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        found = self.samples(name, **labels)
        assert len(found) == 1, (name, labels, found)
        return float(found[0].value)


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def scrape(url: str) -> Scrape:
    status, headers, body = await asyncio.to_thread(get, url)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scrape(body.decode())


@pytest.fixture
async def busy(engine: Engine) -> AsyncIterator[Host]:
    async with Host(HostConfig(name="edge", health=None), engine=engine) as host:
        await scenario(host)
        yield host


async def test_a_scrape_over_loopback_reports_exact_counts(busy: Host) -> None:
    server = await busy.serve_metrics("127.0.0.1", 0)
    assert server.address[0] == "127.0.0.1" and server.address[1] > 0
    assert server.url == f"http://127.0.0.1:{server.address[1]}/metrics"
    page = await scrape(server.url)
    assert server.scrapes == 1

    def per(name: str, **labels: str) -> dict[str, float]:
        return {c: page.value(name, host="edge", component=c, **labels)
                for c in ("sink", "fwd", "rogue", "crasher")}

    # the request is an envelope in the sink's mailbox too
    assert per("airssys_messages_in_total") == {"sink": 6, "fwd": 5, "rogue": 2, "crasher": 3}
    # the trapping message was not handled; the refused one was (an error answer)
    assert per("airssys_messages_out_total") == {"sink": 6, "fwd": 5, "rogue": 2, "crasher": 2}
    assert per("airssys_guest_errors_total") == {"sink": 0, "fwd": 0, "rogue": 0, "crasher": 1}
    assert per("airssys_restarts_total") == {"sink": 0, "fwd": 0, "rogue": 0, "crasher": 1}
    assert per("airssys_failures_total") == {"sink": 0, "fwd": 0, "rogue": 0, "crasher": 1}
    assert per("airssys_mailbox_depth") == {"sink": 0, "fwd": 0, "rogue": 0, "crasher": 0}
    assert per("airssys_mailbox_capacity") == {c: busy.config.capacity
                                               for c in ("sink", "fwd", "rogue", "crasher")}
    assert per("airssys_component_state", state="running") == {c: 1 for c in
                                                               ("sink", "fwd", "rogue", "crasher")}
    assert per("airssys_memory_limit_bytes") == {"sink": 1 << 20, "fwd": 4 << 20,
                                                 "rogue": 4 << 20, "crasher": 1 << 20}
    traps = page.samples("airssys_traps_total")
    assert [(s.labels["component"], s.labels["kind"], s.value) for s in traps] == [
        ("crasher", "out_of_bounds", 1)]
    letters = page.samples("airssys_dead_letters_total")
    assert [(s.labels["component"], s.labels["reason"], s.value) for s in letters] == [
        ("crasher", "failed", 2)]  # the refused message and the one that trapped

    # Every successful batch is timed: count == handled for components that never failed.
    for component, handled in (("sink", 6), ("fwd", 5), ("rogue", 2), ("crasher", 2)):
        assert page.value("airssys_handle_seconds_count", component=component) == handled
        buckets = page.samples("airssys_handle_seconds_bucket", component=component)
        counts = [s.value for s in buckets]
        assert counts == sorted(counts) and buckets[-1].labels["le"] == "+Inf"
        assert counts[-1] == handled
        assert 0 < page.value("airssys_handle_seconds_sum", component=component) < 10
    assert page.families["airssys_handle_seconds"].type == "histogram"
    assert page.families["airssys_messages_in"].type == "counter"
    assert page.families["airssys_mailbox_depth"].type == "gauge"

    assert page.value("airssys_spawns_total", host="edge") == 4
    assert page.value("airssys_components", host="edge") == 4
    assert page.value("airssys_host_dead_letters_total", host="edge") == 2
    decisions = {(s.labels["component"], s.labels["kind"], s.labels["decision"]): s.value
                 for s in page.samples("airssys_audit_decisions_total")}
    assert decisions == {("fwd", "messaging.send", "allow"): 5,
                         ("rogue", "messaging.send", "deny"): 2}
    assert page.value("airssys_audit_sink_failures_total") == 0
    assert page.value("airssys_requests_total") == 1
    assert page.value("airssys_requests_completed_total", outcome="replied") == 1
    assert page.value("airssys_requests_completed_total", outcome="timed_out") == 0
    assert page.value("airssys_requests_pending") == 0


async def test_the_counters_move_between_scrapes(busy: Host) -> None:
    server = await busy.serve_metrics("127.0.0.1", 0)
    before = await scrape(server.url)
    await busy.send("crasher", raw("poison"))
    crasher = busy.ref("crasher")
    await eventually(lambda: crasher.stats.restarts == 2 and crasher.state is ActorState.RUNNING,
                     "the second restart")
    after = await scrape(server.url)
    assert after.value("airssys_traps_total", component="crasher", kind="unreachable") == 1
    assert after.value("airssys_traps_total", component="crasher", kind="out_of_bounds") == 1
    assert after.value("airssys_restarts_total", component="crasher") == \
        before.value("airssys_restarts_total", component="crasher") + 1
    assert after.value("airssys_messages_in_total", component="crasher") == 4
    assert server.scrapes == 2


async def test_queue_depth_is_what_is_queued_at_the_scrape(engine: Engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("sink", path("counter"), EXAMPLES / "counter.toml")
        for _ in range(7):  # no await in between: the sink cannot drain meanwhile
            host.try_send("sink", raw("x"))
        page = Scrape(render(host).decode())
        assert page.value("airssys_mailbox_depth", component="sink") == 7
        assert page.value("airssys_messages_in_total", component="sink") == 7
        assert page.value("airssys_messages_out_total", component="sink") == 0
        await eventually(lambda: host.ref("sink").stats.messages_out == 7, "the drain")
        page = Scrape(render(host).decode())
        assert page.value("airssys_mailbox_depth", component="sink") == 0
        assert page.value("airssys_handle_seconds_count", component="sink") == 7


async def test_a_component_given_up_on_keeps_reporting_as_failed(engine: Engine) -> None:
    config = HostConfig(health=None, max_restarts=1, within=60.0)
    async with Host(config, engine=engine) as host:
        ref = await host.spawn("crasher", path("crasher"), EXAMPLES / "crasher.toml",
                               restart="permanent", backoff=Backoff(initial=0))
        await host.send("crasher", raw("oob"))
        await eventually(lambda: ref.stats.restarts == 1 and ref.state is ActorState.RUNNING,
                         "the restart")
        await host.send("crasher", raw("poison"))
        await eventually(lambda: ref.state is ActorState.FAILED and ref.actor.mailbox.closed,
                         "giving up")
        assert host.names() == []
        page = Scrape(render(host).decode())
        assert page.value("airssys_component_state", component="crasher", state="failed") == 1
        assert page.value("airssys_traps_total", component="crasher", kind="unreachable") == 1
        assert page.value("airssys_traps_total", component="crasher", kind="out_of_bounds") == 1
        assert page.value("airssys_restarts_total", component="crasher") == 1
        assert page.value("airssys_components") == 0
        assert page.samples("airssys_memory_limit_bytes", component="crasher") == []


def _raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_the_endpoint_refuses_what_it_does_not_serve_and_keeps_serving(
        engine: Engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        server = await host.serve_metrics("127.0.0.1", 0)
        base = server.url.removesuffix("/metrics")
        port = server.address[1]
        status, _, body = await asyncio.to_thread(get, base + "/other")
        assert status == 404 and b"/metrics" in body
        reply = await asyncio.to_thread(_raw_http, port, b"POST /metrics HTTP/1.1\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 405 ") and b"Allow: GET, HEAD" in reply
        reply = await asyncio.to_thread(_raw_http, port, b"\x00garbage\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400 ")
        reply = await asyncio.to_thread(_raw_http, port, b"GET /metrics HTTP/1.1\r\nX: "
                                        + b"a" * 20000 + b"\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 431 ")
        reply = await asyncio.to_thread(_raw_http, port, b"HEAD /metrics HTTP/1.1\r\n\r\n")
        head, _, rest = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and rest == b""
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        assert length > 0
        page = await scrape(server.url + "?x=1")
        assert page.value("airssys_components") == 0
        assert server.scrapes == 2  # HEAD and the GET; the refused requests rendered nothing


async def test_bad_addresses_and_ports_are_config_errors(engine: Engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        server = await host.serve_metrics("127.0.0.1", 0)
        with pytest.raises(ConfigError, match="cannot serve metrics on 127.0.0.1"):
            await host.serve_metrics("127.0.0.1", server.address[1])
        with pytest.raises(ConfigError, match="from 0 to 65535"):
            await host.serve_metrics("127.0.0.1", 70000)
        with pytest.raises(ConfigError, match="host name or IP address"):
            await host.serve_metrics("", 0)
        # the host and its first endpoint are unaffected
        assert (await scrape(server.url)).value("airssys_spawns_total") == 0


async def test_closing_the_host_closes_its_endpoint(engine: Engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        server = await host.serve_metrics("127.0.0.1", 0)
        own = await host.serve_metrics("127.0.0.1", 0)
        own.close()
        await own.wait_closed()
        assert own.closed and not server.closed
    assert server.closed
    for closed in (server, own):
        with pytest.raises(OSError):
            await asyncio.to_thread(socket.create_connection, ("127.0.0.1", closed.address[1]), 5)


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    if data is None:  # no instrument reported anything
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out[metric.name] = list(metric.data.data_points)
    return out


def _by(points: list[Any], **attributes: str) -> list[float]:
    return [p.value for p in points if all(p.attributes.get(k) == v for k, v in attributes.items())]


async def test_opentelemetry_instruments_report_the_same_snapshot(busy: Host) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        instruments = instrument_otel(busy, provider)
        assert "airssys_messages_in" in instruments.names
        assert "airssys_handle_seconds_bucket" in instruments.names
        points = _points(reader)  # on the loop's thread: a direct snapshot
        for component, count in (("sink", 6), ("fwd", 5), ("rogue", 2), ("crasher", 3)):
            assert _by(points["airssys_messages_in"], component=component, host=busy.config.name) \
                == [count]
        assert _by(points["airssys_traps"], component="crasher", kind="out_of_bounds") == [1]
        assert _by(points["airssys_audit_decisions"], component="rogue", decision="deny") == [2]
        assert _by(points["airssys_mailbox_depth"], component="sink") == [0]
        assert _by(points["airssys_handle_seconds_count"], component="sink") == [6]
        assert _by(points["airssys_handle_seconds_bucket"], component="sink", le="+Inf") == [6]
        assert len(_by(points["airssys_handle_seconds_bucket"], component="sink")) == \
            len(busy.ref("sink").actor.latency.bounds) + 1

        await busy.send("sink", raw("one more"))
        await eventually(lambda: busy.ref("sink").stats.messages_out == 7, "the new message")
        await asyncio.sleep(0.3)  # older than the snapshot reuse window
        # A reader in another thread: the snapshot is taken on the host's loop meanwhile.
        points = await asyncio.to_thread(_points, reader)
        assert _by(points["airssys_messages_in"], component="sink") == [7]
        assert _by(points["airssys_spawns"]) == [4]

        instruments.close()
        await asyncio.sleep(0.3)
        assert all(points == [] for points in _points(reader).values())
    finally:
        provider.shutdown()


def test_collect_names_follow_the_prometheus_conventions() -> None:
    from airssys_wasm.metrics import COMPONENT_FAMILIES, HOST_FAMILIES

    for name, kind, unit, help in COMPONENT_FAMILIES + HOST_FAMILIES:
        assert name.startswith("airssys_") and help
        assert name.endswith("_total") == (kind == "counter"), name
        if unit == "s":
            assert name.endswith("_seconds")
        if unit == "By":
            assert name.endswith("_bytes")


async def test_collect_without_a_server_needs_nothing_else(busy: Host) -> None:
    families = {f.name: f for f in collect(busy)}
    sink = [s for s in families["airssys_messages_out_total"].samples
            if ("component", "sink") in s.labels]
    assert len(sink) == 1 and sink[0].value == 6


async def test_a_host_collector_in_an_application_registry_works_from_threads(busy: Host) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from airssys_wasm.metrics import HostCollector

    registry = CollectorRegistry()
    registry.register(HostCollector(busy))  # describes nothing: no snapshot at registration
    # prometheus_client's own HTTP server renders in its thread; so does this.
    page = Scrape((await asyncio.to_thread(generate_latest, registry)).decode())
    assert page.value("airssys_messages_out_total", component="fwd") == 5
    assert page.value("airssys_spawns_total") == 4


def _parsed(text: str) -> list[tuple[str, str, list[tuple[str, dict[str, str], float]]]]:
    return [(f.name, f.type, [(s.name, s.labels, s.value) for s in f.samples])
            for f in text_string_to_metric_families(text)]


async def test_the_page_is_what_prometheus_client_writes_for_the_same_snapshot(busy: Host) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from airssys_wasm.metrics import HostCollector

    registry = CollectorRegistry()
    registry.register(HostCollector(busy))
    ours, reference = render(busy).decode(), generate_latest(registry).decode()  # no await between
    assert _parsed(ours) == _parsed(reference)
    from airssys_wasm.metrics import COMPONENT_FAMILIES, HOST_FAMILIES

    assert len(_parsed(ours)) == len(COMPONENT_FAMILIES + HOST_FAMILIES) == 25


label_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(st.lists(st.tuples(label_text, st.floats(allow_nan=False), st.booleans()), max_size=6),
       st.text(max_size=30))
def test_exposition_escapes_like_prometheus_client(rows: list[tuple[str, float, bool]],
                                                   help_text: str) -> None:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.exposition import generate_latest

    from airssys_wasm.metrics import MetricFamily, Sample, exposition

    counters = [Sample((("host", "h"), ("component", name)), abs(value))
                for name, value, counter in rows if counter]
    gauges = [Sample((("component", name),), value) for name, value, counter in rows if not counter]
    families = [MetricFamily("airssys_x_total", "counter", help_text, "1", tuple(counters)),
                MetricFamily("airssys_y", "gauge", help_text, "1", tuple(gauges))]

    class Reference:
        def collect(self) -> Any:
            c = CounterMetricFamily("airssys_x_total", help_text, labels=["host", "component"])
            for s in counters:
                c.add_metric([v for _, v in s.labels], s.value)
            g = GaugeMetricFamily("airssys_y", help_text, labels=["component"])
            for s in gauges:
                g.add_metric([v for _, v in s.labels], s.value)
            return [c, g]

    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Reference())  # type: ignore[arg-type]
    assert _parsed(exposition(families).decode()) == _parsed(generate_latest(registry).decode())


async def test_memory_is_reported_where_the_host_can_see_it(engine: Engine) -> None:
    from airssys_wasm.runtime import Limits

    async with Host(HostConfig(health=None), engine=engine) as host:
        core = await host.spawn("core", guests.path("core_actor"),
                                limits=Limits(memory_bytes=1 << 20))
        await host.spawn("sink", path("counter"), EXAMPLES / "counter.toml")
        page = Scrape(render(host).decode())
        assert page.value("airssys_memory_bytes", component="core") == 65536  # its one page
        assert page.samples("airssys_memory_bytes", component="sink") == []  # a component
        # The core lane copies a payload into memory its alloc grows for it.
        await host.send("core", mc.encode(mc.Codec.RAW, b"x" * 300_000))
        await eventually(lambda: core.stats.messages_out == 1, "the big message")
        grown = Scrape(render(host).decode()).value("airssys_memory_bytes", component="core")
        assert 300_000 < grown <= 1 << 20 and grown % 65536 == 0
        assert page.value("airssys_memory_limit_bytes", component="core") == 1 << 20
        await host.stop("core")
        assert Scrape(render(host).decode()).samples("airssys_memory_bytes") == []
