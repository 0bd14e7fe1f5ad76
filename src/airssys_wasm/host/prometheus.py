"""The Prometheus endpoint of a Host: ``GET /metrics`` on the host's own asyncio loop.

Why on the loop and not in prometheus_client's threaded HTTP server: a scrape then reads the
counters on the thread that changes them, between two of the loop's callbacks, so the snapshot
is consistent without locks and no actor is slowed by a second thread holding the GIL while it
walks the components. A scrape costs one ``collect`` + render per request (per component,
never per message); Prometheus scrapes every few seconds.

The HTTP side is deliberately small: one request per connection (``Connection: close``), GET
and HEAD of ``/metrics`` (``/`` too), a bounded request head read under a timeout, so a stuck
or hostile client can tie up neither memory nor the loop. The text format is written here
(``exposition``), not by prometheus_client: its ``generate_latest`` took 7x longer on the loop
for the same page, and the endpoint then needs no dependency at all. ``HostCollector`` is the
bridge for applications that already keep a prometheus_client registry.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airssys_wasm.errors import ConfigError
from airssys_wasm.host.metrics import HistogramSample, Labels, LoopSnapshot, MetricFamily, collect

if TYPE_CHECKING:
    from airssys_wasm.host.host import Host

__all__ = ["CONTENT_TYPE", "HostCollector", "MetricsServer", "exposition", "render", "start_server"]

#: The Prometheus text exposition format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_HEAD_LIMIT = 16 * 1024  # a scrape's request head is a few hundred bytes
_HEAD_TIMEOUT = 10.0  # seconds a client may take to send its request head
_PATHS = (b"/metrics", b"/")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large", 500: "Internal Server Error"}


class HostCollector:
    """A ``prometheus_client`` collector that yields ``collect(host)`` on every scrape.

    Register it in your own ``CollectorRegistry`` to put a host next to other metrics of
    your application (prometheus_client's threaded server included: the snapshot is taken on
    the host's loop, see ``LoopSnapshot``); create it on the host's loop.
    ``Host.serve_metrics`` uses a registry of its own.
    """

    def __init__(self, host: Host) -> None:
        self._snapshot = LoopSnapshot(host)

    def describe(self) -> list[Any]:
        """Nothing up front: registering must not take a snapshot (the host may not run yet)."""
        return []

    def collect(self) -> Iterator[Any]:
        """The host's families as prometheus_client metric families (one snapshot per call)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.utils import floatToGoString

        kinds = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
                 "histogram": HistogramMetricFamily}
        for family in self._snapshot():
            names = [key for key, _ in family.samples[0].labels] if family.samples else []
            out = kinds[family.kind](family.name, family.help, labels=names)
            for sample in family.samples:
                values = [value for _, value in sample.labels]
                if isinstance(sample, HistogramSample):
                    bounds = [floatToGoString(b) for b in sample.bounds] + ["+Inf"]
                    out.add_metric(values, list(zip(bounds, sample.buckets)), sample.sum)
                else:
                    out.add_metric(values, sample.value)
            yield out


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _inner(labels: Labels) -> str:
    return ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels)


def exposition(families: list[MetricFamily]) -> bytes:
    """``families`` in the Prometheus text format 0.0.4: what prometheus_client's
    ``generate_latest`` writes for them (the tests check it against that), about 7x faster.
    A scrape runs on the host's loop, so its cost is time no actor runs."""
    lines: list[str] = []
    for family in families:
        name = family.name
        lines.append(f"# HELP {name} " + family.help.replace("\\", "\\\\").replace("\n", "\\n"))
        lines.append(f"# TYPE {name} {family.kind}")
        for sample in family.samples:
            inner = _inner(sample.labels)
            labels = f"{{{inner}}}" if inner else ""
            if isinstance(sample, HistogramSample):
                sep = "," if inner else ""
                bounds = [repr(float(b)) for b in sample.bounds] + ["+Inf"]
                for le, count in zip(bounds, sample.buckets):
                    lines.append(f'{name}_bucket{{{inner}{sep}le="{le}"}} {_number(count)}')
                lines.append(f"{name}_count{labels} {_number(sample.count)}")
                lines.append(f"{name}_sum{labels} {_number(sample.sum)}")
            else:
                lines.append(f"{name}{labels} {_number(sample.value)}")
    lines.append("")
    return "\n".join(lines).encode("utf-8")


def render(host: Host) -> bytes:
    """The Prometheus text page of ``host`` right now (what ``GET /metrics`` answers); call it
    on the host's loop."""
    return exposition(collect(host))


class MetricsServer:
    """A listening Prometheus endpoint. ``address`` is where it really listens (the port the
    system picked for port 0); ``close()`` stops it, and ``Host.close`` closes it too."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._server: asyncio.AbstractServer | None = None
        self.address: tuple[str, int] = ("", 0)
        #: Scrapes answered (200) since the server started.
        self.scrapes = 0

    @property
    def url(self) -> str:
        """``http://HOST:PORT/metrics`` (IPv6 hosts in brackets)."""
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/metrics"

    @property
    def closed(self) -> bool:
        """True once it stopped listening (``close()``, or the host closed it)."""
        return self._server is None or not self._server.is_serving()

    async def _listen(self, address: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, address, port,
                                                      limit=_HEAD_LIMIT, reuse_address=True)
        except (OSError, socket.gaierror) as exc:
            raise ConfigError(f"cannot serve metrics on {address}:{port}: "
                              f"{exc.strerror or exc}; pick another address or port "
                              "(port 0 picks a free one)") from None
        sock = self._server.sockets[0].getsockname()
        self.address = (str(sock[0]), int(sock[1]))

    def close(self) -> None:
        """Stop listening (a scrape being answered still completes)."""
        if self._server is not None:
            self._server.close()

    async def wait_closed(self) -> None:
        """``close()``, then wait until the listening socket is released."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body, head_only = await self._answer(reader)
            extra = "Allow: GET, HEAD\r\n" if status == 405 else ""
            kind = CONTENT_TYPE if status == 200 else "text/plain; charset=utf-8"
            writer.write((f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {kind}\r\n"
                          f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
                          ).encode("ascii"))
            if not head_only:
                writer.write(body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass  # the client went away or stalled: nothing to answer
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
        except asyncio.LimitOverrunError:
            return 431, b"request head too large\n", False
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return 400, b"expected an HTTP/1.x request line\n", False
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if method not in (b"GET", b"HEAD"):
            return 405, b"only GET and HEAD are served\n", False
        if target not in _PATHS:
            return 404, b"metrics are at /metrics\n", method == b"HEAD"
        try:
            body = render(self._host)
        except Exception as exc:  # a scrape must never take the host down
            return 500, f"collecting metrics failed: {type(exc).__name__}: {exc}\n".encode(), False
        self.scrapes += 1
        return 200, body, method == b"HEAD"


async def start_server(host: Host, address: str, port: int) -> MetricsServer:
    """Listen on ``address:port`` (port 0: a free port, see ``MetricsServer.address``)."""
    if not isinstance(address, str) or not address:
        raise ConfigError(f"the metrics address must be a host name or IP address, got "
                          f"{address!r}; use '127.0.0.1' (this machine) or '0.0.0.0' (all)")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"the metrics port must be an int from 0 to 65535, got {port!r} "
                          "(0 picks a free port)")
    server = MetricsServer(host)
    await server._listen(address, port)
    return server

