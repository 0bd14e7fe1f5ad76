"""Spawning: loading through the cache, manifests, validation errors, names, the directory
guests see, and many components in one host."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from host_helpers import ECHO, MINIMAL, PINGPONG, PLAIN, eventually, u32

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.runtime import EngineConfig, Limits, PoolingConfig
from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.timing import loop_gaps


async def test_spawn_compiles_each_source_once(host) -> None:
    await host.spawn("a", PINGPONG)
    await host.spawn("b", str(PINGPONG))
    await host.spawn("c", PINGPONG.read_text())
    assert host.load(PINGPONG) is host.registry.get("a").artifact
    assert host.registry.get("a").artifact is host.registry.get("b").artifact
    assert host.load(PINGPONG.read_text()) is host.registry.get("c").artifact


async def test_a_refused_instantiation_names_the_component_not_the_shared_artifact() -> None:
    # Both components run the artifact compiled for the first; the pool has room for one
    # instance, so the second's Store is refused before any guest call: the error names it.
    pool = PoolingConfig(total_component_instances=1, total_core_instances=8,
                            total_memories=2, total_tables=8, total_stacks=2,
                            max_memory_size=4 * 1024 * 1024)
    config = HostConfig(health=None, limits=Limits(memory_bytes=4 * 1024 * 1024),
                        engine=EngineConfig(pooling=pool))
    async with Host(config) as host:
        await host.spawn("first", PINGPONG)
        with pytest.raises(aw.ConfigError, match=r"^second: the engine's instance pool is full"):
            await host.spawn("second", PINGPONG)
        assert host.registry.get("first").artifact is host.load(PINGPONG)
        assert "second" not in host.registry


async def test_spawn_goes_through_the_engine_disk_cache(tmp_path) -> None:
    config = HostConfig(health=None, engine=EngineConfig(cache_dir=tmp_path))
    async with Host(config) as host:
        await host.spawn("pp", PINGPONG)
        assert host.engine.cache is not None and host.engine.cache.stats.misses == 1
    async with Host(config) as host:
        await host.spawn("pp", PINGPONG)
        assert host.engine.cache is not None and host.engine.cache.stats.hits == 1
        assert await host.request("pp", b"ini?") == b"\x01\x00\x00\x00"


async def test_manifest_sets_version_and_limits(host, tmp_path) -> None:
    manifest = tmp_path / "Component.toml"
    manifest.write_text('[component]\nname = "pp"\nversion = "0.3.1"\n\n[limits]\ntimeout_ms = 20\n')
    ref = await host.spawn("pp", PINGPONG, manifest=manifest)
    assert ref.component_id.version == "0.3.1"
    assert host.registry.get("pp").limits.timeout_ms == 20
    with pytest.raises(aw.TrapError) as info:
        await host.request("pp", b"loop", timeout=2.0)
    assert info.value.kind is aw.TrapKind.TIMEOUT
    # explicit limits win over the manifest's
    await host.spawn("qq", PINGPONG, manifest=manifest, limits=Limits(timeout_ms=500))
    assert host.registry.get("qq").limits.timeout_ms == 500


async def test_bad_manifests_are_manifest_errors(host) -> None:
    with pytest.raises(aw.ManifestError, match="not valid TOML"):
        await host.spawn("pp", PINGPONG, manifest="[limits\n")
    with pytest.raises(aw.ManifestError, match="unknown key"):
        await host.spawn("pp", PINGPONG, manifest={"limits": {"speed": 3}})
    with pytest.raises(aw.ManifestError, match="cannot read"):
        await host.spawn("pp", PINGPONG, manifest="/nonexistent/Component.toml")
    assert host.names() == []


async def test_invalid_components_fail_to_spawn_and_leave_no_trace(host) -> None:
    with pytest.raises(aw.LoadError):
        await host.spawn("bad", b"\0asm\x01\x00\x00\x00garbage")
    with pytest.raises(aw.LoadError, match="handle-message"):
        await host.spawn("bad", ECHO.parent / "no-handle-message.wat")
    with pytest.raises(aw.LoadError):
        await host.spawn("bad", "/nonexistent/thing.wasm")
    assert host.names() == [] and "bad" not in host.router
    await host.spawn("bad", MINIMAL)  # the name was never taken


async def test_names_are_unique_and_well_formed(host) -> None:
    await host.spawn("pp", PINGPONG)
    with pytest.raises(aw.ConfigError, match="already taken"):
        await host.spawn("pp", MINIMAL)
    for bad in ("", "a/b", "x@1", " pad"):
        with pytest.raises(aw.ConfigError):
            await host.spawn(bad, MINIMAL)
    await host.supervisor("sup")
    with pytest.raises(aw.ConfigError, match="already taken"):
        await host.spawn("sup", MINIMAL)


async def test_guests_see_the_directory_of_components(host) -> None:
    await host.spawn("echo", ECHO)
    await host.spawn("pp", PINGPONG)
    await host.spawn("min", MINIMAL)
    assert u32(await host.request("echo", b"list")) == 3
    assert await host.request("echo", b"meta:pp") == b"pingpong"  # pp's own metadata()
    assert await host.request("echo", b"meta:min") == b"min"  # no metadata export: its name
    assert await host.request("echo", b"meta:ghost") == b"none"


async def test_spawning_needs_a_running_host(engine) -> None:
    host = Host(HostConfig(health=None), engine=engine)
    with pytest.raises(aw.ActorStateError, match="not running"):
        await host.spawn("pp", PINGPONG)
    await host.start()
    await host.close()
    with pytest.raises(aw.ActorStateError):
        await host.spawn("pp", PINGPONG)


COUNT = int(os.environ.get("AIRSSYS_HOST_SPAWN_COUNT", "1000"))


async def test_many_components_in_one_host(engine) -> None:
    """COUNT (1,000 in CI; the 10,000 run is benches/compare_host.py --spawn) minimal
    components, each with its own Store, mailbox and supervision, each reached by name."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        for i in range(COUNT):
            await host.spawn(f"c{i}", MINIMAL)
        assert len(host.names()) == COUNT and len(host.router) == COUNT
        for i in range(COUNT):
            host.try_send(f"c{i}", PLAIN)
        refs = [host.ref(f"c{i}") for i in range(COUNT)]
        await eventually(lambda: all(r.stats.messages_out == 1 for r in refs), "every delivery")
        assert all(r.stats.failures == 0 for r in refs)


