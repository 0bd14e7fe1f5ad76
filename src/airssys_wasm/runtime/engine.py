"""The shared wasmtime Engine of a host, with its configuration and its single epoch ticker.

One Engine serves every component of a host: compiled artifacts can only be instantiated in the
engine that compiled them, and epoch interruption needs exactly one clock. The ticker is one C
thread per Engine (never one per component; a Python thread would cost a GIL round trip per
tick) that bumps the epoch every half ``time_slice_us``. Epoch deadlines do not trap: they make
the guest *yield* (its call suspends and the actor scheduler resumes it after others had their
turn); wall-clock deadlines are checked at each yield.

Every guest call runs on a fiber of ``async_stack_bytes``: the guest's wasm stack
(``max_wasm_stack``, 512 KiB by default) plus the host functions that run on the fiber
(C trampolines and the small Python callables behind them; see ``async_stack_bytes``).
"""

from __future__ import annotations

import json
import math
import os
import weakref
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import wasmtime

from airssys_wasm._fast.fastcall import EpochTicker, StoreMaker
from airssys_wasm._fast.handles import apply_pooling, disable_concurrency, set_async_stack_size
from airssys_wasm.errors import ConfigError
from airssys_wasm.runtime.address_space import MEMORY_RESERVATION, check_pool
from airssys_wasm.runtime.cache import ArtifactCache

if TYPE_CHECKING:
    from airssys_wasm.runtime.artifact import Artifact
    from airssys_wasm.runtime.loader import CompiledSource, Source

__all__ = ["Engine", "EngineConfig", "PoolingConfig"]

OptLevel = Literal["none", "speed", "speed_and_size"]


