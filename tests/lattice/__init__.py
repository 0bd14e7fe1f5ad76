"""Tests of the lattice layer: local NATS JetStream clusters of real nats-server processes."""
