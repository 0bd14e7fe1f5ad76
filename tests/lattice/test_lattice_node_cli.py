"""`airssys-wasm node`: real node processes on a real nats-server, seen by a Python lattice host.

A node started with a system file runs its components for the whole lattice (frames and
requests from another node reach them), refuses a second node of its name, fails at once when
NATS is not there, hands its components over on SIGTERM, and prints the actor table with a
``node`` column — also for components it does not run itself.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import struct
from pathlib import Path


import airssys_wasm as aw
from airssys_wasm import demo
from airssys_wasm import multicodec as mc
from airssys_wasm.host.host import RemoteRef
from airssys_wasm.lattice.cluster import LocalCluster

from .processes import FAST, NodeProcess, start_node

def counter_system(tmp_path: Path) -> Path:
    system = tmp_path / "counter.toml"
    system.write_text(f'[host]\nhealth_interval = 0\n'
                      f'[[component]]\nname = "counter"\nsource = "{demo.path("counter")}"\n')
    return system


async def eventually(check: object, what: str, timeout: float = 10.0) -> None:
    """Poll ``check()`` (every 20 ms) until it is true; AssertionError naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


async def count_reaches(host: aw.Host, name: str, expected: int, timeout: float = 10.0) -> int:
    """Ask ``name`` (the counter guest) ``cnt?`` until it counted ``expected`` frames.

    ``flush`` means JetStream holds the frames; the node running the component fetches them
    from the stream, while a request travels straight to that node, so a request can overtake
    frames sent before it. Never more than ``expected``: a frame is delivered once. Returns
    how many requests it took (the component's ``in`` counter counts them too)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    asked = 0
    while True:
        count, _ = struct.unpack("<II", await host.request(name, b"cnt?", 10.0))
        asked += 1
        assert count <= expected
        if count == expected:
            return asked
        if loop.time() > deadline:
            raise AssertionError(f"{name} counted {count} of {expected} frames in {timeout} s")
        await asyncio.sleep(0.05)


def header_of(output: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.lstrip("┃│ ").startswith("actor"))
    return re.findall(r"[a-z]+(?: letters)?", line)


async def test_a_node_runs_its_system_for_the_lattice_and_hands_it_over_on_sigterm(
        fresh_nats: LocalCluster, tmp_path: Path, nodes: list[NodeProcess]) -> None:
    url = fresh_nats.url
    n1 = await start_node("--nats", url, "--name", "n1", *FAST, str(counter_system(tmp_path)))
    nodes.append(n1)
    assert await n1.line_with("joined lattice") == f"node n1 joined lattice default at {url}"
    assert "started counter (counter.wat)" in await n1.line_with("counter")

    async with aw.Host(aw.HostConfig(name="py", health=None),
                       lattice=aw.Lattice(url, node="py")) as host:
        assert host.lattice is not None
        await eventually(lambda: host.lattice.where("counter") == "n1", "counter placed on n1")
        ref = host.ref("counter")
        assert isinstance(ref, RemoteRef) and ref.node == "n1"
        for _ in range(100):
            await host.send("counter", mc.encode(mc.Codec.RAW, b"x"))
        await host.lattice.flush()
        asked = await count_reaches(host, "counter", 100)

        # A second node of the same name is refused; the first one keeps running.
        twin = await start_node("--nats", url, "--name", "n1", *FAST,
                                str(counter_system(tmp_path)))
        nodes.append(twin)
        code, output = await twin.finish()
        assert code == 1, output
        assert "Error: a node named 'n1' is already in lattice 'default'" in output, output
        assert "Traceback" not in output, output
        assert host.lattice.where("counter") == "n1"

        n1.proc.send_signal(signal.SIGTERM)
        code, output = await n1.finish()
        assert code == 0, output
        assert "stop requested: draining mailboxes" in output, output
        assert "leaving the lattice: 1 component(s) of this node are handed over" in output
        assert header_of(output)[:3] == ["actor", "node", "state"], output
        assert re.search(rf"│ counter\s+│ n1\s+│ running\s+│\s+{100 + asked} │", output), output
        # Handed over, not removed lattice-wide (which a shutdown before leaving would do).
        assert "counter" in host.names() and host.lattice.state("counter")[0].value != "stopped"


async def test_a_survivor_runs_the_components_a_node_hands_over_on_sigterm(
        fresh_nats: LocalCluster, tmp_path: Path, nodes: list[NodeProcess]) -> None:
    url = fresh_nats.url
    n1 = await start_node("--nats", url, "--name", "n1", *FAST, str(counter_system(tmp_path)))
    nodes.append(n1)
    await n1.line_with("started counter")
    async with aw.Host(aw.HostConfig(name="py", health=None),
                       lattice=aw.Lattice(url, node="py")) as host:
        assert host.lattice is not None
        await eventually(lambda: host.lattice.where("counter") == "n1", "counter placed on n1")
        n1.proc.send_signal(signal.SIGTERM)
        code, output = await n1.finish()
        assert code == 0, output
        # A Lattice host claims orphaned components: the Python node runs it itself now.
        await eventually(lambda: host.lattice.where("counter") == "py", "counter claimed by py",
                         timeout=5.0)
        # Placed here first, then started here: the source comes from the object store and
        # is compiled off the loop, so the registry has it a moment later.
        await eventually(lambda: "counter" in host.registry, "counter running in this process")
        assert not isinstance(host.ref("counter"), RemoteRef)
        count, _ = struct.unpack("<II", await host.request("counter", b"cnt?", 10.0))
        assert count == 0  # a fresh instance: guest memory does not move with the component
        assert host.lattice.stats().failovers == 1


async def test_a_node_without_a_file_serves_what_others_place_on_it(
        fresh_nats: LocalCluster, nodes: list[NodeProcess]) -> None:
    url = fresh_nats.url
    n2 = await start_node("--nats", url, "--name", "n2", "--label", "zone=b", *FAST)
    nodes.append(n2)
    assert await n2.line_with("joined lattice") == f"node n2 joined lattice default at {url}"
    async with aw.Host(aw.HostConfig(name="py", health=None),
                       lattice=aw.Lattice(url, node="py", labels={"zone": "a"})) as host:
        assert host.lattice is not None
        await eventually(lambda: "n2" in [n.name for n in host.lattice.nodes()], "n2 seen")
        assert {n.name: n.labels for n in host.lattice.nodes()}["n2"] == {"zone": "b"}
        placed = await host.spawn("remote", demo.path("counter"),
                                  placement=aw.Placement(labels={"zone": "b"}))
        assert isinstance(placed, RemoteRef) and placed.node == "n2"
        await host.spawn("local", demo.path("counter"))
        for _ in range(7):
            await host.send("remote", mc.encode(mc.Codec.RAW, b"x"))
        await host.lattice.flush()
        asked = await count_reaches(host, "remote", 7)
        # n2 learns of "local" (on py) through the placement bucket, then leaves.
        await asyncio.sleep(0.3)
        n2.proc.send_signal(signal.SIGTERM)
        code, output = await n2.finish()
        assert code == 0, output
        assert header_of(output)[:3] == ["actor", "node", "state"], output
        assert re.search(rf"│ remote\s+│ n2\s+│ running\s+│\s+{7 + asked} │", output), output
        # The component on the Python node is listed with its node and no counters.
        assert re.search(r"│ local\s+│ py\s+│ running\s+│\s+- │\s+- │", output), output
        assert "remote" in host.names()  # handed over (only a zone=b node may run it)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_node_without_a_nats_server_exits_1_with_the_reason(
        nodes: list[NodeProcess]) -> None:
    port = _free_port()
    node = await start_node("--nats", f"nats://127.0.0.1:{port}", "--name", "n1")
    nodes.append(node)
    code, output = await node.finish(timeout=15.0)  # a hang fails here instead of blocking
    assert code == 1, output
    assert (f"Error: cannot reach NATS at nats://127.0.0.1:{port} (ConnectionRefusedError"
            in output), output
    assert "start a server (airssys-wasm lattice up) or fix the url/credentials" in output
    assert "Traceback" not in output and "joined" not in output, output


async def test_the_token_comes_from_a_file_and_is_never_printed(
        tmp_path: Path, nodes: list[NodeProcess]) -> None:
    token = "n0de-t0ken-xyz"
    (tmp_path / "token").write_text(token + "\n")
    with LocalCluster(1, token=token) as cluster:
        refused = await start_node("--nats", cluster.url, "--name", "n1", "--duration", "0.1")
        nodes.append(refused)
        code, output = await refused.finish()
        assert code == 1 and "cannot reach NATS" in output, output
        node = await start_node("--nats", cluster.url, "--name", "n1", "--duration", "0.3",
                                "--token-file", str(tmp_path / "token"))
        nodes.append(node)
        code, output = await node.finish()
        assert code == 0, output
        assert f"node n1 joined lattice default at {cluster.url}" in output, output
        assert token not in output
