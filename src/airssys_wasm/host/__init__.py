"""Layer 4: components as supervised actors — the ``Host`` facade, its registry, router,
request/response correlation, health and restarts, and the security extension point the
security layer fills in."""

from typing import TYPE_CHECKING

from airssys_wasm._lazy import lazy_exports

if TYPE_CHECKING:
    from airssys_wasm.host.component_actor import ComponentActor
    from airssys_wasm.host.config import HostConfig
    from airssys_wasm.host.defaults import Default
    from airssys_wasm.host.host import ComponentRef, Host, RemoteRef
    from airssys_wasm.host.remote import Delivery, LatticeLink
    from airssys_wasm.host.interfaces import Caller, HostInterface, caller
    from airssys_wasm.host.policy import (
        EXTENSIONS,
        MESSAGING_SEND,
        RESOURCE_EXHAUSTED,
        Admission,
        Decision,
        SecurityProvider,
        default_security,
        install_default_security,
    )
    from airssys_wasm.host.registry import ComponentEntry, ComponentStats, Registry
    from airssys_wasm.host.requests import Callback, RequestEnvelope, RequestStats, RequestTable
    from airssys_wasm.host.router import HostMessaging, Router
else:
    __getattr__, __dir__ = lazy_exports(__name__, {
        "airssys_wasm.host.component_actor": ("ComponentActor",),
        "airssys_wasm.host.config": ("HostConfig",),
        "airssys_wasm.host.defaults": ("Default",),
        "airssys_wasm.host.host": ("ComponentRef", "Host", "RemoteRef"),
        "airssys_wasm.host.remote": ("Delivery", "LatticeLink"),
        "airssys_wasm.host.interfaces": ("Caller", "HostInterface", "caller"),
        "airssys_wasm.host.policy": (
            "EXTENSIONS", "MESSAGING_SEND", "RESOURCE_EXHAUSTED", "Admission", "Decision",
            "SecurityProvider", "default_security", "install_default_security",
        ),
        "airssys_wasm.host.registry": ("ComponentEntry", "ComponentStats", "Registry"),
        "airssys_wasm.host.requests": (
            "Callback", "RequestEnvelope", "RequestStats", "RequestTable",
        ),
        "airssys_wasm.host.router": ("HostMessaging", "Router"),
    })

__all__ = [
    "Admission",
    "Delivery",
    "LatticeLink",
    "RemoteRef",
    "EXTENSIONS",
    "Callback",
    "Caller",
    "ComponentActor",
    "ComponentEntry",
    "ComponentRef",
    "ComponentStats",
    "Decision",
    "Default",
    "Host",
    "HostConfig",
    "HostInterface",
    "HostMessaging",
    "MESSAGING_SEND",
    "RESOURCE_EXHAUSTED",
    "SecurityProvider",
    "Registry",
    "RequestEnvelope",
    "RequestStats",
    "RequestTable",
    "Router",
    "caller",
    "default_security",
    "install_default_security",
]
