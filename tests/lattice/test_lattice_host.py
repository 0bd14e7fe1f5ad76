"""Hosts as nodes of one lattice, in one process: names, placement, messaging across nodes.

Each test starts a real nats-server (``fresh_nats``) and two or three ``aw.Host`` nodes on one
event loop; the failover and process-level faults are in ``test_lattice_faults.py``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

import airssys_wasm as aw
from airssys_wasm import demo
from airssys_wasm import multicodec as mc
from airssys_wasm.benchmarks import guests
from airssys_wasm.types import ComponentConfig

COUNTER = demo.path("counter")
STAGE = demo.path("stage")


def frame(payload: bytes) -> bytes:
    return mc.encode(mc.Codec.RAW, payload)


@asynccontextmanager
async def nodes(url: str, *specs: tuple[str, dict[str, str]], **options: Any
                ) -> AsyncIterator[list[aw.Host]]:
    """Hosts named by ``specs`` ((node, labels), ...), all joined to the lattice at ``url``.

    No test here is about silence, and on a loaded machine the one event loop of every node can
    stall past the default 1 s: a false failover then moves components and their state. So the
    nodes wait 10 s before they call one another lost (handovers on close do not wait)."""
    options.setdefault("failover_after", 10.0)
    async with AsyncExitStack() as stack:
        hosts = []
        for node, labels in specs:
            lattice = aw.Lattice(url, node=node, labels=labels, **options)
            hosts.append(await stack.enter_async_context(aw.Host(lattice=lattice)))
        yield hosts


async def counted(host: aw.Host, name: str) -> tuple[int, int]:
    messages, size = struct.unpack("<II", await host.request(name, b"cnt?", timeout=5.0))
    return messages, size


async def eventually(check: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_component_on_another_node_takes_sends_and_requests(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {}), ("n2", {})) as (h1, h2):
        ref = await h1.spawn("counter", COUNTER, placement="n2")
        assert isinstance(ref, aw.host.RemoteRef) and ref.node == "n2"
        assert ref.state is aw.actor.ActorState.RUNNING
        assert h2.ref("counter").actor.mailbox is not None  # it really runs on n2
        for i in range(600):
            await h1.send("counter", frame(b"%05d" % i))
        for i in range(400):
            h1.try_send("counter", frame(b"x"))
        assert await h1.lattice.flush() == 1000
        await eventually(lambda: h2.lattice.stats().frames_received == 1000)
        assert await counted(h1, "counter") == (1000, 600 * 6 + 400 * 2)  # frame sizes
        # the same component seen from its own node: the same counts, a local hop
        assert await counted(h2, "counter") == (1000, 4400)
        sent = h1.lattice.stats()
        assert sent.frames_sent == 1000 and sent.packs_sent < 100  # packed, not one per frame
        assert await h1.health("counter") is aw.HealthStatus.HEALTHY
        with pytest.raises(aw.ActorStateError, match="n2"):
            ref.stats  # noqa: B018 - its counters are on n2


async def test_guest_send_message_reaches_a_component_on_another_node(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {}), ("n2", {})) as (h1, h2):
        await h1.spawn("counter", COUNTER, placement="n2")
        await h1.spawn("stage", STAGE, config=ComponentConfig(config_data=b"f.counter"))
        assert h1.lattice.where("stage") == "n1"
        for _ in range(300):
            await h1.send("stage", frame(b"reading"))
        await eventually(lambda: h1.lattice.stats().frames_sent == 300)
        await h1.lattice.flush()
        await eventually(lambda: h2.lattice.stats().frames_received == 300)
        assert await counted(h2, "counter") == (300, 300 * len(frame(b"reading")))
        # n2's counter got each frame with the stage's component-id as sender
        handled, forwarded, failed = struct.unpack("<III", await h1.request("stage", b"stat"))
        assert (handled, forwarded, failed) == (300, 300, 0)


async def test_guests_see_the_whole_lattice(fresh_nats: Any) -> None:
    echo = guests.path("echo")
    manifest = (guests.path("echo").parent / "echo.toml")
    toml = manifest.read_text() if manifest.exists() else (
        '[component]\nname = "echo"\nversion = "1.0.0"\n[capabilities]\nmessaging.send = ["*"]\n')
    async with nodes(fresh_nats.url, ("n1", {}), ("n2", {})) as (h1, h2):
        await h1.spawn("echo", echo, manifest=toml)
        await h1.spawn("counter", COUNTER, placement="n2")
        await h2.spawn("other", COUNTER)
        await eventually(lambda: sorted(h1.names()) == ["counter", "echo", "other"])
        (count,) = struct.unpack("<I", await h1.request("echo", b"list"))
        assert count == 3  # itself, and the two components on n2
        assert await h1.request("echo", b"meta:counter") == b"counter"
        assert await h1.request("echo", b"meta:nowhere") == b"none"


async def test_placement_by_node_labels_and_strategy(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("a", {"zone": "eu"}), ("b", {"zone": "us"}),
                     ("c", {"zone": "us", "gpu": "yes"})) as (ha, hb, hc):
        await eventually(lambda: len(ha.lattice.nodes()) == 3)
        await ha.spawn("pinned", COUNTER, placement=aw.Placement(node="b"))
        await ha.spawn("gpu", COUNTER, placement=aw.Placement(labels={"gpu": "yes"}))
        assert ha.lattice.where("pinned") == "b" and ha.lattice.where("gpu") == "c"
        for i in range(2):  # spread: the us node with fewer components first (b has 1, c 1)
            await ha.spawn(f"s{i}", COUNTER, placement=aw.Placement(labels={"zone": "us"}))
        assert sorted(ha.lattice.where(f"s{i}") for i in range(2)) == ["b", "c"]
        for i in range(3):  # pack: the us node with the most components
            await ha.spawn(f"p{i}", COUNTER,
                           placement=aw.Placement(labels={"zone": "us"}, strategy="pack"))
        assert len({ha.lattice.where(f"p{i}") for i in range(3)}) == 1
        with pytest.raises(aw.LatticeError, match="no live node can run 'x'.*labels"):
            await ha.spawn("x", COUNTER, placement=aw.Placement(labels={"zone": "mars"}))
        assert "x" not in ha.names()
        counts = {n.name: n.components for n in ha.lattice.nodes()}
        assert sum(counts.values()) == 7


async def test_names_are_unique_across_the_lattice(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {}), ("n2", {})) as (h1, h2):
        await h1.spawn("counter", COUNTER)
        await eventually(lambda: h2.lattice.where("counter") == "n1")
        with pytest.raises(aw.ConfigError, match="already taken in lattice"):
            await h2.spawn("counter", COUNTER)
        await h2.stop("counter")  # stopped from the other node, for good
        await eventually(lambda: "counter" not in h1.names())
        assert "counter" not in h1.registry
        await h2.spawn("counter", COUNTER)  # the name is free again
        assert h1.lattice.where("counter") in (None, "n2")


async def test_unknown_names_and_failed_spawns_on_another_node(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {}), ("n2", {})) as (h1, h2):
        with pytest.raises(aw.ComponentNotFound):
            await h1.send("nowhere", frame(b"x"))
        with pytest.raises(aw.ComponentNotFound):
            await h1.request("nowhere", b"x")
        bad = "(component (core module (func (export \"x\"))))"
        with pytest.raises(aw.LoadError):  # rejected on n2, raised on n1
            await h1.spawn("bad", bad, placement="n2")
        assert "bad" not in h1.names() and "bad" not in h2.names()
        await h1.spawn("bad", COUNTER, placement="n2")  # the failed spawn left nothing behind


async def test_publish_and_subscribe_across_nodes(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {}), ("n2", {})) as (h1, h2):
        await h1.spawn("here", COUNTER)
        await h1.spawn("there", COUNTER, placement="n2")
        h1.subscribe("readings", "here")
        h1.subscribe("readings", "there")
        await h1.lattice.settled()
        assert await h1.publish("readings", frame(b"abc")) == 2
        assert await h2.publish("readings", frame(b"abcd")) == 2
        assert await counted(h1, "here") == (2, 4 + 5)
        assert await counted(h1, "there") == (2, 4 + 5)
        assert h1.unsubscribe("readings", "there")
        await h1.lattice.settled()
        assert await h1.publish("readings", frame(b"z")) == 1


async def test_cross_node_messages_are_checked_against_the_senders_grants(
        fresh_nats: Any) -> None:
    manifest = ('[component]\nname = "stage"\nversion = "1.0.0"\n'
                '[capabilities]\nmessaging.send = ["sink"]\n')
    async with nodes(fresh_nats.url, ("n1", {}), ("n2", {})) as (h1, h2):
        await h1.spawn("counter", COUNTER, placement="n2")
        await h1.spawn("stage", STAGE, manifest=manifest,
                       config=ComponentConfig(config_data=b"f.counter"))
        for _ in range(20):
            await h1.send("stage", frame(b"x"))
        await eventually(lambda: h1.ref("stage").stats.messages_in >= 20)
        await asyncio.sleep(0.1)
        handled, forwarded, failed = struct.unpack("<III", await h1.request("stage", b"stat"))
        assert (handled, forwarded, failed) == (20, 0, 20)
        await h1.lattice.flush()
        assert h1.lattice.stats().frames_sent == 0
        assert await counted(h2, "counter") == (0, 0)


async def test_a_node_name_is_taken_once_and_nats_must_be_there(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {})):
        with pytest.raises(aw.LatticeError, match="already in lattice"):
            async with aw.Host(lattice=aw.Lattice(fresh_nats.url, node="n1")):
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(aw.LatticeUnavailable, match="cannot reach NATS"):
        async with aw.Host(lattice=aw.Lattice(f"nats://127.0.0.1:{port}", node="n1",
                                              connect_timeout=0.5)):
            pass


async def test_a_closing_node_hands_its_components_over(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {})) as (h1,):
        async with nodes(fresh_nats.url, ("n2", {})) as (h2,):
            await h2.spawn("counter", COUNTER)  # no placement: started here, movable anywhere
            await eventually(lambda: h1.lattice.where("counter") == "n2")
            for _ in range(50):
                await h1.send("counter", frame(b"before"))
            await h1.lattice.flush()
            await eventually(lambda: h2.lattice.stats().frames_received == 50)
        # n2 left: n1 claims the orphaned component and runs it itself
        await eventually(lambda: h1.lattice.where("counter") == "n1")
        await eventually(lambda: "counter" in h1.registry)
        for _ in range(10):
            await h1.send("counter", frame(b"after"))
        await asyncio.sleep(0.05)
        # a fresh instance: only what came after the handover, and no frame twice
        messages, _ = await counted(h1, "counter")
        assert messages == 10
        assert h1.lattice.stats().failovers == 1


async def test_a_pinned_component_waits_for_its_node(fresh_nats: Any) -> None:
    async with nodes(fresh_nats.url, ("n1", {})) as (h1,):
        async with nodes(fresh_nats.url, ("n2", {})) as (h2,):
            await h1.spawn("counter", COUNTER, placement="n2")
        await asyncio.sleep(0.3)
        assert h1.lattice.where("counter") is None  # n2 is gone; nobody else may run it
        for _ in range(5):  # frames for it wait in the stream meanwhile
            await h1.send("counter", frame(b"queued"))
        await h1.lattice.flush()
        async with nodes(fresh_nats.url, ("n2", {})) as (h2,):
            await eventually(lambda: h1.lattice.where("counter") == "n2")
            await eventually(lambda: h2.lattice.stats().frames_received == 5)
            assert await counted(h1, "counter") == (5, 5 * len(frame(b"queued")))


async def test_sends_during_a_claim_go_to_the_stream_while_the_claimer_compiles(
        fresh_nats: Any) -> None:
    """A node claiming a component compiles it before it takes the local route over: sends
    from that node meanwhile still go to the stream (none refused), the component stays in
    its names, and the new instance gets every one of them."""
    big = guests.padded(COUNTER, 600)
    async with nodes(fresh_nats.url, ("n1", {})) as (h1,):
        async with nodes(fresh_nats.url, ("n2", {})) as (h2,):
            await h2.spawn("counter", big)  # started on n2; n1 never compiled it
            await eventually(lambda: h1.lattice.where("counter") == "n2")
        sent = 0
        while "counter" not in h1.registry:  # n2 handed it over: n1 fetches and compiles it
            await h1.send("counter", frame(b"during"))  # never ComponentNotFound
            assert "counter" in h1.names()  # listed throughout, starting here or not yet
            sent += 1
            assert sent < 5000, "n1 did not take the counter over"
            await asyncio.sleep(0.002)
        await h1.lattice.flush()
        assert sent >= 10  # the claim took a while: these really went out meanwhile
        await eventually(lambda: h1.lattice.where("counter") == "n1")
        for _ in range(50):
            messages, size = await counted(h1, "counter")
            if messages == sent:
                break
            await asyncio.sleep(0.05)
        assert (messages, size) == (sent, sent * len(frame(b"during")))
