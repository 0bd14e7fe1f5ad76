"""airssys-wasm: WebAssembly components as supervised actors, with Cython/C hot paths."""

from airssys_wasm.errors import (
    AbiMismatchError,
    ActorStateError,
    AirssysError,
    CodecError,
    ComponentNotFound,
    ConfigError,
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
