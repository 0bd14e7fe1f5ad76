"""Tests of the lattice layer against real nats-server processes: local clusters, nodes in one
process and as `airssys-wasm node` processes, faults (kills, freezes, restarts), the wire format
and the benchmark suite."""
