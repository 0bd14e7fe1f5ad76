"""The shared wasmtime Engine of a host, with its configuration and its single epoch ticker.

One Engine serves every component of a host: compiled artifacts can only be instantiated in the
engine that compiled them, and epoch interruption needs exactly one clock. The ticker is one
daemon thread per Engine (never one per component) that bumps the epoch every
``epoch_tick_ms``; a call's deadline is expressed in ticks, so deadlines are accurate to one tick.
The ticker relies on wasm calls releasing the GIL (ctypes does).
"""

from __future__ import annotations

import json
import math
import os
import threading
import weakref
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import wasmtime

from airssys_wasm._fast.handles import apply_pooling, disable_concurrency
from airssys_wasm.errors import ConfigError
from airssys_wasm.runtime.cache import ArtifactCache

if TYPE_CHECKING:
    from airssys_wasm.runtime.artifact import Artifact
    from airssys_wasm.runtime.loader import Source

__all__ = ["Engine", "EngineConfig", "PoolingConfig"]

OptLevel = Literal["none", "speed", "speed_and_size"]


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


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine-wide settings. Fields that change generated code are part of the cache key."""

    consume_fuel: bool = False
    epoch_interruption: bool = True
    epoch_tick_ms: int = 10
    opt_level: OptLevel = "speed"
    parallel_compilation: bool = True
    #: Wasm stack per call, engine-wide in wasmtime (None = wasmtime's default, 512 KiB).
    max_wasm_stack: int | None = None
    #: Directory of the compiled-artifact cache; None disables it.
    cache_dir: str | os.PathLike[str] | None = None
    #: Use the pooling allocator (bounded address space, faster Store setup) with these slots.
    pooling: PoolingConfig | None = None
    #: Largest .wasm/.wat input accepted by load().
    max_source_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.opt_level not in ("none", "speed", "speed_and_size"):
            raise ConfigError(f"opt_level {self.opt_level!r} is not one of none, speed, speed_and_size")
        if not isinstance(self.epoch_tick_ms, int) or self.epoch_tick_ms <= 0:
            raise ConfigError(f"epoch_tick_ms={self.epoch_tick_ms!r} must be a positive integer")
        if self.max_wasm_stack is not None and self.max_wasm_stack < 64 * 1024:
            raise ConfigError(f"max_wasm_stack={self.max_wasm_stack} is below 64 KiB; "
                              "guests could not run at all")
        if self.max_source_bytes <= 0:
            raise ConfigError("max_source_bytes must be positive")

    def fingerprint(self) -> str:
        """Stable text of every setting that changes compiled code."""
        relevant = {
            "consume_fuel": self.consume_fuel,
            "epoch_interruption": self.epoch_interruption,
            "opt_level": self.opt_level,
            "max_wasm_stack": self.max_wasm_stack,
            "pooling": None if self.pooling is None else asdict(self.pooling),
            "concurrency_support": False,
        }
        return json.dumps(relevant, sort_keys=True)

    def to_wasmtime(self) -> wasmtime.Config:
        cfg = wasmtime.Config()
        cfg.wasm_component_model = True
        cfg.consume_fuel = self.consume_fuel
        cfg.epoch_interruption = self.epoch_interruption
        cfg.cranelift_opt_level = self.opt_level
        cfg.parallel_compilation = self.parallel_compilation
        if self.max_wasm_stack is not None:
            cfg.max_wasm_stack = self.max_wasm_stack
        if self.pooling is not None:
            apply_pooling(cfg, asdict(self.pooling))
        # The airssys world is synchronous; without the component-model async machinery
        # wasmtime skips its per-call task bookkeeping (~0.6 µs of a ~2 µs handle-message).
        disable_concurrency(cfg)
        return cfg


class _EpochTicker:
    """Bumps the engine epoch every tick on one daemon thread, started on first use."""

    def __init__(self, engine: wasmtime.Engine, tick_ms: int) -> None:
        # A weak reference: an Engine dropped without close() must not be kept alive (and
        # ticking) forever by its own ticker thread.
        self._engine = weakref.ref(engine)
        self._interval = tick_ms / 1000.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="airssys-epoch-ticker",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            engine = self._engine()
            if engine is None:
                return
            engine.increment_epoch()
            del engine

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Engine:
    """Compiles, caches and validates components; shared by every component of a host."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.wasm_engine = wasmtime.Engine(self.config.to_wasmtime())
        self.wasmtime_version = metadata.version("wasmtime")  # it ships the matching libwasmtime
        self.cache: ArtifactCache | None = None
        if self.config.cache_dir is not None:
            self.cache = ArtifactCache(Path(self.config.cache_dir),
                                       wasmtime_version=self.wasmtime_version,
                                       config_fingerprint=self.config.fingerprint())
        self._ticker = (_EpochTicker(self.wasm_engine, self.config.epoch_tick_ms)
                        if self.config.epoch_interruption else None)
        self._closed = False

    def load(self, source: Source, *, name: str | None = None) -> Artifact:
        """Compile (or fetch from the cache) and validate ``source`` against the world.

        ``source``: .wasm/.wat path, wasm bytes, or WAT text. Raises LoadError on anything that
        is not a valid airssys component or core-ABI module.
        """
        from airssys_wasm.runtime.loader import load

        return load(self, source, name=name)

    def epoch_ticks(self, timeout_ms: int) -> int:
        """Epoch deadline (in ticks) that expires no earlier than ``timeout_ms`` from now."""
        return math.ceil(timeout_ms / self.config.epoch_tick_ms) + 1

    def start_ticker(self) -> None:
        if self._ticker is None:
            raise ConfigError("this Engine has epoch_interruption disabled, so per-call timeouts "
                              "cannot be enforced; use EngineConfig(epoch_interruption=True) or "
                              "Limits(timeout_ms=None)")
        if self._closed:
            raise ConfigError("this Engine is closed; create a new Engine")
        self._ticker.ensure_running()

    @property
    def ticker_running(self) -> bool:
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
