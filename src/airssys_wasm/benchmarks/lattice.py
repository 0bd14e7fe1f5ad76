"""The lattice (issue 14): frames and requests between node hosts on NATS JetStream, a node's
failover, and what a lattice costs the local hop. Every row beside its reference, same run,
same ``nats-server`` (a ``LocalCluster(1)`` the suite starts and stops):

* **cross-node frames, packed**: host ``n1`` sends ``N`` 16-byte frames to the ``minimal``
  guest (handle-message only) placed on ``n2`` (``try_send`` in a loop, ``await send`` when the
  outbox is full), then ``flush()``. Two rates: *published + acked* (every pack acknowledged by
  JetStream) and *delivered + handled* (the component on ``n2`` handled all ``N``; its consumer
  acknowledges them batch by batch). References: nats-py awaiting one ``js.publish`` per frame
  into a stream of its own (file storage, like the lattice's), and one core-NATS ``publish``
  per frame counted by a subscriber on a second connection (no persistence, no
  acknowledgement: the floor of moving a frame through the server from Python). The same
  frames again with ``n2`` in a child process, one node per process as deployed, beside the
  one-process figures;
* **cross-node request RTT**: ``n1.request(name_on_n2, b"ping")`` to the ``echo`` guest, one
  at a time, p50 and p99, against nats-py's ``nc.request`` to a trivial responder on a second
  connection;
* **failover**: a node in a child process (``victim``, heartbeat 0.25 s, failover after 1 s)
  runs a component; once the bench's node sees it running there, the child is SIGKILLed and
  the time until the survivor runs the component and answers a request is measured (mean of
  3 kills). Its reference is ``failover_after``: the silence that declares a node lost;
* **local hop**: ``Host.send`` to a component on the same node, on a host with a lattice
  attached against a plain ``Host()`` (same guest, same count): frames between components of
  one node never touch NATS, so the ratio should stay near 1.

Apart from that second pair of frame rows, both nodes live in this one process and one event
loop, so a figure is the sender's and the receiver's Python work together on one core.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airssys_wasm.actor import ActorState
from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.timing import Comparison, distribution
from airssys_wasm.errors import ConfigError, LatticeError, MailboxFull
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.lattice import Lattice
from airssys_wasm.runtime import Engine

TITLE = ("Lattice (issue 14): cross-node frames and requests on NATS JetStream, failover, "
         "the local hop")

FRAME = b"\x55" + b"x" * 15  # a 16-byte raw frame
PING = b"ping"  # a request to the echo guest
#: Issue 14's goals: packed cross-node throughput, request p50, failover, local-hop overhead.
FRAMES_PER_S_TARGET = 200_000
REQUEST_P50_BUDGET_NS = 1e6
FAILOVER_BUDGET_NS = 2e9
LOCAL_HOP_BUDGET = 1.1
#: The failover runs' node settings (the lattice defaults, spelled out).
HEARTBEAT, FAILOVER_AFTER = 0.25, 1.0
#: How long a setup step (a spawn, a child node joining) may take before the suite gives up.
SETUP_TIMEOUT = 60.0
INSTALL = "pip install 'airssys-wasm[lattice]'"

#: The victim node: joins the lattice, runs one component, says so, then waits to be killed.
_VICTIM = """
import asyncio, sys
import airssys_wasm as aw
from airssys_wasm.host import HostConfig

async def main(url, lattice, node, name, guest, heartbeat, failover_after):
    link = aw.Lattice(url, node=node, name=lattice, heartbeat=heartbeat,
                      failover_after=failover_after)
    async with aw.Host(HostConfig(health=None), lattice=link) as host:
        await host.spawn(name, guest)
        print("ready", flush=True)
        await asyncio.Event().wait()

a = sys.argv[1:]
asyncio.run(main(a[0], a[1], a[2], a[3], a[4], float(a[5]), float(a[6])))
"""

#: A receiving node in a process of its own: says when it joined, then each time the
#: component it was given has handled the next of ``targets`` messages in all.
_RECEIVER = """
import asyncio, sys
import airssys_wasm as aw
from airssys_wasm.host import HostConfig

async def main(url, lattice, node, name, targets):
    link = aw.Lattice(url, node=node, name=lattice)
    async with aw.Host(HostConfig(health=None), lattice=link) as host:
        print("ready", flush=True)
        while name not in host.registry:
            await asyncio.sleep(0.001)
        ref = host.ref(name)
        for target in targets:
            while ref.stats.messages_out < target:
                await asyncio.sleep(0.001)
            print(target, flush=True)
        await asyncio.Event().wait()

