"""Live instances: one wasmtime Store per actor instance, discarded on the first trap.

A trap poisons the whole Store (even a new instance in the same Store fails with "cannot enter
component instance"), so an instance that traps closes its Store and refuses further calls;
:meth:`Instance.fresh` (or ``artifact.instantiate``) builds a new Store from the compiled
artifact. Every wasmtime-py call is behind a small method (``_call``, ``_write``, ``_handle``,
``_execute``) so the Cython fast path can replace them without touching the policy around them. An instance is not thread-safe:
use it from one thread at a time (an actor does).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime import component as wc

from airssys_wasm.errors import ActorStateError, ConfigError, GuestError, LoadError, TrapError, TrapKind
from airssys_wasm.runtime import _values as values
from airssys_wasm.runtime import host_services as hs
from airssys_wasm.runtime.host_services import HostServices
from airssys_wasm.runtime.limits import Limits
from airssys_wasm.runtime.traps import to_trap_error
from airssys_wasm.runtime.wasi import NO_WASI, WasiSettings
from airssys_wasm.types import (
    ComponentConfig,
    ComponentId,
    ComponentMetadata,
    ExecutionContext,
    HealthStatus,
)

if TYPE_CHECKING:
    from airssys_wasm.runtime.artifact import Artifact, ComponentArtifact, CoreModuleArtifact

__all__ = ["ComponentInstance", "CoreInstance", "Instance"]

#: Fuel given to a call when fuel metering is on but the component has no fuel limit.
UNLIMITED_FUEL = 2**63 - 1
#: Epoch deadline (ticks) meaning "never" when epochs are on but the call has no timeout.
NO_DEADLINE = 2**62
_HEALTH = list(HealthStatus)
_PAGE = 65536


class Instance(ABC):
    """One instantiated component or core module in its own Store."""

    def __init__(self, artifact: Artifact, limits: Limits, services: HostServices, *,
                 wasi: WasiSettings | None = None) -> None:
        self.artifact = artifact
        self.limits = limits
        self.services = services
        self.name = artifact.name
        self._engine = artifact.engine
        cfg = self._engine.config
        if limits.fuel is not None and not cfg.consume_fuel:
            raise ConfigError(
                f"{self.name}: Limits.fuel={limits.fuel} needs fuel metering; create the Engine with "
                "EngineConfig(consume_fuel=True) or use Limits(fuel=None)")
        if limits.timeout_ms is not None:
            self._engine.start_ticker()
        if limits.stack_bytes is not None and cfg.max_wasm_stack is not None \
                and limits.stack_bytes > cfg.max_wasm_stack:
            raise ConfigError(
                f"{self.name}: asks for a {limits.stack_bytes}-byte stack but the engine's wasm stack "
                f"is {cfg.max_wasm_stack} bytes (stack size is engine-wide in wasmtime); raise "
                "EngineConfig.max_wasm_stack or lower [limits] stack")
        self._fuel = cfg.consume_fuel
        self._epochs = cfg.epoch_interruption
        self._store: wasmtime.Store | None = wasmtime.Store(self._engine.wasm_engine)
        self._store.set_limits(memory_size=limits.memory_bytes, table_elements=limits.table_elements,
                               instances=limits.instances, tables=limits.tables,
                               memories=limits.memories)
        if artifact.imports_wasi:
            self._store.set_wasi((wasi or NO_WASI).config())
        self.wasi = wasi
        self.trap: TrapError | None = None
        self._instantiate_guarded()

    # -- lifecycle of the Store -------------------------------------------------------------

    @property
    def exports(self) -> frozenset[str]:
        """Lifecycle functions this instance provides (``handle-message`` always)."""
        return self.artifact.exports

    def has(self, export: str) -> bool:
        return export in self.artifact.exports

    @property
    def closed(self) -> bool:
        return self._store is None

    @property
    def poisoned(self) -> bool:
        """True once a trap has discarded this instance's Store."""
        return self.trap is not None

    def fresh(self) -> Instance:
        """A new instance of the same artifact with the same limits, services and WASI settings."""
        return self.artifact.instantiate(self.limits, self.services, wasi=self.wasi)

    def close(self) -> None:
        """Release the Store (and its linear memory). Idempotent."""
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require_store(self) -> wasmtime.Store:
        if self._store is None:
            if self.trap is not None:
                raise ActorStateError(
                    f"{self.name}: this instance was discarded after a trap ({self.trap.kind.value}); "
                    "call .fresh() (or artifact.instantiate()) for a new instance")
            raise ActorStateError(f"{self.name}: this instance is closed; call .fresh() for a new one")
        return self._store

    def _arm(self, store: wasmtime.Store) -> float | None:
        """Refill fuel and set the epoch deadline for the next call; returns the deadline."""
        if self._fuel:
            store.set_fuel(self.limits.fuel if self.limits.fuel is not None else UNLIMITED_FUEL)
        timeout = self.limits.timeout_ms
        if self._epochs:
            store.set_epoch_deadline(NO_DEADLINE if timeout is None else
                                     self._engine.epoch_ticks(timeout))
        return None if timeout is None else time.monotonic() + timeout / 1000.0

    def _guard(self, export: str, fn: Any, *args: Any) -> Any:
        """Run one guest call with limits armed; a trap discards the Store."""
        store = self._require_store()
        call = hs.ActiveCall(self.services, self._arm(store))
        previous = hs.enter(call)
        try:
            return fn(store, *args)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise self._discard(exc, export) from exc
        except (TrapError, GuestError):
            raise
        except Exception as exc:
            if call.failure is None:  # raised before entering wasm (bad argument): Store intact
                raise
            trap = TrapError(f"{self.name}: a host function failed during {export}: {exc!r}; the "
                             "instance was discarded", TrapKind.OTHER, component=self.name)
            self._poison(trap)
            raise trap from exc
        finally:
            hs.leave(previous)

    def _discard(self, exc: BaseException, export: str) -> TrapError:
        trap = to_trap_error(exc, component=self.name, export=export,
                             memory_at_limit=self._memory_at_limit(),
                             memory_limit=self.limits.memory_bytes)
        self._poison(trap)
        return trap

    def _poison(self, trap: TrapError) -> None:
        self.trap = trap
        self.close()

    def _memory_at_limit(self) -> bool:
        """Whether the guest's memory could not grow by another page, when observable.

        wasmtime's component API does not expose a component's core memories, so component
        instances answer False: for them ``memory_limit`` comes from wasmtime's own limit errors
        (e.g. instantiation over the limit) and from memory faults, whose message carries the
        memory size. Core-ABI instances export ``memory``, so any trap can be attributed.
        """
        return False

    def _instantiate_guarded(self) -> None:
        try:
            self._guard("instantiate", self._instantiate)
        except TrapError as trap:
            cause = str(trap.__cause__ or trap).strip()
            if trap.kind is not TrapKind.OTHER or "wasm trap" in cause:
                raise
            if "resource limit exceeded" in cause:
                raise ConfigError(f"{self.name}: cannot instantiate within its limits: {cause}; "
                                  "raise the matching Limits field ([limits] instances/tables)") from None
            if "maximum concurrent limit" in cause:
                raise ConfigError(f"{self.name}: the engine's instance pool is full: {cause}; close "
                                  "unused instances or raise EngineConfig.pooling slots") from None
            # Linking failed (e.g. an import nobody provides): the artifact cannot run here.
            raise LoadError(f"{self.name}: cannot instantiate: {cause}; provide the missing "
                            "imports or fix the component") from None

    @abstractmethod
    def _instantiate(self, store: wasmtime.Store) -> None: ...

    # -- the lifecycle API -----------------------------------------------------------------

    @abstractmethod
    def handle_message(self, sender: ComponentId, message: bytes) -> None:
        """Deliver one message (a multicodec frame); GuestError if the guest returns an error."""

    @staticmethod
    def _check_sender(sender: ComponentId) -> None:
        if not isinstance(sender, ComponentId):
            raise TypeError(f"sender must be a ComponentId, not {type(sender).__name__}; "
                            "use ComponentId.parse('namespace/name@version')")

    @abstractmethod
    def execute(self, operation: bytes, ctx: ExecutionContext | None = None) -> bytes:
        """Run a request and return the reply bytes; GuestError if unsupported or refused."""

    @abstractmethod
    def init(self, config: ComponentConfig | None = None) -> None: ...

    @abstractmethod
    def health(self) -> HealthStatus:
        """The guest's health; HEALTHY when it does not export `health` (healthy while it answers)."""

    @abstractmethod
    def shutdown(self) -> None: ...

    def metadata(self) -> ComponentMetadata | None:
        """The guest's self-description, or None if it does not export `metadata`."""
        return None

    def handle_callback(self, request_id: str, *, reply: bytes | None = None,
                        error: str | None = None) -> None:
        """Deliver the outcome of a send-request: exactly one of ``reply`` / ``error``."""
        raise self._unsupported("handle-callback")

    def _unsupported(self, export: str) -> GuestError:
        return GuestError(f"{self.name} does not export `{export}`; check instance.has({export!r}) "
                          "before calling it", case="unsupported", export=export)


