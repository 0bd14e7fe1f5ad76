"""The runtime layer: engine, loading and validation, compile cache, limits, traps, instances
and the host side of host-services. Everything above (actor, host) builds on these names."""

from typing import TYPE_CHECKING

from airssys_wasm._lazy import lazy_exports

if TYPE_CHECKING:
    from airssys_wasm.runtime.artifact import Artifact, ComponentArtifact, CoreModuleArtifact
    from airssys_wasm.runtime.cache import ArtifactCache, CacheStats
    from airssys_wasm.runtime.engine import Engine, EngineConfig, PoolingConfig
    from airssys_wasm.runtime.host_services import (
        DETACHED_MESSAGING,
        EMPTY_DIRECTORY,
        ComponentDirectory,
        DetachedMessaging,
        EmptyDirectory,
        HostServices,
        Messaging,
    )
    from airssys_wasm.runtime.instance import ComponentInstance, CoreInstance, Instance
    from airssys_wasm.runtime.limits import Limits, parse_size
    from airssys_wasm.runtime.loader import Source
    from airssys_wasm.runtime.traps import classify, to_trap_error
    from airssys_wasm.runtime.wasi import NO_WASI, GuestOutput, OutputLimits, Preopen, WasiSettings
    from airssys_wasm.types import (
        CallerInfo,
        ComponentConfig,
        ComponentId,
        ComponentMetadata,
        ExecutionContext,
        HealthStatus,
        LogLevel,
    )
    from airssys_wasm.runtime.wit import wit_dir, write_world
else:
    __getattr__, __dir__ = lazy_exports(__name__, {
        "airssys_wasm.runtime.artifact": ("Artifact", "ComponentArtifact", "CoreModuleArtifact"),
        "airssys_wasm.runtime.cache": ("ArtifactCache", "CacheStats"),
        "airssys_wasm.runtime.engine": ("Engine", "EngineConfig", "PoolingConfig"),
        "airssys_wasm.runtime.host_services": (
            "DETACHED_MESSAGING", "EMPTY_DIRECTORY", "ComponentDirectory", "DetachedMessaging",
            "EmptyDirectory", "HostServices", "Messaging",
        ),
        "airssys_wasm.runtime.instance": ("ComponentInstance", "CoreInstance", "Instance"),
        "airssys_wasm.runtime.limits": ("Limits", "parse_size"),
        "airssys_wasm.runtime.loader": ("Source",),
        "airssys_wasm.runtime.traps": ("classify", "to_trap_error"),
        "airssys_wasm.runtime.wasi": (
            "NO_WASI", "GuestOutput", "OutputLimits", "Preopen", "WasiSettings",
        ),
        "airssys_wasm.types": (
            "CallerInfo", "ComponentConfig", "ComponentId", "ComponentMetadata", "ExecutionContext",
            "HealthStatus", "LogLevel",
        ),
        "airssys_wasm.runtime.wit": ("wit_dir", "write_world"),
    })

__all__ = [
    "Artifact", "ArtifactCache", "CacheStats", "CallerInfo", "ComponentArtifact",
    "ComponentConfig", "ComponentDirectory", "ComponentId", "ComponentInstance",
    "ComponentMetadata", "CoreInstance", "CoreModuleArtifact", "DETACHED_MESSAGING",
    "DetachedMessaging", "EMPTY_DIRECTORY", "EmptyDirectory", "Engine", "EngineConfig",
    "ExecutionContext", "HealthStatus", "HostServices", "Instance", "Limits", "LogLevel",
    "GuestOutput", "Messaging", "NO_WASI", "OutputLimits", "PoolingConfig", "Preopen", "Source",
    "WasiSettings", "classify",
    "parse_size", "to_trap_error", "wit_dir", "write_world",
]