a = sys.argv[1:]
asyncio.run(main(a[0], a[1], a[2], a[3], [int(t) for t in a[4].split(",")]))
"""


def missing() -> str | None:
    """Why the suite cannot run here (nats-py or nats-server missing), or None."""
    try:
        import nats  # noqa: F401
    except ImportError:
        return f"nats-py is not installed: {INSTALL}"
    from airssys_wasm.lattice.cluster import find_nats_server

    try:
        find_nats_server()
    except ConfigError as exc:
        return str(exc)
    return None


def _lattice(url: str, node: str, name: str, **options: Any) -> Lattice:
    return Lattice(url, node=node, name=name, **options)


def _config() -> HostConfig:
    return HostConfig(health=None)


async def _wait(condition: Any, what: str, timeout: float = SETUP_TIMEOUT,
                pause: float = 0.0) -> None:
    """Poll ``condition()`` (yielding to the loop) until true; LatticeError naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise LatticeError(f"lattice benchmark: {what} did not happen within {timeout:.0f} s; "
                               "is the box overloaded, or the nats-server stuck?")
        await asyncio.sleep(pause)


# -- cross-node frames ---------------------------------------------------------------------------
async def _blast(host: Host, lattice: Lattice, count: int) -> None:
    """``count`` frames to ``sink`` as fast as the outbox takes them (waiting only when it is
    full), then ``lattice.flush()``: all of them acknowledged by JetStream."""
    try_send, send = host.try_send, host.send
    for _ in range(count):
        try:
            try_send("sink", FRAME)
        except MailboxFull:
            await send("sink", FRAME)
    await lattice.flush()


async def _lattice_frames(url: str, engine: Engine, n: int, rounds: int
                          ) -> tuple[float, float, float]:
    """Best (ns per frame published + acked, ns per frame delivered + handled) over ``rounds``
    of ``n`` frames n1 -> the ``minimal`` guest on n2, and the mean frames per published pack."""
    n1, n2 = _lattice(url, "n1", "bench-frames"), _lattice(url, "n2", "bench-frames")
    async with Host(_config(), engine=engine, lattice=n1) as h1, \
            Host(_config(), engine=engine, lattice=n2) as h2:
        await h1.spawn("sink", guests.path("minimal"), placement="n2")
        local = h2.ref("sink")  # the component itself, on n2
        clock = time.perf_counter_ns
        published: list[float] = []
        delivered: list[float] = []
        warm = min(n, 1000)
        for count in [warm] + [n] * rounds:  # the first round opens the outbox and consumer
            handled = local.stats.messages_out + count
            received = n2.stats().frames_received + count
            start = clock()
            await _blast(h1, n1, count)
            acked = clock()
            await _wait(lambda: local.stats.messages_out >= handled, "the frames' handling")
            done = clock()
            assert n2.stats().frames_received >= received, n2.stats()
            if count == n:
                published.append((acked - start) / n)
                delivered.append((done - start) / n)
        stats = n1.stats()
        per_pack = stats.frames_sent / stats.packs_sent
    return min(published), min(delivered), per_pack