def _guest_error(component: str, export: str, err: Any) -> GuestError:
    tag = getattr(err, "tag", "error")
    detail = getattr(err, "payload", err)
    detail = "" if detail is None else str(detail)
    return GuestError(f"{component}: {export} returned {tag}: {detail}", case=tag, detail=detail,
                      export=export)


class ComponentInstance(Instance):
    """An instance of a component-model component (the `list<u8>` lane)."""

    artifact: ComponentArtifact

    def _instantiate(self, store: wasmtime.Store) -> None:
        inst = self.artifact.linker.instantiate(store, self.artifact.component)
        self._funcs: dict[str, wc.Func] = {}
        for export, index in self.artifact.export_indices.items():
            func = inst.get_func(store, index)
            if func is None:  # validated at load; only a wasmtime inconsistency gets here
                raise TrapError(f"{self.name}: export {export} vanished at instantiation",
                                component=self.name)
            self._funcs[export] = func

    # One-line call sites, replaceable by the fast path.
    def _call(self, store: wasmtime.Store, export: str, *args: Any) -> Any:
        return self._funcs[export](store, *args)

    def _result(self, export: str, *args: Any) -> Any:
        return self._guard(export, self._call, export, *args)

    def handle_message(self, sender: ComponentId, message: bytes) -> None:
        self._check_sender(sender)
        err = self._result("handle-message", values.component_id_to_wit(sender), bytes(message))
        if err is not None:
            raise _guest_error(self.name, "handle-message", err)

    def execute(self, operation: bytes, ctx: ExecutionContext | None = None) -> bytes:
        if "execute" not in self._funcs:
            raise self._unsupported("execute")
        if ctx is None:
            ctx = ExecutionContext(timeout_ms=self.limits.timeout_ms or 0)
        out = self._result("execute", bytes(operation), values.context_to_wit(ctx))
        if isinstance(out, (bytes, bytearray)):
            return bytes(out)
        raise _guest_error(self.name, "execute", out)

    def init(self, config: ComponentConfig | None = None) -> None:
        if "init" not in self._funcs:
            return
        err = self._result("init", values.config_to_wit(config or ComponentConfig()))
        if err is not None:
            raise _guest_error(self.name, "init", err)

    def health(self) -> HealthStatus:
        if "health" not in self._funcs:
            self._require_store()
            return HealthStatus.HEALTHY
        return HealthStatus(self._result("health"))

    def metadata(self) -> ComponentMetadata | None:
        if "metadata" not in self._funcs:
            return None
        return values.metadata_from_wit(self._result("metadata"))

    def shutdown(self) -> None:
        if "shutdown" not in self._funcs:
            return
        err = self._result("shutdown")
        if err is not None:
            raise _guest_error(self.name, "shutdown", err)

    def handle_callback(self, request_id: str, *, reply: bytes | None = None,
                        error: str | None = None) -> None:
        if (reply is None) == (error is None):
            raise ValueError("pass exactly one of reply= (bytes) or error= (str)")
        if "handle-callback" not in self._funcs:
            raise self._unsupported("handle-callback")
        # result<list<u8>, string> is untagged in wasmtime-py: bytes -> ok, str -> err
        outcome = bytes(reply) if reply is not None else str(error)
        err = self._result("handle-callback", request_id, outcome)
        if err is not None:
            raise _guest_error(self.name, "handle-callback", err)