#: wasmtime's wasm stack per call when ``EngineConfig.max_wasm_stack`` is None.
_DEFAULT_WASM_STACK = 512 * 1024
#: The largest fiber stack: every live instance keeps one mapped (a Store caches its fiber
#: stack), and wasmtime takes the size as a C size_t it aborts the process on when unusable.
_MAX_STACK = 1024 ** 3


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
    #: Fiber stacks kept by the pool: one per guest call in flight, i.e. per suspended actor.
    total_stacks: int = 1000
    #: Bytes of a freed slot (linear memory, fiber stack, table) reset with ``memset`` and kept
    #: resident instead of returned to the kernel with ``madvise``: a restart of a small guest
    #: then makes no syscall at all (component restart 25 -> 19 us CPU, measured in the restart
    #: suite's setting). Costs up to this much RSS per idle slot of each kind; 0 is wasmtime's
    #: default (always ``madvise``).
    linear_memory_keep_resident: int = 64 * 1024
    async_stack_keep_resident: int = 64 * 1024
    table_keep_resident: int = 64 * 1024

    def __post_init__(self) -> None:
        # libwasmtime takes these as C integers and aborts the process on values it cannot
        # use: ctypes would wrap a negative or too-large count silently (2**64 slots -> 0).
        for field in fields(self):
            value = getattr(self, field.name)
            bytes_field = field.name.endswith(("_size", "_resident"))
            top = 2 ** 63 - 1 if bytes_field else 2 ** 32 - 1
            if type(value) is not int or not 0 <= value <= top:
                raise ConfigError(f"PoolingConfig.{field.name}={value!r} must be an integer from "
                                  f"0 to {top:,}" + (" (bytes)" if bytes_field else " (slots)"))
        if self.max_memory_size > MEMORY_RESERVATION:
            raise ConfigError(f"PoolingConfig.max_memory_size={self.max_memory_size:,} exceeds the "
                              f"{MEMORY_RESERVATION:,}-byte memory reservation of every pool slot; "
                              "a 32-bit linear memory needs at most that")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine-wide settings. Fields that change generated code are part of the cache key."""

    #: Meter instructions, so ``Limits.fuel`` can bound them (costs some speed; off by default).
    consume_fuel: bool = False
    #: Epoch interruption: how wall-clock timeouts and time slices are enforced. Turning it off
    #: means no guest call can be interrupted.
    epoch_interruption: bool = True
    #: The default time slice: a guest computing this long yields to other actors. Epochs tick
    #: every half slice and a call yields at its second tick, so a slice lasts 1/2..1 of this.
    time_slice_us: int = 500
    #: Cranelift optimisation level ("none", "speed", "speed_and_size").
    opt_level: OptLevel = "speed"
    #: Compile functions on several threads: much faster for large components.
    parallel_compilation: bool = True
    #: Wasm stack per call, engine-wide in wasmtime (None = wasmtime's default, 512 KiB).
    max_wasm_stack: int | None = None
    #: Fiber stack per call in flight: the wasm stack plus room for the host functions, which
    #: run on the fiber (trampolines and the small Python callables behind them; deep Python
    #: recursion there would kill the process instead of raising RecursionError, so host
    #: functions hand real work to the loop). The 1.5 MiB above the default wasm stack covers
    #: a guest at its stack limit calling the host; measured, every host function of the test
    #: suite's guests also ran on a 513 KiB fiber. At least 256 KiB above the wasm stack.
    async_stack_bytes: int = 2 * 1024 * 1024
    #: Directory of the compiled-artifact cache; None disables it.
    cache_dir: str | os.PathLike[str] | None = None
    #: Use the pooling allocator (bounded address space, faster Store setup) with these slots.
    #: Off by default, measured (BENCHMARKS.md, restart suite): pooling halves a restart (small
    #: component 17 vs 53 us; on-demand pays 3 mmap + 2 munmap + 2 mprotect per Store for the
    #: linear memory and the call fiber's stack, pooling with keep-resident slots none), but each
    #: memory slot reserves ~4 GiB of address space up front (1,000 slots: 4 TiB; 10,000:
    #: 40 TiB of the 128 TiB user space) and the slots cap concurrency: instance 1,001 fails
    #: with "maximum concurrent limit". A host that must spawn 10k actors on the default config
    #: cannot have either, so pooling is for hosts that know their actor count and restart
    #: often (supervisors of crash-prone guests); size ``total_component_instances``,
    #: ``total_memories`` and ``total_stacks`` to the live actors plus restarts in flight.
    #: The Engine checks that this process can map the pool before making it (see
    #: ``runtime.address_space``): ~30,000 memory slots fill the address space, ~32,000 stacks
    #: the kernel's default mapping limit.
    pooling: PoolingConfig | None = None
    #: Largest .wasm/.wat input accepted by load().
    max_source_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.opt_level not in ("none", "speed", "speed_and_size"):
            raise ConfigError(f"opt_level {self.opt_level!r} is not one of none, speed, speed_and_size")
        if not isinstance(self.time_slice_us, int) or not 50 <= self.time_slice_us <= 1_000_000:
            raise ConfigError(f"time_slice_us={self.time_slice_us!r} must be an integer from 50 "
                              "to 1_000_000 (microseconds)")
        for name, value, top, why in (
                ("max_wasm_stack", self.wasm_stack, _MAX_STACK - 256 * 1024, ""),
                ("async_stack_bytes", self.async_stack_bytes, _MAX_STACK,
                 " (each live instance maps a fiber stack of this size)"),
                ("max_source_bytes", self.max_source_bytes, 2 ** 63 - 1, "")):
            if type(value) is not int or value > top:
                raise ConfigError(f"{name}={value!r} must be an integer of at most {top:,} "
                                  f"bytes{why}")
        wasm_stack = self.wasm_stack
        if self.async_stack_bytes < wasm_stack + 256 * 1024:
            raise ConfigError(f"async_stack_bytes={self.async_stack_bytes} must exceed the wasm "
                              f"stack ({wasm_stack} bytes) by at least 256 KiB: host functions "
                              "run on the same fiber")
        if self.max_wasm_stack is not None and self.max_wasm_stack < 64 * 1024:
            raise ConfigError(f"max_wasm_stack={self.max_wasm_stack} is below 64 KiB; "
                              "guests could not run at all")
        if self.max_source_bytes <= 0:
            raise ConfigError("max_source_bytes must be positive")

    @property
    def wasm_stack(self) -> int:
        """The wasm stack every call gets: ``max_wasm_stack``, or wasmtime's 512 KiB default."""
        return self.max_wasm_stack or _DEFAULT_WASM_STACK

    def fingerprint(self) -> str:
        """Stable text of every setting that changes compiled code."""
        relevant = {
            "consume_fuel": self.consume_fuel,
            "epoch_interruption": self.epoch_interruption,
            "opt_level": self.opt_level,
            "max_wasm_stack": self.max_wasm_stack,
            "pooling": None if self.pooling is None else asdict(self.pooling),
            "async_stack_bytes": self.async_stack_bytes,
            "concurrency_support": False,
        }
        return json.dumps(relevant, sort_keys=True)

    def to_wasmtime(self) -> wasmtime.Config:
        """The ``wasmtime.Config`` these settings describe (component model on, pooling allocator
        and async stack as configured). An engine uses it once; exposed for tests and tools that
        build wasmtime objects compatible with the engine."""
        cfg = wasmtime.Config()
        cfg.wasm_component_model = True
        cfg.consume_fuel = self.consume_fuel
        cfg.epoch_interruption = self.epoch_interruption
        cfg.cranelift_opt_level = self.opt_level
        cfg.parallel_compilation = self.parallel_compilation
        if self.max_wasm_stack is not None:
            cfg.max_wasm_stack = self.max_wasm_stack
        set_async_stack_size(cfg, self.async_stack_bytes)
        if self.pooling is not None:
            apply_pooling(cfg, asdict(self.pooling))
        # The airssys world is synchronous; without the component-model async machinery
        # wasmtime skips its per-call task bookkeeping (~0.6 µs of a ~2 µs handle-message).
        disable_concurrency(cfg)
        return cfg


