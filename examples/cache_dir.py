"""The compile cache: ``EngineConfig(cache_dir=...)`` keeps compiled components on disk, so a
restarted process loads them without compiling again.

Run: python examples/cache_dir.py

The first engine compiles ``echo.wat`` (a miss, written to the cache); a second engine, as
after a process restart, loads it from disk (a hit) and a Host runs it. Cache entries are
checked (checksum, wasmtime version, engine settings) and rebuilt when they do not match.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.benchmarks import guests

WAT = Path(__file__).resolve().parent / "wat"


async def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as cache_dir:
        with aw.Engine(aw.EngineConfig(cache_dir=cache_dir)) as first:
            started = time.perf_counter()
            first.load(guests.path("echo"))
            compiled = time.perf_counter() - started
            assert first.cache is not None  # an engine has a cache only with a cache_dir
            assert (first.cache.stats.misses, first.cache.stats.hits) == (1, 0)
        print(f"first engine: compiled in {compiled * 1000:.1f} ms, "
              f"cache files: {sorted(p.suffix for p in Path(cache_dir).iterdir())}")

        with aw.Engine(aw.EngineConfig(cache_dir=cache_dir)) as second:    # "after a restart"
            async with aw.Host(aw.HostConfig(name="cached"), engine=second) as host:
                started = time.perf_counter()
                await host.spawn("echo", guests.path("echo"), manifest=WAT / "echo.toml")
                loaded = time.perf_counter() - started
                await host.send("echo", mc.encode(mc.Codec.RAW, b"hello"))
                assert await host.request("echo", b"last") == mc.encode(mc.Codec.RAW, b"hello")
            assert second.cache is not None
            stats = second.cache.stats
            print(f"second engine: spawned from the cache in {loaded * 1000:.1f} ms "
                  f"(hits={stats.hits}, misses={stats.misses})")
            assert (stats.hits, stats.misses) == (1, 0)
            return {"hits": stats.hits, "misses": stats.misses}


if __name__ == "__main__":
    asyncio.run(main())
