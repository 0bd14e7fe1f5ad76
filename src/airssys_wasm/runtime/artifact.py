"""Compiled, validated artifacts: what ``Engine.load`` returns and what instances are made from.

An artifact holds the compiled code (shared, immutable) plus what validation learned about it
(which optional lifecycle exports exist). Instantiating is cheap compared with compiling: a new
Store, a link, and the export lookups precomputed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime import component as wc

from airssys_wasm._fast.fastcall import (
    ExportTable,
    FuncPlan,
    InstancePre,
    import_func_types,
    import_resource_types,
)
from airssys_wasm.errors import ConfigError
from airssys_wasm.runtime import host_services
from airssys_wasm.runtime.host_services import HostServices
from airssys_wasm.runtime.instance import ComponentInstance, CoreInstance, Instance
from airssys_wasm.runtime.limits import Limits
from airssys_wasm.runtime.wasi import WasiSettings
from airssys_wasm.types import ComponentId
from airssys_wasm.runtime.world import HOST_SERVICES, ComponentShape, CoreShape

if TYPE_CHECKING:
    from airssys_wasm.runtime.engine import Engine

__all__ = ["Artifact", "ComponentArtifact", "CoreModuleArtifact"]

#: Limits are frozen: one default serves every instance (a restart need not validate it again).
_DEFAULT_LIMITS = Limits()


class Artifact:
    """Base of both lanes. ``kind`` is ``"component"`` or ``"core"``."""

    kind: str
    #: Whether instances need a WasiConfig on their Store (see runtime.wasi).
    imports_wasi: bool = False

    def __init__(self, engine: Engine, name: str, digest: str, exports: frozenset[str]) -> None:
        self.engine = engine
        self.name = name
        #: SHA-256 of the wasm binary (the cache key's content part).
        self.digest = digest
        #: Lifecycle functions the guest provides, e.g. {"handle-message", "health"}.
        self.exports = exports
        #: The ComponentId of instances made without HostServices (made on first use).
        self.default_id: ComponentId | None = None

    def has(self, export: str) -> bool:
        """True if the guest exports the lifecycle function ``export`` (e.g. ``"execute"``), so
        callers can skip optional calls instead of catching an error."""
        return export in self.exports

    def instantiate(self, limits: Limits | None = None, services: HostServices | None = None,
                    *, wasi: WasiSettings | None = None) -> Instance:
        """A new instance in its own Store. Default limits are the safe defaults; default
        services are detached (logging and time work, messaging is refused); a component that
        imports ``wasi:*`` gets ``wasi`` (default: the empty sandbox, nothing inherited)."""
        if services is None:
            cid = self.default_id
            if cid is None or cid.name != self.name:  # frozen: one per artifact serves all
                cid = self.default_id = ComponentId(self.name)
            services = HostServices(cid)
        return self._instance_class(self, limits or _DEFAULT_LIMITS, services, wasi=wasi)

    _instance_class: type[Instance]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} exports={sorted(self.exports)}>"


class ComponentArtifact(Artifact):
    """A compiled component of the ``airssys-component`` world (or a smaller world it includes),
    validated at load time. Its instances call the guest through the canonical ABI with
    conversion plans compiled once per export."""

    kind = "component"
    _instance_class = ComponentInstance

    def __init__(self, engine: Engine, name: str, digest: str, component: wc.Component,
                 shape: ComponentShape) -> None:
        super().__init__(engine, name, digest, shape.exports)
        self.component = component
        self.shape = shape
        self.linker = wc.Linker(engine.wasm_engine)
        self.imports_wasi = any(i.startswith("wasi:") for i in shape.imports)
        if self.imports_wasi:
            self.linker.add_wasip2()
        host_services.define(self.linker)
        root = component.get_export_index(shape.instance)
        assert root is not None  # validated: the lifecycle instance exists
        #: Conversion plans of the lifecycle exports, compiled by the first instance.
        self.plans: dict[str, FuncPlan] = {}
        self.export_indices: dict[str, wc.ExportIndex] = {}
        for export in sorted(shape.exports):
            index = component.get_export_index(export, root)
            if index is not None:
                self.export_indices[export] = index
        #: The same indices resolved to raw handles once: instances look exports up in C.
        self.export_table = ExportTable(component, self.export_indices, self.linker)

    @property
    def imports(self) -> frozenset[str]:
        """Interfaces the component imports (host-services, extensions, wasi:*)."""
        return self.shape.imports

    @property
    def custom_imports(self) -> frozenset[str]:
        """Imports of interfaces an embedder provides (``acme:billing/ledger@1.0.0``)."""
        return self.shape.custom_imports

    def imported_function_types(self, interface: str) -> dict[str, wc.FuncType]:
        """The functions of ``interface`` the component imports, with their types."""
        return dict(import_func_types(self.component, self.engine.wasm_engine).get(interface, {}))

    def imported_resources(self, interface: str) -> dict[str, wc.ResourceType]:
        """The resource types of ``interface`` the component imports, by name."""
        return dict(import_resource_types(self.component, self.engine.wasm_engine)
                    .get(interface, {}))

    def imported_functions(self, interface: str) -> frozenset[str]:
        """The functions of ``interface`` the component actually imports (a guest built
        against a WIT interface imports only what its code calls)."""
        return frozenset(import_func_types(self.component, self.engine.wasm_engine)
                         .get(interface, ()))

    def define_imports(self, interface: str, functions: Mapping[str, Callable[..., Any]], *,
                       with_data: bool = True, gates: Mapping[str, str] | None = None,
                       resources: Mapping[str, tuple[type | None, Callable[[Any], Any] | None]]
                       | None = None) -> None:
        """Provide an extension interface (e.g. ``airssys:ext-filesystem/filesystem@1.0.0``) to
        instances created from now on. Each function is called as ``fn(services, *args)`` with
        the calling instance's HostServices, where the host layer checks capabilities; values
        use the fast path's representation (``result`` as ``("ok"|"err", value)``, records as
        dicts, variants as ``(case, payload)``; see ``airssys_wasm._fast.fastcall``).
        Define each interface once per artifact. ``with_data=False`` calls them with the WIT
        arguments only; ``gates`` labels functions checked by ``HostServices.call_gate``
        before each call (see ``host_services.define_interface``); ``resources`` maps the
        interface's host resources to ``(class, drop hook)`` (own/borrow values of them are
        the Python objects of each instance's resource table)."""
        if interface not in self.shape.imports:
            raise ConfigError(f"{self.name} does not import {interface!r}; it imports "
                              + (", ".join(sorted(self.shape.imports)) or "nothing"))
        if interface == HOST_SERVICES:
            raise ConfigError(f"{HOST_SERVICES} is provided by the runtime; pass HostServices "
                              "(directory=..., messaging=...) to instantiate() instead")
        try:
            host_services.define_interface(self.linker, self.component, self.engine.wasm_engine,
                                           interface, functions, with_data=with_data,
                                           gates=gates, resources=resources)
        except LookupError as exc:  # a function name the component does not import
            raise ConfigError(f"{self.name}: cannot define {interface}: {exc}") from None


class CoreModuleArtifact(Artifact):
    """A compiled core module of the core-ABI lane (``memory``, ``alloc``, ``handle``): messages
    are copied into linear memory with one memcpy, the lane for bulk payloads."""

    kind = "core"
    _instance_class = CoreInstance

    def __init__(self, engine: Engine, name: str, digest: str, module: wasmtime.Module,
                 shape: CoreShape) -> None:
        super().__init__(engine, name, digest, shape.exports)
        self.module = module
        #: Core-ABI modules import nothing; the (empty) Linker instantiates through the C API.
        self.linker = wasmtime.Linker(engine.wasm_engine)
        #: The module pre-linked once (wasmtime's instance-pre): every instance skips linking.
        self.instance_pre = InstancePre(self.linker, module)
        self.core_exports = frozenset(e.name for e in module.exports)