class Engine:
    """Compiles, caches and validates components; shared by every component of a host."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        if self.config.pooling is not None:  # wasmtime would abort the process instead
            check_pool(self.config.pooling, self.config.async_stack_bytes)
        self.wasm_engine = wasmtime.Engine(self.config.to_wasmtime())
        #: Makes the Stores of instances in C (a restart makes one per instance).
        self.stores = StoreMaker(self.wasm_engine)
        #: id(Limits) -> what those limits mean for this engine's Stores, computed by the
        #: runtime once per Limits object (runtime.instance); the entry holds the Limits.
        self.store_settings: dict[int, tuple[Any, ...]] = {}
        self.wasmtime_version = metadata.version("wasmtime")  # it ships the matching libwasmtime
        self.cache: ArtifactCache | None = None
        if self.config.cache_dir is not None:
            self.cache = ArtifactCache(Path(self.config.cache_dir),
                                       wasmtime_version=self.wasmtime_version,
                                       config_fingerprint=self.config.fingerprint())
        self._ticker = (EpochTicker(self.wasm_engine, self.tick_us)
                        if self.config.epoch_interruption else None)
        if self._ticker is not None:
            # At the latest when this Engine goes (or the interpreter exits): the C thread must
            # stop before the wasmtime engine it ticks can be freed.
            weakref.finalize(self, self._ticker.stop)
        self._closed = False

    def load(self, source: Source, *, name: str | None = None) -> Artifact:
        """Compile (or fetch from the cache) and validate ``source`` against the world.

        ``source``: .wasm/.wat path, wasm bytes, or WAT text. Raises LoadError on anything that
        is not a valid airssys component or core-ABI module.
        """
        from airssys_wasm.runtime.loader import load

        return load(self, source, name=name)

    def compile(self, source: Source, *, name: str | None = None) -> CompiledSource:
        """Compile (or fetch from the cache) ``source`` without checking it against the world,
        for tools that describe any wasm (``inspect``); ``load`` is this plus validation.
        LoadError if it cannot be read or is not valid WebAssembly."""
        from airssys_wasm.runtime.loader import compile_source

        return compile_source(self, source, name=name)

    @property
    def tick_us(self) -> int:
        """The epoch period: half the default time slice (at least 25 us)."""
        return max(25, self.config.time_slice_us // 2)

    def slice_ticks(self, slice_us: int | None) -> int:
        """Epoch ticks of a time slice of ``slice_us`` (None: the engine's ``time_slice_us``).

        A call yields when its deadline tick comes; the first tick can come at once, so the
        ticks are counted from the second one: a slice lasts between (n-1) and n ticks.
        """
        return max(2, math.ceil((slice_us or self.config.time_slice_us) / self.tick_us))

    def start_ticker(self) -> None:
        """Start the C epoch-ticker thread that enforces wall-clock timeouts and time slices.

        ConfigError if epoch interruption is off (timeouts could not be enforced) or the engine is
        closed. The host starts it; call it yourself for instances used outside a host."""
        if self._ticker is None:
            raise ConfigError("this Engine has epoch_interruption disabled, so per-call timeouts "
                              "cannot be enforced; use EngineConfig(epoch_interruption=True) or "
                              "Limits(timeout_ms=None)")
        if self._closed:
            raise ConfigError("this Engine is closed; create a new Engine")
        self._ticker.start()

    @property
    def ticker_running(self) -> bool:
        """True while the epoch ticker runs, i.e. while per-call deadlines and slices are enforced.
        """
        return self._ticker is not None and self._ticker.running

    def close(self) -> None:
        """Stop the epoch ticker. Instances still alive can no longer time out."""
        self._closed = True
        if self._ticker is not None:
            self._ticker.stop()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
