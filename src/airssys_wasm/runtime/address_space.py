"""What the kernel lets this process map: the address space a pooling allocator reserves up
front, and the memory mappings (VMAs) every live instance holds.

Two limits decide how many instances a process can hold, and neither is memory:

* **Address space.** The pooling allocator reserves all its slots when the Engine is made: a
  linear-memory slot is wasmtime's 4 GiB memory reservation plus a 32 MiB guard region, so
  30,000 memory slots are ~118 TiB of the 128 TiB a process has. libwasmtime's engine
  constructor *aborts the process* (a Rust panic across the C API) when one of its pool
  mappings fails, so the Engine checks first (``check_pool``) and refuses with ConfigError.
* **Mappings.** Linux caps a process at ``vm.max_map_count`` mappings (65,530 by default). On
  the default on-demand allocator a live component instance holds ~6 (its memory reservation
  split by the accessible pages and the copy-on-write image, its fiber stack and guard page),
  so ~10,900 instances fit; a pooled fiber stack holds 2 from the moment the pool exists. Past
  the cap the kernel answers ENOMEM, which ``enomem_hint`` turns into advice.

The constants are wasmtime 50's defaults, which the engine does not change (the package pins
wasmtime; BENCHMARKS.md, "Spawn, round 4", has the strace of each mapping).
"""

from __future__ import annotations

import mmap
from typing import TYPE_CHECKING

from airssys_wasm.errors import ConfigError

if TYPE_CHECKING:
    from airssys_wasm.runtime.engine import PoolingConfig

__all__ = ["MEMORY_RESERVATION", "check_pool", "enomem_hint", "mappings"]

#: Bytes of address space wasmtime reserves for one linear memory (its memory reservation) and
#: the guard region after it (a pool has one more guard before its first slot).
MEMORY_RESERVATION = 4 * 1024 ** 3
MEMORY_GUARD = 32 * 1024 ** 2
#: A pooled table slot: wasmtime's default 20,000 elements of 8 bytes, rounded up to 4 KiB pages.
TABLE_SLOT = 163_840
PAGE = 4096
#: Mappings left free for everything else the process maps after the Engine (threads' stacks,
#: malloc arenas, loaded extensions, the pool's own slots as they are first used).
MAPPINGS_HEADROOM = 4096
#: Mappings per live instance on the on-demand allocator (measured: 5.95 per component).
MAPPINGS_PER_INSTANCE = 6


def _size(n: int) -> str:
    for unit, scale in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} bytes"


def mappings() -> tuple[int, int] | None:
    """(mappings this process holds, ``vm.max_map_count``), or None where /proc cannot say."""
    try:
        with open("/proc/sys/vm/max_map_count", "rb") as f:
            limit = int(f.read())
        with open("/proc/self/maps", "rb") as f:
            in_use = sum(1 for _ in f)
    except (OSError, ValueError):
        return None
    return in_use, limit


def check_pool(pool: PoolingConfig, stack_bytes: int) -> None:
    """ConfigError if the pool's regions cannot all be reserved at once in this process, or its
    fiber stacks would take the mappings the rest of the process needs. Probes with PROT_NONE
    reservations of the same sizes, held together and released before wasmtime maps its own."""
    stack_slot = -(-stack_bytes // PAGE) * PAGE + PAGE  # each stack has one guard page
    regions = (
        ("total_memories", pool.total_memories, MEMORY_RESERVATION + MEMORY_GUARD, MEMORY_GUARD),
        ("total_tables", pool.total_tables, TABLE_SLOT, 0),
        ("total_stacks", pool.total_stacks, stack_slot, 0),
    )
    held: list[mmap.mmap] = []
    try:
        for field, count, slot, extra in regions:
            if not count:
                continue
            size = count * slot + extra
            try:
                held.append(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                                      prot=0))
            except (OSError, OverflowError) as exc:
                raise ConfigError(
                    f"EngineConfig.pooling.{field}={count:,} reserves {_size(size)} of address "
                    f"space up front ({_size(slot)} per slot) and this process cannot reserve "
                    f"it ({exc}); lower {field}, or leave pooling off (the on-demand allocator "
                    "reserves per live instance)") from None
    finally:
        for region in held:
            region.close()
    known = mappings()
    if known is not None:
        in_use, limit = known
        need = 2 * pool.total_stacks  # the guard page of every pooled stack splits the mapping
        # The bound suggested below keeps 64 stacks (128 mappings) spare: a retry runs in a
        # process that has mapped a little more by then (another thread, another import).
        if in_use + need + MAPPINGS_HEADROOM > limit:
            raise ConfigError(
                f"EngineConfig.pooling.total_stacks={pool.total_stacks:,} needs {need:,} memory "
                f"mappings (2 per fiber stack) and this process has {limit - in_use:,} left of "
                f"vm.max_map_count={limit:,}; lower total_stacks to at most "
                f"{max(0, (limit - in_use - MAPPINGS_HEADROOM) // 2 - 64):,}, or raise the kernel "
                "limit (sysctl -w vm.max_map_count=...)")


def enomem_hint() -> str:
    """What to do about an instantiation the kernel refused with ENOMEM: out of mappings (the
    common case with thousands of live instances) or out of memory / address space."""
    known = mappings()
    if known is not None:
        in_use, limit = known
        if in_use + MAPPINGS_HEADROOM // 4 >= limit:
            return (f"this process holds {in_use:,} memory mappings of vm.max_map_count="
                    f"{limit:,} and a live instance takes ~{MAPPINGS_PER_INSTANCE} on the "
                    f"default allocator (~{limit // MAPPINGS_PER_INSTANCE:,} instances fit): "
                    "stop unused components, or raise the kernel limit "
                    "(sysctl -w vm.max_map_count=...)")
    return ("the system is out of memory or this process out of address space: stop unused "
            "components or lower their [limits] memory")
