"""What the kernel lets a process map: pool sizes libwasmtime would abort the process on are
refused with ConfigError before the Engine exists, and an instantiation refused for want of
memory mappings (``vm.max_map_count``) says so instead of blaming the component's imports.

The refusals run in a child process: if the check ever let a bad pool through, libwasmtime's
engine constructor would abort that child (SIGABRT), not the test run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from airssys_wasm.errors import ConfigError
from airssys_wasm.runtime import Engine, EngineConfig, PoolingConfig
from airssys_wasm.runtime.address_space import mappings


def _child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def _engine_outcome(**pool: int) -> str:
    """What making an Engine with these pool slots did in a fresh process: ``made``, or the
    ConfigError's message; asserts the process did not die."""
    done = _child(f"""
        from airssys_wasm.errors import ConfigError
        from airssys_wasm.runtime import Engine, EngineConfig, PoolingConfig
        try:
            Engine(EngineConfig(pooling=PoolingConfig(**{pool!r}))).close()
            print("made")
        except ConfigError as exc:
            print("ConfigError:", exc)
        """)
    assert done.returncode == 0, f"the child died ({done.returncode}): {done.stderr[-600:]}"
    return done.stdout.strip()


@pytest.mark.parametrize("field, value", [
    ("total_memories", -1), ("total_stacks", True), ("total_core_instances", 2 ** 64),
    ("table_keep_resident", 1.5), ("max_memory_size", 2 ** 40), ("total_tables", "10"),
])
def test_pool_slots_outside_what_the_c_api_takes_are_config_errors(field, value) -> None:
    with pytest.raises(ConfigError, match=f"PoolingConfig.{field}="):
        PoolingConfig(**{field: value})


def test_a_pool_larger_than_the_address_space_is_refused_and_the_process_lives() -> None:
    # 40,000 memory slots of 4 GiB + 32 MiB: ~157 TiB of a process's 128 TiB.
    out = _engine_outcome(total_memories=40_000)
    assert out.startswith("ConfigError: EngineConfig.pooling.total_memories=40,000 reserves "
                          "157.5 TiB"), out
    assert "lower total_memories" in out
    tables = _engine_outcome(total_tables=1_000_000_000)
    assert "EngineConfig.pooling.total_tables=1,000,000,000" in tables, tables


@pytest.mark.skipif(mappings() is None, reason="needs /proc to count memory mappings")
def test_pooled_stacks_beyond_the_mapping_limit_are_refused_and_a_fitting_pool_is_made() -> None:
    in_use, limit = mappings() or (0, 0)
    too_many = limit // 2 + 1  # two mappings per pooled stack: more than the process may hold
    out = _engine_outcome(total_stacks=too_many, total_component_instances=10,
                          total_memories=10, total_tables=10)
    assert out.startswith(f"ConfigError: EngineConfig.pooling.total_stacks={too_many:,} needs "
                          f"{2 * too_many:,} memory mappings"), out
    assert "vm.max_map_count" in out and "lower total_stacks to at most" in out
    # The bound the message gives is one the pool can have.
    found = re.search(r"lower total_stacks to at most ([\d,]+),", out)
    assert found is not None, out
    bound = int(found.group(1).replace(",", ""))
    assert 0 < bound < too_many
    assert _engine_outcome(total_stacks=bound, total_component_instances=10, total_memories=10,
                           total_tables=10) == "made"


def test_an_ordinary_pool_is_still_made_in_this_process() -> None:
    with Engine(EngineConfig(pooling=PoolingConfig(total_component_instances=4,
                                                   total_core_instances=16, total_memories=4,
                                                   total_tables=8, total_stacks=4))) as engine:
        assert engine.config.pooling is not None


@pytest.mark.skipif(mappings() is None, reason="needs /proc to count memory mappings")
def test_an_instantiation_without_mappings_left_says_so_and_the_next_one_works() -> None:
    # Take almost every mapping the kernel allows with one-page reservations of alternating
    # protection (so that neighbours cannot merge), then instantiate: on the default allocator
    # each live instance needs ~6 mappings.
    done = _child("""
        import mmap
        from pathlib import Path
        from airssys_wasm.errors import ConfigError
        from airssys_wasm.runtime import Engine
        from airssys_wasm.runtime.address_space import mappings

        echo = Path(ECHO)
        engine = Engine()
        artifact = engine.load(echo)
        artifact.instantiate().close()  # the engine's own threads and caches are made now
        filler = []
        while True:
            in_use, limit = mappings()
            if in_use >= limit - 8:
                break
            for i in range(min(4096, limit - 8 - in_use)):
                prot = mmap.PROT_READ if i % 2 else mmap.PROT_READ | mmap.PROT_WRITE
                filler.append(mmap.mmap(-1, 4096, prot=prot))
        refused, kept = None, []
        for _ in range(8):
            try:
                kept.append(artifact.instantiate())
            except ConfigError as exc:
                refused = exc
                break
        for region in filler:
            region.close()
        again = artifact.instantiate()
        print("refused:", refused)
        print("after:", again.metadata().name)
        """.replace("ECHO", repr(str(_echo()))))
    assert done.returncode == 0, done.stderr[-800:]
    refused, after = done.stdout.strip().splitlines()[-2:]
    assert refused.startswith("refused: echo: the kernel refused memory for a new instance "), \
        refused
    assert "vm.max_map_count" in refused and "stop unused components" in refused, refused
    assert "missing imports" not in refused
    assert after.startswith("after: "), after


def _echo():
    from airssys_wasm.benchmarks import guests

    return guests.path("echo")
