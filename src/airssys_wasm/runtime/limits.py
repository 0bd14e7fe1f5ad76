"""Per-component resource limits: memory, CPU (fuel and wall clock), tables, instances.

Defaults are chosen for untrusted code: 64 MiB of linear memory and one second per call. Fuel is
off by default because the epoch deadline already bounds CPU time at half the overhead; turn it
on (with ``EngineConfig(consume_fuel=True)``) where deterministic budgets matter.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airssys_wasm.errors import ConfigError, ManifestError

__all__ = ["Limits", "parse_size"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

_UNITS = {"": 1, "b": 1, "k": KiB, "kb": 1000, "kib": KiB, "m": MiB, "mb": 1000**2, "mib": MiB,
          "g": GiB, "gb": 1000**3, "gib": GiB}
_SIZE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")

# Linear memory is 32-bit: nothing above 4 GiB can ever be used.
_MAX_MEMORY = 4 * GiB


def parse_size(value: int | str, what: str = "size") -> int:
    """Parse ``65536``, ``"64MiB"``, ``"512 KiB"``, ``"1GB"`` into bytes."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a byte count or a string like '64MiB', not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match and match.group(2).lower() in _UNITS:
            return int(match.group(1)) * _UNITS[match.group(2).lower()]
    raise ValueError(f"{what} {value!r} is not a size; write a byte count or e.g. '64MiB', '512KiB'")


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits applied to each instance (one wasmtime Store) of a component.

    ``fuel`` is a per-call budget refilled before every call; ``timeout_ms`` is a per-call
    wall-clock deadline enforced by epoch interruption. ``None`` disables either.
    ``stack_bytes`` is checked against the engine-wide wasm stack size, because wasmtime sets the
    stack per engine, not per Store.
    """

    memory_bytes: int = 64 * MiB
    fuel: int | None = None
    timeout_ms: int | None = 1000
    table_elements: int = 10_000
    instances: int = 32
    tables: int = 32
    memories: int = 8
    stack_bytes: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.memory_bytes <= _MAX_MEMORY:
            raise ConfigError(f"memory limit {self.memory_bytes} bytes is outside 1..4GiB; "
                              "set Limits.memory_bytes to the guest's linear memory budget")
        for name in ("fuel", "timeout_ms", "stack_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value <= 0):
                raise ConfigError(f"Limits.{name}={value!r} must be a positive integer or None "
                                  "(None disables that limit)")
        for name in ("table_elements", "instances", "tables", "memories"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"Limits.{name}={value!r} must be a positive integer")

    def replace(self, **changes: Any) -> Limits:
        """A copy with some fields changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_manifest_section(cls, section: Mapping[str, Any], base: Limits | None = None) -> Limits:
        """Build limits from the ``[limits]`` table of a Component.toml.

        Keys: ``memory`` (bytes or "64MiB"), ``fuel``, ``timeout_ms``, ``stack`` (bytes or size
        string), ``table_elements``, ``instances``. Missing keys keep ``base`` (the defaults).
        """
        if not isinstance(section, Mapping):
            raise ManifestError(f"[limits] must be a table, got {type(section).__name__}")
        known = {"memory": "memory_bytes", "fuel": "fuel", "timeout_ms": "timeout_ms",
                 "stack": "stack_bytes", "table_elements": "table_elements",
                 "instances": "instances"}
        changes: dict[str, Any] = {}
        for key, value in section.items():
            if key not in known:
                raise ManifestError(f"unknown key {key!r} in [limits]; allowed keys are "
                                    + ", ".join(sorted(known)))
            try:
                if key in ("memory", "stack"):
                    value = parse_size(value, f"[limits] {key}")
                elif isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"[limits] {key} must be an integer, got {value!r}")
            except ValueError as exc:
                raise ManifestError(str(exc)) from None
            changes[known[key]] = value
        try:
            return dataclasses.replace(base or cls(), **changes)
        except ConfigError as exc:
            raise ManifestError(f"[limits]: {exc}") from None
