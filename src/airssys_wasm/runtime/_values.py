"""Conversion between the runtime's dataclasses and the fast call path's WIT values.

The fast path (``airssys_wasm._fast.fastcall``) represents records as dicts keyed by the WIT
field names (kebab-case), variants as ``(case, payload)`` and results as ``("ok"|"err", value)``.
These helpers are the only place in the runtime that spells those shapes for the lifecycle
types, so instances and host-services stay about policy.
"""

from __future__ import annotations

from typing import Any

from airssys_wasm.types import (
    ComponentConfig,
    ComponentId,
    ComponentMetadata,
    ExecutionContext,
)

#: ``result<_, E>``'s ok value, as host functions return it.
OK: tuple[str, None] = ("ok", None)


def component_id_to_wit(cid: ComponentId) -> dict[str, str]:
    return {"namespace": cid.namespace, "name": cid.name, "version": cid.version}


_IDS: dict[tuple[str, str, str], ComponentId] = {}
_IDS_MAX = 4096


def component_id_from_wit(rec: dict[str, str]) -> ComponentId:
    """The ComponentId a guest named; interned, so the same target costs one dict lookup (a
    guest sending to a peer names it on every message)."""
    key = (rec["namespace"], rec["name"], rec["version"])
    cid = _IDS.get(key)
    if cid is None:
        if len(_IDS) >= _IDS_MAX:
            _IDS.clear()
        cid = _IDS[key] = ComponentId(name=key[1], namespace=key[0], version=key[2])
    return cid


def context_to_wit(ctx: ExecutionContext) -> dict[str, Any]:
    caller = None
    if ctx.caller is not None:
        cid = ctx.caller.component_id
        caller = {"component-id": None if cid is None else component_id_to_wit(cid),
                  "external-source": ctx.caller.external_source}
    return {"request-id": ctx.request_id, "timeout-ms": ctx.timeout_ms, "caller-info": caller}


def config_to_wit(config: ComponentConfig | None) -> dict[str, Any]:
    """``component-config`` of ``config``; None is the empty config (most spawns pass none)."""
    if config is None:
        return {"env-vars": [], "config-data": None}
    return {"env-vars": [tuple(kv) for kv in config.env_vars],
            "config-data": None if config.config_data is None else bytes(config.config_data)}


def metadata_to_wit(meta: ComponentMetadata) -> dict[str, Any]:
    return {"name": meta.name, "version": meta.version, "description": meta.description,
            "supported-operations": list(meta.supported_operations)}


_METADATA: dict[tuple[Any, ...], ComponentMetadata] = {}
_METADATA_MAX = 1024


def metadata_from_wit(rec: dict[str, Any]) -> ComponentMetadata:
    """The ComponentMetadata a guest's ``metadata()`` returned; interned like component-ids:
    every instance of one guest describes itself alike, and a host of thousands of components
    keeps one frozen object for them instead of one per component for each GC pass to walk."""
    key = (rec["name"], rec["version"], rec["description"], tuple(rec["supported-operations"]))
    meta = _METADATA.get(key)
    if meta is None:
        if len(_METADATA) >= _METADATA_MAX:
            _METADATA.clear()
        meta = _METADATA[key] = ComponentMetadata(name=key[0], version=key[1],
                                                  description=key[2],
                                                  supported_operations=key[3])
    return meta