class CoreInstance(Instance):
    """An instance of a core-ABI module (the memcpy lane for bulk payloads)."""

    artifact: CoreModuleArtifact

    def _instantiate(self, store: wasmtime.Store) -> None:
        inst = wasmtime.Instance(store, self.artifact.module, [])
        exports = inst.exports(store)
        self._memory: wasmtime.Memory = exports["memory"]  # type: ignore[assignment]
        self._core: dict[str, wasmtime.Func] = {
            name: exports[name] for name in ("alloc", "handle", "init", "execute", "health", "shutdown")
            if name in self.artifact.core_exports}  # type: ignore[misc]

    def _memory_at_limit(self) -> bool:
        if self._store is None or not hasattr(self, "_memory"):
            return False
        try:
            return self._memory.data_len(self._store) + _PAGE > self.limits.memory_bytes
        except (wasmtime.WasmtimeError, ValueError):
            return False

    # One-line call sites, replaceable by the fast path.
    def _call(self, store: wasmtime.Store, name: str, *args: int) -> int:
        return self._core[name](store, *args)  # type: ignore[return-value]

    def _write(self, store: wasmtime.Store, export: str, data: bytes) -> int:
        """Copy ``data`` into guest memory through the guest's alloc; returns the pointer."""
        ptr = self._call(store, "alloc", len(data)) if data else 0
        if data and ptr == 0:
            raise TrapError(f"{self.name}: alloc({len(data)}) returned 0 during {export} - the guest "
                            "is out of memory; raise [limits] memory or send smaller payloads",
                            TrapKind.MEMORY_LIMIT, component=self.name)
        if data:
            end = ptr + len(data)
            if ptr < 0 or end > self._memory.data_len(store):
                raise TrapError(f"{self.name}: alloc returned {ptr:#x}, outside its memory, during "
                                f"{export}; the module's allocator is broken", TrapKind.OUT_OF_BOUNDS,
                                component=self.name)
            self._memory.write(store, data, ptr)
        return ptr

    def _handle(self, store: wasmtime.Store, sender: bytes, message: bytes) -> int:
        ptr = self._write(store, "handle-message", sender + message)
        return self._call(store, "handle", ptr, len(sender), ptr + len(sender), len(message))

    def _execute(self, store: wasmtime.Store, operation: bytes) -> bytes | int:
        ptr = self._write(store, "execute", operation)
        packed = self._call(store, "execute", ptr, len(operation))
        if packed < 0:
            return packed
        out_ptr, out_len = packed >> 32, packed & 0xFFFFFFFF
        if out_ptr + out_len > self._memory.data_len(store):
            raise TrapError(f"{self.name}: execute returned a reply outside its memory "
                            f"({out_ptr:#x}+{out_len})", TrapKind.OUT_OF_BOUNDS, component=self.name)
        return bytes(self._memory.read(store, out_ptr, out_ptr + out_len))

    def _guard_poisoning(self, export: str, fn: Any, *args: Any) -> Any:
        try:
            return self._guard(export, fn, *args)
        except TrapError as trap:
            if not self.poisoned:  # raised by our own checks, not by wasmtime
                self._poison(trap)
            raise

    def handle_message(self, sender: ComponentId, message: bytes) -> None:
        self._check_sender(sender)
        rc = self._guard_poisoning("handle-message", self._handle, str(sender).encode(), bytes(message))
        if rc != 0:
            raise GuestError(f"{self.name}: handle returned error code {rc}", case="error-code",
                             detail=str(rc), export="handle-message")

    def execute(self, operation: bytes, ctx: ExecutionContext | None = None) -> bytes:
        if "execute" not in self._core:
            raise self._unsupported("execute")
        out = self._guard_poisoning("execute", self._execute, bytes(operation))
        if isinstance(out, int):
            raise GuestError(f"{self.name}: execute returned error code {out}", case="error-code",
                             detail=str(out), export="execute")
        return out

    def _status(self, name: str) -> int:
        return self._guard_poisoning(name, self._call, name)  # type: ignore[no-any-return]

    def init(self, config: ComponentConfig | None = None) -> None:
        if "init" in self._core and (rc := self._status("init")) != 0:
            raise GuestError(f"{self.name}: init returned error code {rc}", case="error-code",
                             detail=str(rc), export="init")

    def health(self) -> HealthStatus:
        if "health" not in self._core:
            self._require_store()
            return HealthStatus.HEALTHY
        code = self._status("health")
        return _HEALTH[code] if 0 <= code < len(_HEALTH) else HealthStatus.UNKNOWN

    def shutdown(self) -> None:
        if "shutdown" in self._core and (rc := self._status("shutdown")) != 0:
            raise GuestError(f"{self.name}: shutdown returned error code {rc}", case="error-code",
                             detail=str(rc), export="shutdown")
