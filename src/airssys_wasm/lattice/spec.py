"""A component's spec as the lattice stores it: enough for any node to start it again.

``Host.spawn`` on a lattice host turns its arguments into a :class:`ComponentSpec` (source
digest, manifest text, limits, restart policy, supervisor and its intensity, init config,
placement, subscriptions) kept in the specs bucket; the source itself goes into the object
store under its digest. A node that starts the component, first or after a failover, rebuilds
the spawn arguments from it, so every incarnation runs under the same rules.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from airssys_wasm.actor import Backoff, HealthCheck, RestartPolicy
from airssys_wasm.errors import ConfigError
from airssys_wasm.lattice.placement import Placement
from airssys_wasm.lattice.wire import dumps, loads
from airssys_wasm.runtime import Limits
from airssys_wasm.types import ComponentConfig

__all__ = ["ComponentSpec", "manifest_text"]


def manifest_text(manifest: object) -> str | None:
    """The Component.toml text of ``manifest`` (a path or TOML text), to store with the spec.

    A parsed ``Manifest`` object cannot travel to another node (it may hold resolved paths of
    this machine): ConfigError asking for its path or text instead."""
    if manifest is None:
        return None
    if isinstance(manifest, os.PathLike) or (isinstance(manifest, str) and "\n" not in manifest
                                             and os.path.isfile(manifest)):
        with open(manifest, encoding="utf-8") as f:
            return f.read()
    if isinstance(manifest, bytes):
        return manifest.decode("utf-8")
    if isinstance(manifest, str):
        return manifest
    raise ConfigError(f"on a lattice host the manifest must be a Component.toml path or its TOML "
                      f"text (any node may start the component), not a {type(manifest).__name__}")


def _fields(value: Any) -> dict[str, Any] | None:
    return None if value is None else dataclasses.asdict(value)


@dataclass(slots=True)
class ComponentSpec:
    """What the lattice records about one component (the specs bucket, msgpack)."""

    name: str
    #: sha256 of the wasm binary, its name in the object store.
    digest: str
    manifest: str | None = None
    limits: dict[str, Any] | None = None
    restart: str = RestartPolicy.PERMANENT.value
    supervisor: str | None = None
    #: Restart intensity counted across nodes: at most ``max_restarts`` failovers within
    #: ``within`` seconds, then the component is failed lattice-wide.
    max_restarts: int = 3
    within: float = 5.0
    trust: str | None = None
    env_vars: list[list[str]] = field(default_factory=list)
    config_data: bytes | None = None
    backoff: dict[str, Any] | None = None
    #: None: the host's default probe; ``{}``: probing off; else HealthCheck's fields.
    health: dict[str, Any] | None = None
    capacity: int | None = None
    batch_size: int | None = None
    placement: dict[str, Any] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        """The bucket value."""
        return dumps(dataclasses.asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> ComponentSpec:
        """Inverse of ``to_bytes``; LatticeError for a value that does not decode."""
        value = loads(data, "component spec")
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(value, dict) or "name" not in value or "digest" not in value:
            raise ConfigError("a component spec in the lattice has no name or digest")
        return cls(**{k: v for k, v in value.items() if k in known})

    # -- to and from spawn's arguments -----------------------------------------------------------
    @classmethod
    def of(cls, name: str, digest: str, *, manifest: object, restart: RestartPolicy | str,
           limits: Limits | None, supervisor: str | None, max_restarts: int, within: float,
           trust: str | None, config: ComponentConfig | None, backoff: Backoff | None,
           health: object, capacity: int | None, batch_size: int | None,
           placement: Placement) -> ComponentSpec:
        """The spec of one ``spawn`` call (``health`` is spawn's: a HealthCheck, None or the
        host-config default marker)."""
        if health is None:
            health_fields: dict[str, Any] | None = {}
        elif isinstance(health, HealthCheck):
            health_fields = dataclasses.asdict(health)
        else:
            health_fields = None
        return cls(
            name=name, digest=digest, manifest=manifest_text(manifest),
            limits=_fields(limits), restart=RestartPolicy(restart).value, supervisor=supervisor,
            max_restarts=max_restarts, within=within, trust=trust,
            env_vars=[list(kv) for kv in config.env_vars] if config else [],
            config_data=config.config_data if config else None, backoff=_fields(backoff),
            health=health_fields, capacity=capacity, batch_size=batch_size,
            placement=placement.to_wire())

    def spawn_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Host.spawn_local`` (the source and name aside)."""
        options: dict[str, Any] = {
            "manifest": self.manifest, "restart": RestartPolicy(self.restart),
            "limits": Limits(**self.limits) if self.limits is not None else None,
            "trust": self.trust,
            "config": (ComponentConfig(env_vars=tuple((k, v) for k, v in self.env_vars),
                                       config_data=self.config_data)
                       if self.env_vars or self.config_data is not None else None),
            "backoff": Backoff(**self.backoff) if self.backoff is not None else None,
            "capacity": self.capacity, "batch_size": self.batch_size,
        }
        if self.health is not None:
            options["health"] = HealthCheck(**self.health) if self.health else None
        return options

    @property
    def rule(self) -> Placement:
        """Where it may run."""
        return Placement.from_wire(self.placement)
