"""A lattice of two node hosts on NATS JetStream: placement, names across nodes, handover.

Run: python examples/lattice.py   (needs pip install 'airssys-wasm[lattice]')

A local JetStream server is started (``LocalCluster``, what ``airssys-wasm lattice up`` runs);
two hosts join it as nodes ``edge`` and ``core`` (labels say what each offers). A counter is
placed by label on ``core`` and used from ``edge`` exactly as a local one: ``send``,
``request``, a guest's ``send-message``. A second counter, spawned on ``core`` without a
placement rule, may run anywhere: when ``core`` leaves it is handed over and ``edge`` runs it.
"""

from __future__ import annotations

import asyncio
import struct

import airssys_wasm as aw
from airssys_wasm import demo
from airssys_wasm import multicodec as mc
from airssys_wasm.lattice.cluster import LocalCluster
from airssys_wasm.types import ComponentConfig


async def counted(host: aw.Host, name: str) -> int:
    messages, _bytes = struct.unpack("<II", await host.request(name, b"cnt?"))
    return int(messages)


async def main(url: str) -> None:
    edge_node = aw.Lattice(url, node="edge", labels={"tier": "edge"})
    core_node = aw.Lattice(url, node="core", labels={"tier": "core"})
    async with aw.Host(lattice=edge_node) as edge:
        async with aw.Host(lattice=core_node) as core:
            ref = await edge.spawn("counter", demo.path("counter"),
                                   placement=aw.Placement(labels={"tier": "core"}))
            assert isinstance(ref, aw.host.RemoteRef)  # it runs on another node
            print(f"counter runs on {ref.node}; nodes: "
                  f"{[(n.name, n.components) for n in edge_node.nodes()]}")
            assert edge_node.where("counter") == "core"

            # A stage on edge forwards to the counter on core with its own send-message.
            await edge.spawn("stage", demo.path("stage"),
                             config=ComponentConfig(config_data=b"f.counter"))
            for i in range(100):
                await edge.send("counter", mc.encode(mc.Codec.RAW, b"direct %d" % i))
                await edge.send("stage", mc.encode(mc.Codec.RAW, b"via stage %d" % i))
            sent = await edge_node.flush()  # JetStream acknowledged every frame
            while core_node.stats().frames_received < 200:
                await asyncio.sleep(0.01)
            print(f"edge published {sent} frames in {edge_node.stats().packs_sent} packs")
            assert await counted(edge, "counter") == 200

            await core.spawn("roamer", demo.path("counter"))  # no rule: movable anywhere
            assert edge_node.where("roamer") == "core"
        # core left: the pinned-by-label counter waits for a core node; the roamer moved.
        while "roamer" not in edge.registry:
            await asyncio.sleep(0.01)
        print(f"after core left: roamer runs on {edge_node.where('roamer')}, counter waits "
              f"for a tier=core node (placed on {edge_node.where('counter')})")
        assert edge_node.where("roamer") == "edge" and edge_node.where("counter") is None
        for i in range(10):  # a local hop now: no NATS involved
            await edge.send("roamer", mc.encode(mc.Codec.RAW, b"here %d" % i))
        assert await counted(edge, "roamer") == 10


if __name__ == "__main__":
    with LocalCluster(1) as cluster:
        asyncio.run(main(cluster.url))
