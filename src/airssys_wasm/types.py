"""Python mirrors of the `airssys:core/types` WIT records, shared by every layer.

They are plain frozen dataclasses so the upper layers (actor, host) can hash, compare and log
them without touching wasmtime objects; conversion to wasmtime values lives in
``runtime._values``. Like ``errors``, this module sits below every layer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "CallerInfo",
    "ComponentConfig",
    "ComponentId",
    "ComponentMetadata",
    "ExecutionContext",
    "HealthStatus",
    "LogLevel",
]


@dataclass(frozen=True, slots=True)
class ComponentId:
    """Address of a component inside a host (`component-id` in WIT)."""

    name: str
    namespace: str = ""
    version: str = ""

    def __str__(self) -> str:
        text = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{text}@{self.version}" if self.version else text

    def matches(self, actual: ComponentId) -> bool:
        """True when this id (as a guest addresses a component) names ``actual``: same name,
        and an empty namespace or version matches any."""
        return self.name == actual.name and (
            not self.namespace or self.namespace == actual.namespace) and (
            not self.version or self.version == actual.version)

    @classmethod
    def parse(cls, text: str) -> ComponentId:
        """Inverse of ``str()``: ``[namespace/]name[@version]``."""
        rest, _, version = text.partition("@")
        namespace, _, name = rest.rpartition("/")
        if not name:
            raise ValueError(f"component id {text!r} has no name; use '[namespace/]name[@version]'")
        return cls(name=name, namespace=namespace, version=version)


class HealthStatus(str, enum.Enum):
    """`health-status` in WIT; the order matches the WIT enum (the core lane returns the index)."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class LogLevel(str, enum.Enum):
    """`log-level` in WIT."""

    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """Who is behind a request: ``component_id`` of the sender (the host's own id for a request
    made from Python) and ``external_source`` naming an origin outside the components (e.g.
    ``"python"``). Handed to ``execute`` so a component can answer differently by caller."""

    component_id: ComponentId | None = None
    external_source: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """Per-request context handed to `execute`."""

    request_id: str = ""
    timeout_ms: int = 0
    caller: CallerInfo | None = None


@dataclass(frozen=True, slots=True)
class ComponentConfig:
    """Argument of `init`."""

    env_vars: tuple[tuple[str, str], ...] = ()
    config_data: bytes | None = None


@dataclass(frozen=True, slots=True)
class ComponentMetadata:
    """What a component says about itself (`metadata()`), also served by get-component-metadata."""

    name: str
    version: str = ""
    description: str = ""
    supported_operations: tuple[str, ...] = field(default_factory=tuple)