async def _child_frames(url: str, engine: Engine, n: int, rounds: int, log_dir: Path
                       ) -> tuple[float, float]:
    """Best (ns per frame published + acked, ns per frame delivered + handled) over ``rounds``
    of ``n`` frames n1 -> the ``minimal`` guest on n2, n2 running in a child process (one node
    per process, as deployed: each has a core of its own on this box)."""
    warm = min(n, 1000)
    counts = [warm] + [n] * rounds
    targets = ",".join(str(sum(counts[:i + 1])) for i in range(len(counts)))
    log = log_dir / "receiver.log"
    with open(log, "wb") as err:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _RECEIVER, url, "bench-procs", "n2", "sink", targets,
            stdout=asyncio.subprocess.PIPE, stderr=err)
    try:
        assert child.stdout is not None
        lines = child.stdout

        async def line(what: str) -> bytes:
            try:
                return (await asyncio.wait_for(lines.readline(), SETUP_TIMEOUT)).strip()
            except asyncio.TimeoutError:
                raise LatticeError(f"lattice benchmark: the receiving node did not report {what} "
                                   f"within {SETUP_TIMEOUT:.0f} s: "
                                   f"{log.read_text(errors='replace')[-2000:]}") from None

        if await line("that it joined") != b"ready":
            raise LatticeError("lattice benchmark: the receiving node did not start; its log: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        n1 = _lattice(url, "n1", "bench-procs")
        async with Host(_config(), engine=engine, lattice=n1) as h1:
            await _wait(lambda: any(m.name == "n2" and m.alive for m in n1.nodes()),
                        "node n2 joining")
            await h1.spawn("sink", guests.path("minimal"), placement="n2")
            clock = time.perf_counter_ns
            published: list[float] = []
            delivered: list[float] = []
            for count in counts:
                start = clock()
                await _blast(h1, n1, count)
                acked = clock()
                await line("the frames handled")
                done = clock()
                if count == n:
                    published.append((acked - start) / n)
                    delivered.append((done - start) / n)
            return min(published), min(delivered)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def _js_settled(step: Any, patience: float = 10.0) -> None:
    """Run the baseline's JetStream API ``step``, again while the server answers that nobody
    serves it yet (no responders, 503, a timeout): after the lattice stages before it, the
    server's JetStream API can take a moment to answer (the CI run saw a NoRespondersError from
    ``add_stream``). Anything else, or still failing after ``patience`` s, is raised."""
    import nats.errors
    from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

    deadline = time.monotonic() + patience
    while True:
        try:
            await step()
            return
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError,
                NoStreamResponseError, ServiceUnavailableError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _jetstream_frames(url: str, n: int, rounds: int) -> float:
    """Best ns per frame of nats-py awaiting one JetStream publish per frame (file storage)."""
    import nats
    from nats.js.api import StorageType, StreamConfig

    nc = await nats.connect(servers=url.split(","))
    try:
        js = nc.jetstream()
        await _js_settled(lambda: js.add_stream(StreamConfig(
            name="BENCH_JS", subjects=["bench.js"], storage=StorageType.FILE)))
        await _js_settled(lambda: js.publish("bench.js", FRAME))
        publish, clock = js.publish, time.perf_counter_ns
        best = float("inf")
        for count in [min(n, 200)] + [n] * rounds:
            start = clock()
            for _ in range(count):
                await publish("bench.js", FRAME)
            if count == n:
                best = min(best, (clock() - start) / n)
        await _js_settled(lambda: js.delete_stream("BENCH_JS"))
        return best
    finally:
        await nc.close()


async def _core_frames(url: str, n: int, rounds: int) -> float:
    """Best ns per frame of one core-NATS publish per frame until a subscriber on a second
    connection received them all."""
    import nats

    sender, receiver = await nats.connect(servers=url.split(",")), \
        await nats.connect(servers=url.split(","))
    try:
        got = [0]

        async def count(_msg: Any) -> None:
            got[0] += 1

        await receiver.subscribe("bench.core", cb=count, pending_msgs_limit=4 * n + 1024)
        await receiver.flush()
        publish, clock = sender.publish, time.perf_counter_ns
        best = float("inf")
        for rnd in range(rounds + 1):
            expected = got[0] + n
            start = clock()
            for _ in range(n):
                await publish("bench.core", FRAME)
            await sender.flush()
            await _wait(lambda: got[0] >= expected, "the core-NATS subscriber's count")
            if rnd:  # the first round is a warm-up
                best = min(best, (clock() - start) / n)
        return best
    finally:
        await sender.close()
        await receiver.close()


# -- requests ------------------------------------------------------------------------------------
async def _lattice_rtt(url: str, engine: Engine, n: int) -> list[float]:
    """ns of each of ``n`` requests from n1 to the ``echo`` guest on n2, one at a time."""
    n1, n2 = _lattice(url, "n1", "bench-rtt"), _lattice(url, "n2", "bench-rtt")
    async with Host(_config(), engine=engine, lattice=n1) as h1, \
            Host(_config(), engine=engine, lattice=n2):
        await h1.spawn("echo", guests.path("echo"), placement="n2")
        request, clock = h1.request, time.perf_counter_ns
        for _ in range(20):
            reply = await request("echo", PING)
        assert reply, "the echo guest answers a request"
        samples: list[float] = []
        for _ in range(n):
            start = clock()
            await request("echo", PING)
            samples.append(float(clock() - start))
    return samples


async def _nats_rtt(url: str, n: int) -> list[float]:
    """ns of each of ``n`` nats-py requests to a responder on a second connection."""
    import nats

    client, server = await nats.connect(servers=url.split(",")), \
        await nats.connect(servers=url.split(","))
    try:
        reply = bytes(8)

        async def respond(msg: Any) -> None:
            await msg.respond(reply)

        await server.subscribe("bench.rtt", cb=respond)
        await server.flush()
        request, clock = client.request, time.perf_counter_ns
        for _ in range(20):
            await request("bench.rtt", PING, timeout=5.0)
        samples: list[float] = []
        for _ in range(n):
            start = clock()
            await request("bench.rtt", PING, timeout=5.0)
            samples.append(float(clock() - start))
        return samples
    finally:
        await client.close()
        await server.close()


# -- failover ------------------------------------------------------------------------------------
async def _failover_runs(url: str, engine: Engine, runs: int, log_dir: Path) -> list[float]:
    """ns from SIGKILL of a child node to the survivor answering a request to its component,
    once per run (a new child node and component each time)."""
    link = _lattice(url, "survivor", "bench-failover", heartbeat=HEARTBEAT,
                    failover_after=FAILOVER_AFTER)
    times: list[float] = []
    async with Host(_config(), engine=engine, lattice=link) as host:
        for run in range(runs):
            node, name = f"victim{run}", f"moving{run}"
            log = log_dir / f"{node}.log"
            with open(log, "wb") as err:
                child = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", _VICTIM, url, "bench-failover", node, name,
                    str(guests.path("echo")),
                    str(HEARTBEAT), str(FAILOVER_AFTER),
                    stdout=asyncio.subprocess.PIPE, stderr=err)
            try:
                assert child.stdout is not None
                try:
                    line = await asyncio.wait_for(child.stdout.readline(), SETUP_TIMEOUT)
                except asyncio.TimeoutError:
                    line = b""
                if line.strip() != b"ready":
                    raise LatticeError(f"lattice benchmark: the victim node {node} did not start "
                                       "its component; its log: "
                                       f"{log.read_text(errors='replace')[-2000:]}")
                await _wait(lambda: link.where(name) == node
                            and link.state(name)[0] is ActorState.RUNNING,
                            f"{name} running on {node} as seen by the survivor", pause=0.005)
                child.send_signal(signal.SIGKILL)
                start = time.perf_counter_ns()
                await child.wait()
                await _wait(lambda: link.where(name) == link.node and name in host.registry,
                            f"the takeover of {name}", pause=0.002)
                reply = await host.request(name, PING, timeout=5.0)
                times.append(float(time.perf_counter_ns() - start))
                assert reply, "the echo guest answers a request"
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
    return times


