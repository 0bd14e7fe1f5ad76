"""Layer 4: components as supervised actors — the ``Host`` facade, its registry, router,
request/response correlation, health and restarts, and the permission hook the security layer
fills in."""

from airssys_wasm.host.component_actor import ComponentActor
from airssys_wasm.host.config import HostConfig
from airssys_wasm.host.host import ComponentRef, Host
from airssys_wasm.host.policy import (
    ALLOW_ALL,
    MESSAGING_SEND,
    AllowAll,
    Decision,
    PermissionPolicy,
    PolicyDecision,
)
from airssys_wasm.host.registry import ComponentEntry, ComponentStats, Registry
from airssys_wasm.host.requests import Callback, RequestEnvelope, RequestStats, RequestTable
from airssys_wasm.host.router import HostMessaging, Router

__all__ = [
    "ALLOW_ALL",
    "AllowAll",
    "Callback",
    "ComponentActor",
    "ComponentEntry",
    "ComponentRef",
    "ComponentStats",
    "Decision",
    "Host",
    "HostConfig",
    "HostMessaging",
    "MESSAGING_SEND",
    "PermissionPolicy",
    "PolicyDecision",
    "Registry",
    "RequestEnvelope",
    "RequestStats",
    "RequestTable",
    "Router",
]
