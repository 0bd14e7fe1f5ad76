"""Per-component resource limits: memory, CPU (fuel and wall clock), tables, instances.

Defaults are chosen for untrusted code: 64 MiB of linear memory and one second per call. Fuel is
off by default because the epoch deadline already bounds CPU time at half the overhead; turn it
on (with ``EngineConfig(consume_fuel=True)``) where deterministic budgets matter.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from airssys_wasm.errors import ConfigError

__all__ = ["Limits", "parse_size"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# Single letters are binary (``64M`` = 64 MiB); ``KB``/``MB``/``GB``/``TB`` are decimal.
_UNITS = {
    "": 1, "b": 1,
    "k": KiB, "kib": KiB, "kb": 10**3,
    "m": MiB, "mib": MiB, "mb": 10**6,
    "g": GiB, "gib": GiB, "gb": 10**9,
    "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}  # fmt: skip
_SIZE = re.compile(r"\s*([0-9]+)\s*([A-Za-z]*)\s*", re.ASCII)

# Linear memory is 32-bit: nothing above 4 GiB can ever be used.
_MAX_MEMORY = 4 * GiB
_U64 = 2 ** 64 - 1
_I64 = 2 ** 63 - 1


def parse_size(value: object, what: str | None = None) -> int:
    """Bytes from an int or a human size (``65536``, ``"64MiB"``, ``"512 KiB"``, ``"1GB"``).

    The one size parser of the package: Component.toml (``security``) and ``Limits`` callers
    share it so a unit means the same everywhere. ``TypeError`` for a non-int/str (booleans
    included), ``ValueError`` for a string that is not a size; ``what`` prefixes the message.
    """
    prefix = f"{what}: " if what else ""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"{prefix}a size must be an integer or a string like '64MiB', not "
                        f"{type(value).__name__}")
    if isinstance(value, int):
        return value
    match = _SIZE.fullmatch(value)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{prefix}{value!r} is not a size; write bytes as an integer or a number "
                         "with a unit (B, K/KiB, M/MiB, G/GiB, T/TiB binary; KB, MB, GB, TB decimal)")
    return int(match.group(1)) * _UNITS[unit]


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits applied to each instance (one wasmtime Store) of a component.

    ``fuel`` is a per-call budget refilled before every call; ``timeout_ms`` is a per-call
    wall-clock deadline enforced by epoch interruption. ``None`` disables either.
    ``stack_bytes`` is checked against the engine-wide wasm stack size, because wasmtime sets the
    stack per engine, not per Store. ``slice_us`` is how long the guest may compute before it
    yields to other actors (None: the engine's ``time_slice_us``, one epoch tick); longer slices
    suit trusted, latency-tolerant components. The ``timeout_ms`` deadline is checked at every
    yield and while the guest waits on the host, so it is exact to one slice. It ends only a
    guest still using time past it: a call resumed late (queued behind other actors or a busy
    host) runs its slice first, so no guest traps because the host was slow to get to it.
    """

    #: Linear memory ceiling per instance: a ``memory.grow`` past it is refused.
    memory_bytes: int = 64 * MiB
    #: Instructions per call (needs ``EngineConfig(consume_fuel=True)``); None: not metered.
    fuel: int | None = None
    #: Wall-clock deadline per call, including time suspended on the host; None: none.
    timeout_ms: int | None = 1000
    #: Ceiling on table growth (function references), another memory a guest could inflate.
    table_elements: int = 10_000
    #: Core instances a component may create (a component is made of several).
    instances: int = 32
    #: Tables a component may create.
    tables: int = 32
    #: Linear memories a component may create.
    memories: int = 8
    #: Wasm stack the component needs; checked against the engine-wide stack (None: no check).
    stack_bytes: int | None = None
    #: How long the guest computes before it yields to other actors; None: the engine's slice.
    slice_us: int | None = None
    #: Largest message (multicodec frame) the component accepts or sends, in bytes. Checked
    #: before the message is copied; ``list<u8>`` costs ~27 ns per byte in wasmtime, so bulk
    #: data belongs on the core-ABI lane.
    max_message_bytes: int = 1 * MiB

    def __post_init__(self) -> None:
        if not 0 < self.memory_bytes <= _MAX_MEMORY:
            raise ConfigError(f"memory limit {self.memory_bytes} bytes is outside 1..4GiB; "
                              "set Limits.memory_bytes to the guest's linear memory budget")
        # The Store takes them as 64-bit C integers (fuel unsigned, the rest signed).
        for name in ("fuel", "timeout_ms", "stack_bytes", "slice_us"):
            value = getattr(self, name)
            top = _U64 if name == "fuel" else _I64
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or not 0 < value <= top):
                raise ConfigError(f"Limits.{name}={value!r} must be an integer from 1 to "
                                  f"{top:,}, or None (None disables that limit)")
        for name in ("table_elements", "instances", "tables", "memories", "max_message_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _I64:
                raise ConfigError(f"Limits.{name}={value!r} must be an integer from 1 to "
                                  f"{_I64:,}")

    def replace(self, **changes: Any) -> Limits:
        """A copy with some fields changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)
