"""pytest-benchmark: the fast call path vs wasmtime-py on the same guests.

Run: ``python -m pytest benches/test_bench_fast.py --benchmark-enable``. Each case has a
``fast`` and a ``wasmtime_py`` variant in the same group, so the report compares them directly.
Every benchmarked call also asserts its result, so a broken path cannot post a good number.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fast_setup import SENDER, Guests  # noqa: E402

SMALL = b"x" * 16
BIG = bytes(range(256)) * 16
LOG_BATCH = 100


@pytest.fixture(scope="module")
def g() -> Guests:
    return Guests()


@pytest.mark.benchmark(group="component add(u32,u32)")
def test_add_fast(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.fast_add, 1, 2) == 3


@pytest.mark.benchmark(group="component add(u32,u32)")
def test_add_wasmtime_py(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.slow_add) == 3


@pytest.mark.benchmark(group="handle-message 16 B")
def test_handle_message_16_fast(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.fast_hm, SENDER, SMALL) == ("ok", None)


@pytest.mark.benchmark(group="handle-message 16 B")
def test_handle_message_16_wasmtime_py(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.slow_hm, SMALL) is None


@pytest.mark.benchmark(group="handle-message 4 KiB")
def test_handle_message_4k_fast(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.fast_hm, SENDER, BIG) == ("ok", None)


@pytest.mark.benchmark(group="handle-message 4 KiB")
def test_handle_message_4k_wasmtime_py(benchmark: Any, g: Guests) -> None:
    assert benchmark.pedantic(g.slow_hm, args=(BIG,), rounds=10, iterations=1) is None


@pytest.mark.benchmark(group=f"guest->host log x{LOG_BATCH}")
def test_guest_to_host_log_fast(benchmark: Any, g: Guests) -> None:
    before = g.logged
    benchmark(g.fast_log_loop, LOG_BATCH)
    assert g.logged > before and (g.logged - before) % LOG_BATCH == 0


@pytest.mark.benchmark(group=f"guest->host log x{LOG_BATCH}")
def test_guest_to_host_log_wasmtime_py(benchmark: Any, g: Guests) -> None:
    before = g.logged
    benchmark.pedantic(g.slow_log_loop, args=(LOG_BATCH,), rounds=10, iterations=1)
    assert g.logged > before and (g.logged - before) % LOG_BATCH == 0


@pytest.mark.benchmark(group="core-ABI lane 16 B")
def test_core_lane_16_fast(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.lane.handle, b"producer", SMALL) == 0


@pytest.mark.benchmark(group="core-ABI lane 16 B")
def test_core_lane_16_wasmtime_py(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.slow_lane, b"producer", SMALL) == 0


@pytest.mark.benchmark(group="core-ABI lane 4 KiB")
def test_core_lane_4k_fast(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.lane.handle, b"producer", BIG) == 0


@pytest.mark.benchmark(group="core-ABI lane 4 KiB")
def test_core_lane_4k_wasmtime_py(benchmark: Any, g: Guests) -> None:
    assert benchmark(g.slow_lane, b"producer", BIG) == 0
