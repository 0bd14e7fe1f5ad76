"""The one place the runtime reaches into wasmtime-py internals.

wasmtime-py 50 does not expose the pooling instance allocator or the concurrency switch on
``Config``; its ctypes layer (``wasmtime._ffi``) does. Private attributes can change in any
wasmtime-py release, which is why ``wasmtime`` is pinned exactly and why every such access
lives here (the fast call path's own handle access lives in ``_fast/handles.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import wasmtime
from wasmtime import _ffi as ffi  # private module: see module docstring

__all__ = ["PoolingConfig", "apply_pooling", "disable_concurrency", "wasmtime_version"]


def wasmtime_version() -> str:
    """Version of the installed wasmtime-py (it ships the matching libwasmtime)."""
    return metadata.version("wasmtime")


@dataclass(frozen=True, slots=True)
class PoolingConfig:
    """Pre-reserved slots for the pooling allocator (bounded address space, faster instantiate)."""

    total_component_instances: int = 1000
    total_core_instances: int = 2000
    total_memories: int = 1000
    total_tables: int = 1000
    max_memory_size: int = 64 * 1024 * 1024
    max_core_instances_per_component: int = 16
    max_memories_per_component: int = 4
    max_tables_per_component: int = 8


def apply_pooling(config: wasmtime.Config, pool: PoolingConfig) -> None:
    """Switch ``config`` to the pooling allocator with ``pool``'s slot counts."""
    p = ffi.wasmtime_pooling_allocation_config_new()
    try:
        ffi.wasmtime_pooling_allocation_config_total_component_instances_set(p, pool.total_component_instances)
        ffi.wasmtime_pooling_allocation_config_total_core_instances_set(p, pool.total_core_instances)
        ffi.wasmtime_pooling_allocation_config_total_memories_set(p, pool.total_memories)
        ffi.wasmtime_pooling_allocation_config_total_tables_set(p, pool.total_tables)
        ffi.wasmtime_pooling_allocation_config_max_memory_size_set(p, pool.max_memory_size)
        ffi.wasmtime_pooling_allocation_config_max_core_instances_per_component_set(
            p, pool.max_core_instances_per_component)
        ffi.wasmtime_pooling_allocation_config_max_memories_per_component_set(
            p, pool.max_memories_per_component)
        ffi.wasmtime_pooling_allocation_config_max_tables_per_component_set(
            p, pool.max_tables_per_component)
        ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), p)
    finally:
        ffi.wasmtime_pooling_allocation_config_delete(p)


def disable_concurrency(config: wasmtime.Config) -> None:
    """Turn off wasmtime's component-model concurrency support (async tasks, streams, futures).

    Synchronous components do not need it, and with it on every component call creates and
    deletes guest-task records in the Store's resource table.
    """
    ffi.wasmtime_config_concurrency_support_set(config.ptr(), False)
