"""Runtime benchmarks: compile, cache load, Store+instantiate, and one call on each lane.

Run: python -m pytest benches/test_bench_runtime.py --benchmark-enable -q
RSS per instance (1,000 live instances) is measured by benches/compare_runtime.py, which also
prints the side-by-side ratios against bare wasmtime-py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from airssys_wasm.runtime import ComponentId, Engine, EngineConfig, Limits, PoolingConfig
from airssys_wasm.benchmarks import guests

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "wat"
ECHO = bytes(wasmtime.wat2wasm((guests.path("echo")).read_text()))
CORE = bytes(wasmtime.wat2wasm((guests.path("core_actor")).read_text()))
SENDER = ComponentId("bench")


@pytest.fixture(scope="module")
def engine():
    with Engine() as eng:
        yield eng


@pytest.fixture(scope="module")
def pooled():
    pool = PoolingConfig(total_component_instances=64, total_core_instances=512,
                         total_memories=128, total_tables=256)
    with Engine(EngineConfig(pooling=pool)) as eng:
        yield eng


def test_compile_component(benchmark, engine) -> None:
    benchmark(engine.load, ECHO)


def test_cache_load_component(benchmark, tmp_path) -> None:
    Engine(EngineConfig(cache_dir=tmp_path, epoch_interruption=False)).load(ECHO)

    def load():
        # A fresh engine each time would dominate; reuse one and count only the cache path.
        return warm.load(ECHO)

    warm = Engine(EngineConfig(cache_dir=tmp_path, epoch_interruption=False))
    benchmark(load)
    assert warm.cache.stats.misses == 0


def test_instantiate_component(benchmark, engine) -> None:
    artifact = engine.load(ECHO)
    benchmark(lambda: artifact.instantiate().close())


def test_instantiate_component_pooling(benchmark, pooled) -> None:
    artifact = pooled.load(ECHO)
    benchmark(lambda: artifact.instantiate().close())


def test_instantiate_core(benchmark, engine) -> None:
    artifact = engine.load(CORE)
    benchmark(lambda: artifact.instantiate().close())


@pytest.mark.parametrize("size", [16, 256])
def test_handle_message_component(benchmark, engine, size: int) -> None:
    inst = engine.load(ECHO).instantiate()
    benchmark(inst.handle_message, SENDER, b"x" * size)


@pytest.mark.parametrize("size", [16, 4096, 65536])
def test_handle_message_core(benchmark, engine, size: int) -> None:
    inst = engine.load(CORE).instantiate(Limits())
    benchmark(inst.handle_message, SENDER, b"x" * size)
