"""Conversion between the runtime's dataclasses and wasmtime-py component values.

wasmtime-py represents WIT records as ``Record`` objects whose attribute names keep the WIT
kebab-case spelling, and variants whose cases collide as ``Variant(tag, payload)``. These helpers
are the only place that knows that, so the fast path can replace them wholesale.
"""

from __future__ import annotations

from typing import Any

from wasmtime import component as wc

from airssys_wasm.types import (
    ComponentConfig,
    ComponentId,
    ComponentMetadata,
    ExecutionContext,
)


def _record(**fields: Any) -> wc.Record:
    rec = wc.Record()
    for key, value in fields.items():
        setattr(rec, key.replace("_", "-"), value)
    return rec


def component_id_to_wit(cid: ComponentId) -> wc.Record:
    return _record(namespace=cid.namespace, name=cid.name, version=cid.version)


def component_id_from_wit(rec: Any) -> ComponentId:
    return ComponentId(name=rec.name, namespace=rec.namespace, version=rec.version)


def context_to_wit(ctx: ExecutionContext) -> wc.Record:
    caller = None
    if ctx.caller is not None:
        cid = ctx.caller.component_id
        caller = _record(
            component_id=None if cid is None else component_id_to_wit(cid),
            external_source=ctx.caller.external_source,
        )
    return _record(request_id=ctx.request_id, timeout_ms=ctx.timeout_ms, caller_info=caller)


def config_to_wit(config: ComponentConfig) -> wc.Record:
    return _record(env_vars=[tuple(kv) for kv in config.env_vars],
                   config_data=None if config.config_data is None else bytes(config.config_data))


def metadata_to_wit(meta: ComponentMetadata) -> wc.Record:
    return _record(name=meta.name, version=meta.version, description=meta.description,
                   supported_operations=list(meta.supported_operations))


def metadata_from_wit(rec: Any) -> ComponentMetadata:
    return ComponentMetadata(
        name=rec.name,
        version=rec.version,
        description=rec.description,
        supported_operations=tuple(getattr(rec, "supported-operations")),
    )


def variant(tag: str, payload: Any = None) -> wc.Variant:
    return wc.Variant(tag, payload)

