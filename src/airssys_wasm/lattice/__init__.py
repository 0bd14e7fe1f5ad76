"""The lattice: node hosts on NATS JetStream (placement, names across nodes, failover).

Needs the ``[lattice]`` extra. :mod:`airssys_wasm.lattice.cluster` runs local ``nats-server``
processes for tests, demos and ``airssys-wasm lattice up``.
"""

__all__: list[str] = []