# -- the local hop -------------------------------------------------------------------------------
async def _local_send(engine: Engine, n: int, url: str | None) -> float:
    """ns per ``Host.send`` to the ``minimal`` guest on the same node, until all ``n`` are
    handled; with a lattice attached when ``url`` is given."""
    link = _lattice(url, "solo", "bench-local") if url is not None else None
    async with Host(_config(), engine=engine, lattice=link) as host:
        ref = await host.spawn("m", guests.path("minimal"))
        send, clock = host.send, time.perf_counter_ns
        for _ in range(min(n, 500)):
            await send("m", FRAME)
        await _wait(lambda: ref.stats.messages_out >= min(n, 500), "the warm-up messages")
        done = ref.stats.messages_out + n
        start = clock()
        for _ in range(n):
            await send("m", FRAME)
        await _wait(lambda: ref.stats.messages_out >= done, "the local messages' handling")
        elapsed = clock() - start
        if link is not None:
            await host.stop("m")  # its spec and placement leave the lattice with it
    return elapsed / n


@contextmanager
def _quiet() -> Iterator[None]:
    """The failover logs a lost node and a takeover as warnings, as a real one would; here the
    records go to a NullHandler, not to stderr through logging's last resort."""
    log = logging.getLogger("airssys_wasm")
    sink = logging.NullHandler()
    log.addHandler(sink)
    try:
        yield
    finally:
        log.removeHandler(sink)