def test_spawn_and_upgrade_signatures_say_what_the_defaults_mean() -> None:
    import inspect

    spawn, upgrade = str(inspect.signature(Host.spawn)), str(inspect.signature(Host.upgrade))
    assert "health: 'HealthCheck | None | Literal[Default.HOST_CONFIG]' = Default.HOST_CONFIG" \
        in spawn
    assert "config: 'ComponentConfig | None | Literal[Default.KEEP]' = Default.KEEP" in upgrade
    assert "object at 0x" not in spawn + upgrade


async def test_spawn_health_default_is_the_host_config_and_none_turns_probing_off(engine) -> None:
    from airssys_wasm.actor import HealthCheck, HealthEvent
    from airssys_wasm.host import Default

    probed: list[str] = []
    config = HostConfig(health=HealthCheck(interval=0.01, timeout=0.5))
    async with Host(config, engine=engine) as host:
        host.add_listener(lambda e: probed.append(e.actor) if isinstance(e, HealthEvent) else None)
        await host.spawn("default", PINGPONG)
        await host.spawn("explicit", PINGPONG, health=Default.HOST_CONFIG)
        await host.spawn("off", PINGPONG, health=None)
        # Five probes of the first one: several intervals in which "off" would have been probed.
        await eventually(lambda: probed.count("default") >= 5 and "explicit" in probed)
        assert "off" not in probed


def big_guest(functions: int = 800) -> bytes:
    """The minimal guest, a few hundred milliseconds of Cranelift on this machine kind."""
    return guests.padded(MINIMAL, functions)


async def test_a_first_compile_does_not_stall_the_components_already_running() -> None:
    """A spawn's compile runs in a worker thread: the loop (every running component, a lattice
    node's heartbeats) keeps its turns. The longest gap between two of a ticker's turns while
    a big guest compiles stays far below the compile itself, which would be one gap on the
    loop."""
    big = big_guest()
    with aw.Engine(EngineConfig(epoch_interruption=True)) as scratch:
        started = time.perf_counter()
        scratch.load(big)
        compile_s = time.perf_counter() - started
    async with Host(HostConfig(health=None)) as host:
        await host.spawn("pp", PINGPONG)
        answered = 0
        async with loop_gaps() as gaps:
            spawning = asyncio.create_task(host.spawn("big", big))
            while not spawning.done():
                await host.send("pp", PLAIN)
                answered += 1
                await asyncio.sleep(0.002)
            await spawning
        assert host.ref("big").state is aw.actor.ActorState.RUNNING
        assert max(gaps) < compile_s / 3, (max(gaps), compile_s)
        assert answered >= 5  # pp took messages the whole time
        await eventually(lambda: host.ref("pp").stats.messages_out == answered, "pp's messages")
        # Compiled once: the next spawn of the same bytes takes the host's artifact at once.
        assert host.load(big) is host.registry.get("big").artifact


async def test_concurrent_first_spawns_of_one_source_share_one_compile(tmp_path) -> None:
    big = big_guest(300)
    config = EngineConfig(epoch_interruption=True, cache_dir=tmp_path)
    async with Host(HostConfig(health=None, engine=config)) as host:
        refs = await asyncio.gather(*(host.spawn(f"c{i}", big) for i in range(4)))
        assert len({id(host.registry.get(r.name).artifact) for r in refs}) == 1
        stats = host.engine.cache.stats
        assert (stats.misses, stats.hits) == (1, 0)  # one compile, not four


async def test_a_name_taken_while_its_source_compiled_is_refused() -> None:
    async with Host(HostConfig(health=None)) as host:
        host.load(PINGPONG)  # compiled already: its spawn takes the name without waiting
        slow = asyncio.create_task(host.spawn("dup", big_guest(300)))
        await asyncio.sleep(0)  # its compile started
        await host.spawn("dup", PINGPONG)
        with pytest.raises(aw.ConfigError, match="was taken in this host while its source"):
            await slow
        assert host.registry.get("dup").artifact is host.load(PINGPONG)


async def test_a_bad_source_fails_its_spawn_off_the_loop_too() -> None:
    async with Host(HostConfig(health=None)) as host:
        for _ in range(2):  # a failed compile is not kept: the next spawn reports it again
            with pytest.raises(aw.LoadError, match="not a valid WebAssembly"):
                await host.spawn("bad", b"\x00asm\x01\x00\x00\x00\xff")
        assert "bad" not in host.registry
