"""Smoke run of the restart suite (Store + instantiate + close, both allocators, vs bare
wasmtime-py) in quick mode: every row measured, both sides, and the restarted instances serve.

Run: python -m pytest benches/test_bench_restart.py -q
Full numbers: ``airssys-wasm bench --compare --suite restart``.
"""

from __future__ import annotations

from airssys_wasm.benchmarks import suite
from airssys_wasm.runtime import ComponentId, Engine, EngineConfig
from airssys_wasm.benchmarks.restart import POOL, _wasm


def test_restart_suite_quick() -> None:
    rows = suite("restart").run(repeat=1, min_seconds=0.001)
    names = [row.name for row in rows]
    assert "restart, component, on-demand allocator" in names
    assert "restart, core module, pooling allocator" in names
    assert all(row.ours_ns > 0 and row.baseline_ns for row in rows)
    target = [row for row in rows if row.target]
    assert len(target) == 1 and target[0].baseline_ns == 10_000.0
    assert target[0].verdict in ("met", "missed")
    [supervised] = [row for row in rows if row.name.startswith("supervised restart")]
    # A cycle with a trap and a restart costs more than one without (its baseline).
    assert supervised.baseline_ns is not None and supervised.ours_ns > supervised.baseline_ns


def test_restarted_instances_serve_on_both_allocators() -> None:
    sender = ComponentId("bench")
    for config in (EngineConfig(), EngineConfig(pooling=POOL)):
        with Engine(config) as engine:
            component, core = engine.load(_wasm("echo")), engine.load(_wasm("core_actor"))
            for _ in range(3 * POOL.total_component_instances):  # more than the pool's slots
                for artifact in (component, core):
                    inst = artifact.instantiate()
                    assert inst.handle_message(sender, b"ping") is None
                    inst.close()
