"""airssys-wasm: WebAssembly components as supervised actors, with Cython/C hot paths."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airssys_wasm._lazy import lazy_exports
from airssys_wasm.host.policy import install_default_security

if TYPE_CHECKING:
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
    from airssys_wasm.host import Caller, Host, HostConfig, HostInterface, caller
    from airssys_wasm.host.policy import SecurityProvider
    from airssys_wasm.lattice import Lattice, Placement
    from airssys_wasm.types import ComponentId, ExecutionContext, LogLevel
    from airssys_wasm.errors import (
        AbiMismatchError,
        ActorStateError,
        AirssysError,
        BuildError,
        CodecError,
        ComponentNotFound,
        ConfigError,
        GuestError,
        HealthCheckFailed,
        LatticeError,
        LatticeUnavailable,
        LoadError,
        MailboxClosed,
        MailboxFull,
        ManifestError,
        PermissionDenied,
        RequestTimeout,
        SupervisorEscalation,
        TrapError,
        UpgradeFailed,
        CallCancelled,
        MessageTooLarge,
        TrapKind,
        WitError,
    )
else:
    __getattr__, __dir__ = lazy_exports(__name__, {
        "airssys_wasm.actor": (
            "Actor", "ActorRef", "ActorSystem", "Backoff", "DeadLetter", "HealthStatus",
            "MessageBroker", "RestartPolicy", "Supervisor", "SupervisorStrategy",
        ),
        "airssys_wasm.runtime": ("Engine", "EngineConfig", "Limits"),
        "airssys_wasm.host": ("Caller", "Host", "HostConfig", "HostInterface", "caller"),
        "airssys_wasm.types": ("ComponentId", "ExecutionContext", "LogLevel"),
        "airssys_wasm.lattice": ("Lattice", "Placement"),
        "airssys_wasm.errors": (
            "AbiMismatchError", "ActorStateError", "AirssysError", "BuildError", "CodecError",
            "ComponentNotFound", "ConfigError", "GuestError", "HealthCheckFailed", "LatticeError",
            "LatticeUnavailable", "LoadError", "MailboxClosed", "MailboxFull", "ManifestError", "PermissionDenied", "RequestTimeout",
            "SupervisorEscalation", "TrapError", "UpgradeFailed", "CallCancelled",
            "MessageTooLarge", "TrapKind", "WitError",
        ),
    }, submodules=("actor", "errors", "host", "lattice", "metrics", "multicodec", "runtime", "security",
                   "types"))


def _secure_by_default(config: HostConfig) -> SecurityProvider:
    """``Host()`` admits components through their Component.toml: the security layer is the
    default provider. Imported on the first Host, not by ``import airssys_wasm``."""
    from airssys_wasm.security import HostSecurity

    return HostSecurity.from_config(config)


install_default_security(_secure_by_default)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Actor",
    "ActorRef",
    "ActorSystem",
    "Backoff",
    "DeadLetter",
    "HealthStatus",
    "Caller",
    "Host",
    "HostConfig",
    "HostInterface",
    "caller",
    "Lattice",
    "LatticeError",
    "LatticeUnavailable",
    "Placement",
    "MessageBroker",
    "RestartPolicy",
    "Supervisor",
    "SupervisorStrategy",
    "HealthCheckFailed",
    "UpgradeFailed",
    "BuildError",
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
    "WitError",
    "CallCancelled",
    "MessageTooLarge",
    "TrapKind",
]
