"""airssys-wasm: WebAssembly components as supervised actors, with Cython/C hot paths."""

from airssys_wasm.actor import (
    Actor,
    ActorRef,
    ActorSystem,
    Backoff,
    DeadLetter,
    HealthStatus,
    MessageBroker,
    RestartPolicy,
    Supervisor,
    SupervisorStrategy,
)
from airssys_wasm.runtime import Engine, EngineConfig, Limits
from airssys_wasm.host import Host, HostConfig
from airssys_wasm import security  # noqa: F401  (installs the default SecurityProvider of Host())
from airssys_wasm.types import ComponentId, ExecutionContext, LogLevel
from airssys_wasm.errors import (
    AbiMismatchError,
    ActorStateError,
    AirssysError,
    CodecError,
    ComponentNotFound,
    ConfigError,
    GuestError,
    HealthCheckFailed,
    LoadError,
    MailboxClosed,
    MailboxFull,
    ManifestError,
    PermissionDenied,
    RequestTimeout,
    SupervisorEscalation,
    TrapError,
    TrapKind,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Actor",
    "ActorRef",
    "ActorSystem",
    "Backoff",
    "DeadLetter",
    "HealthStatus",
    "Host",
    "HostConfig",
    "MessageBroker",
    "RestartPolicy",
    "Supervisor",
    "SupervisorStrategy",
    "HealthCheckFailed",
    "GuestError",
    "ComponentId",
    "Engine",
    "EngineConfig",
    "ExecutionContext",
    "Limits",
    "LogLevel",
    "AbiMismatchError",
    "ActorStateError",
    "AirssysError",
    "CodecError",
    "ComponentNotFound",
    "ConfigError",
    "LoadError",
    "MailboxClosed",
    "MailboxFull",
    "ManifestError",
    "PermissionDenied",
    "RequestTimeout",
    "SupervisorEscalation",
    "TrapError",
    "TrapKind",
]