def _rate(ns_per_frame: float) -> str:
    return f"{1e9 / ns_per_frame:,.0f} frames/s"


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects small counts and one failover (quick mode). Without
    nats-py or nats-server one row says what to install."""
    reason = missing()
    if reason is not None:
        return [Comparison("lattice suite skipped", float("nan"), reason, None)]
    from airssys_wasm.lattice.cluster import LocalCluster

    quick = min_seconds < 0.1
    n = 2000 if quick else 20_000
    rounds = 1 if quick else max(1, min(repeat, 3))
    n_rtt = 50 if quick else 500
    kills = 1 if quick else 3
    n_local = 2000 if quick else 50_000
    engine = Engine()
    try:
        with _quiet(), LocalCluster(1) as cluster, \
                tempfile.TemporaryDirectory(prefix="airssys-bench-lattice-") as logs:
            url = cluster.url
            pub, handled, per_pack = asyncio.run(_lattice_frames(url, engine, n, rounds))
            apart_pub, apart = asyncio.run(_child_frames(url, engine, n, rounds, Path(logs)))
            js_pub = asyncio.run(_jetstream_frames(url, n, rounds))
            core = asyncio.run(_core_frames(url, n, rounds))
            ours_rtt = distribution(asyncio.run(_lattice_rtt(url, engine, n_rtt)))
            raw_rtt = distribution(asyncio.run(_nats_rtt(url, n_rtt)))
            failovers = asyncio.run(_failover_runs(url, engine, kills, Path(logs)))
            with_lattice = plain = float("inf")
            for _ in range(max(1, repeat if not quick else 1)):  # alternate, best of each
                plain = min(plain, asyncio.run(_local_send(engine, n_local, None)))
                with_lattice = min(with_lattice, asyncio.run(_local_send(engine, n_local, url)))
    finally:
        engine.close()
    budget = 1e9 / FRAMES_PER_S_TARGET
    frames = f"cross-node frames, {n:,} x 16 B n1 -> component on n2, packed ({per_pack:.0f}/pack)"
    fo = distribution(failovers)
    return [
        Comparison(f"{frames}: published + acked, per frame ({_rate(pub)})", pub,
                   f"one JetStream publish per frame, awaited (nats-py; {_rate(js_pub)})",
                   js_pub),
        Comparison(f"{frames}: delivered + handled on n2, per frame ({_rate(handled)})", handled,
                   f"one core-NATS publish per frame to a subscriber, no ack ({_rate(core)})",
                   core),
        Comparison(f"  n2 in a process of its own: published + acked ({_rate(apart_pub)})",
                   apart_pub, "both nodes in this process (above)", pub),
        Comparison(f"  n2 in a process of its own: delivered + handled ({_rate(apart)})",
                   apart, "both nodes in this process (above)", handled),
        Comparison("  delivered + handled, both nodes in one process: issue 14 target "
                   "200k frames/s", handled, "budget 5 µs per frame", budget, target=True),
        Comparison("  delivered + handled, n2 in its own process: issue 14 target 200k frames/s",
                   apart, "budget 5 µs per frame", budget, target=True),
        Comparison(f"cross-node request n1 -> echo on n2: p50 ({n_rtt} requests)",
                   ours_rtt.p50, "nats-py nc.request to a trivial responder: p50", raw_rtt.p50),
        Comparison(f"cross-node request n1 -> echo on n2: p99 ({n_rtt} requests)",
                   ours_rtt.p99, "nats-py nc.request: p99", raw_rtt.p99),
        Comparison("  request p50: issue 14 target", ours_rtt.p50, "budget 1 ms",
                   REQUEST_P50_BUDGET_NS, target=True),
        Comparison(f"failover: node SIGKILLed -> survivor answers for its component "
                   f"(mean of {len(failovers)})", fo.mean,
                   f"failover_after={FAILOVER_AFTER:g} s (silence that declares a node lost)",
                   FAILOVER_AFTER * 1e9),
        Comparison(f"failover: slowest of {len(failovers)}", fo.max,
                   f"failover_after={FAILOVER_AFTER:g} s", FAILOVER_AFTER * 1e9),
        Comparison("  failover mean: issue 14 target", fo.mean, "budget 2 s",
                   FAILOVER_BUDGET_NS, target=True),
        Comparison(f"local hop: Host.send to a component on the same node, lattice attached "
                   f"({n_local:,} messages)", with_lattice, "plain Host(), same guest", plain),
        Comparison("  local hop with a lattice: issue 14 target", with_lattice,
                   f"budget {LOCAL_HOP_BUDGET:g}x plain Host()", plain * LOCAL_HOP_BUDGET,
                   target=True),
    ]

