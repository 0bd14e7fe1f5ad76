"""Live instances: one wasmtime Store per actor instance, discarded on the first trap.

A trap poisons the whole Store (even a new instance in the same Store fails with "cannot enter
component instance"), so an instance that traps closes its Store and refuses further calls;
:meth:`Instance.fresh` (or ``artifact.instantiate``) builds a new Store from the compiled
artifact. wasmtime-py makes the Store; instantiation and every call go through the Cython fast
path (``_fast.fastcall``), i.e. wasmtime's async C API: component exports as
:class:`ComponentFunc` objects whose conversion plans are compiled once per artifact, core
modules through :class:`CoreLane` / :class:`CoreFunc`. Per-call limits (fuel refill, the
wall-clock deadline) are attached to the Store once and armed in C on every call; with epoch
interruption on, a guest that computes longer than its time slice yields.

Two ways to drive an instance. By default (``suspendable = False``) every method runs the guest
to the end and returns its value: time slices resume at once and async host functions do their
work inline, as plain synchronous code expects. An actor sets ``suspendable = True``: a method
whose guest suspends (a slice ran out, ``sleep-millis``, host I/O) then returns the
:class:`GuestCall` instead; the actor's scheduler polls it and ``finish()`` yields what the
method would have returned (or raises what it would have raised). An instance is not
thread-safe: use it from one thread at a time (an actor does).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

import wasmtime

from airssys_wasm._fast.fastcall import (
    ComponentFunc,
    CoreFunc,
    CoreLane,
    FramePath,
    GuestCall,
    NativeStore,
    configure_store,
    instantiate_exports,
    release_resources,
)
from airssys_wasm.errors import (
    ActorStateError,
    CallCancelled,
    ConfigError,
    GuestError,
    LoadError,
    TrapError,
    TrapKind,
)
from airssys_wasm.runtime import _values as values
from airssys_wasm.runtime.address_space import enomem_hint
from airssys_wasm.runtime.host_services import HostServices
from airssys_wasm.runtime.limits import Limits
from airssys_wasm.runtime.traps import to_trap_error
from airssys_wasm.runtime.wasi import NO_WASI, GuestOutput, WasiSettings
from airssys_wasm.types import (
    ComponentConfig,
    ComponentId,
    ComponentMetadata,
    ExecutionContext,
    HealthStatus,
)

#: Where a failing host function is reported, with its traceback (the guest traps).
_host_log = logging.getLogger("airssys_wasm.host_functions")

if TYPE_CHECKING:
    from airssys_wasm.runtime.artifact import Artifact, ComponentArtifact, CoreModuleArtifact
    from airssys_wasm.runtime.engine import Engine

__all__ = ["ComponentInstance", "CoreInstance", "Instance"]

#: Fuel given to a call when fuel metering is on but the component has no fuel limit.
UNLIMITED_FUEL = 2**63 - 1
_HEALTH = list(HealthStatus)
_PAGE = 65536
_OK = "ok"


#: Distinct Limits objects whose settings an engine keeps (``Engine.store_settings``, cleared
#: past this).
_SETTINGS_MAX = 1024


def _store_settings(name: str, engine: Engine, limits: Limits) -> tuple[Any, ...]:
    """``(limits, start_ticker, fuel, slice_ticks, timeout_s, limiter)`` for Stores
    of ``engine`` under ``limits``; ConfigError for limits the engine cannot enforce."""
    cfg = engine.config
    if limits.fuel is not None and not cfg.consume_fuel:
        raise ConfigError(
            f"{name}: Limits.fuel={limits.fuel} needs fuel metering; create the Engine with "
            "EngineConfig(consume_fuel=True) or use Limits(fuel=None)")
    if limits.timeout_ms is not None and not cfg.epoch_interruption:
        raise ConfigError(
            f"{name}: Limits.timeout_ms={limits.timeout_ms} needs epoch interruption "
            "(the guest must yield to be stopped); use EngineConfig(epoch_interruption=True) "
            "or Limits(timeout_ms=None)")
    if limits.stack_bytes is not None and limits.stack_bytes > cfg.wasm_stack:
        raise ConfigError(
            f"{name}: asks for a {limits.stack_bytes}-byte stack but the engine's wasm stack "
            f"is {cfg.wasm_stack} bytes (stack size is engine-wide in wasmtime); raise "
            "EngineConfig.max_wasm_stack or lower [limits] stack")
    timeout = limits.timeout_ms
    fuel = (limits.fuel if limits.fuel is not None else UNLIMITED_FUEL) if cfg.consume_fuel else None
    ticks = engine.slice_ticks(limits.slice_us) if cfg.epoch_interruption else None
    return (limits, bool(cfg.epoch_interruption), fuel, ticks,
            None if timeout is None else timeout / 1000.0,
            (limits.memory_bytes, limits.table_elements, limits.instances, limits.tables,
             limits.memories))


class Instance(ABC):
    """One instantiated component or core module in its own Store."""

    _store: NativeStore | None

    def __init__(self, artifact: Artifact, limits: Limits, services: HostServices, *,
                 wasi: WasiSettings | None = None) -> None:
        self.artifact = artifact
        self.limits = limits
        self.services = services
        #: The name errors and logs give: the one the component is known by (its services'
        #: component-id), not the artifact's, which every component spawned from the same
        #: source shares. Set before the Store exists, so a refused instantiation names it too.
        self.name = services.component.name
        engine = self._engine = artifact.engine
        # What the limits mean for a Store of this engine, checked and computed once per
        # Limits object (the entry keeps it alive, so its id stays its own): a supervisor
        # restarts with the same Limits object every time.
        cache = engine.store_settings
        settings = cache.get(id(limits))
        if settings is None or settings[0] is not limits:
            settings = _store_settings(self.name, engine, limits)
            if len(cache) >= _SETTINGS_MAX:
                cache.clear()
            cache[id(limits)] = settings
        if settings[1]:
            engine.start_ticker()  # a no-op while it runs; ConfigError once the engine closed
        # Made in C; its wasmtime-py view only for WASI setup and wasmtime-py exports.
        store = self._store = engine.stores.new()
        #: The guest's WASI stdout/stderr (None for guests that do not import wasi:*).
        self.output: GuestOutput | None = None
        if artifact.imports_wasi:
            settings_wasi = wasi or NO_WASI
            self.output = GuestOutput(self.name, settings_wasi.output)
            with settings_wasi.config(self.output) as wasi_config:
                store.wasmtime_store().set_wasi(wasi_config)
        self.wasi = wasi
        # Every call into this Store refills the fuel, restarts its time slice and sets its
        # wall-clock deadline in C; host functions receive ``services`` (whose capabilities to
        # check) as their first argument. Instantiation is a call like any other.
        # The Store's resource limits are set here too, in C (configure_store's ``limits``).
        configure_store(store, data=services, fuel=settings[2], slice_ticks=settings[3],
                        timeout=settings[4], max_list=limits.max_message_bytes,
                        limits=settings[5])
        #: Return a GuestCall when the guest suspends (actors) instead of driving it here.
        self.suspendable = False
        self._pending: GuestCall | None = None
        self.trap: TrapError | None = None
        #: The C message path handed out by ``message_path`` (closed with the Store).
        self._path: FramePath | None = None
        self._instantiate_guarded()

    # -- lifecycle of the Store -------------------------------------------------------------

    @property
    def exports(self) -> frozenset[str]:
        """Lifecycle functions this instance provides (``handle-message`` always)."""
        return self.artifact.exports

    def has(self, export: str) -> bool:
        """True if the guest exports the lifecycle function ``export``; optional calls check it
        first."""
        return export in self.artifact.exports

    @property
    def closed(self) -> bool:
        """True once the Store is gone (closed, or discarded after a trap): a trapped Store is
        poisoned, so the only way on is a fresh instance from the same artifact."""
        return self._store is None

    @property
    def poisoned(self) -> bool:
        """True once a trap has discarded this instance's Store."""
        return self.trap is not None

    def fresh(self) -> Instance:
        """A new instance of the same artifact with the same limits, services and WASI settings."""
        return self.artifact.instantiate(self.limits, self.services, wasi=self.wasi)

    @property
    def pending(self) -> GuestCall | None:
        """The suspended call of this instance, if one is in flight."""
        call = self._pending
        return None if call is None or call.finished else call

    def close(self) -> None:
        """Release the Store (and its linear memory); a suspended call is cancelled first.
        Idempotent. Host resource objects the guest still holds are released with it (their
        drop hooks run; one that raises is logged)."""
        call, self._pending = self._pending, None
        if call is not None:
            call.cancel("its instance was closed")
        if self._path is not None:
            self._path.close()
        store, self._store = self._store, None
        if store is not None:
            for exc in release_resources(store):
                _host_log.error("%s: a host resource's drop hook raised %s while its Store was "
                                "released", self.name, type(exc).__name__, exc_info=exc)
            store.close()
            if self.output is not None:
                self.output.flush()

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require_store(self) -> NativeStore:
        if self._store is None:
            if self.trap is not None:
                raise ActorStateError(
                    f"{self.name}: this instance was discarded after a trap ({self.trap.kind.value}); "
                    "call .fresh() (or artifact.instantiate()) for a new instance")
            raise ActorStateError(f"{self.name}: this instance is closed; call .fresh() for a new one")
        return self._store

    def _call(self, export: str, func: Any, *args: Any, then: Callable[[Any], Any] | None = None
              ) -> Any:
        """One guest call through the fast path, ``then(result)`` after it; a trap discards
        the Store.

        ``func`` is a fast-path callable with a ``start`` (suspendable) variant. Arguments the
        plan refuses raise TypeError/ValueError before the guest is entered: the Store stays
        intact. Limits are armed by the fast path itself (see ``configure_store``). When the
        guest suspends (``suspendable`` instances only), the GuestCall is returned with the
        rest of this method chained to it.
        """
        if self._store is None:
            self._require_store()
        try:
            out = func.start(*args) if self.suspendable else func(*args)
        except TrapError as trap:
            raise self._discard(trap, export) from (trap.__cause__ or trap)
        if type(out) is GuestCall:
            self._pending = out
            return out.then(partial(self._resumed, export, then))
        return out if then is None else then(out)

    def _resumed(self, export: str, then: Callable[[Any], Any] | None,
                 get: Callable[[], Any]) -> Any:
        """The rest of :meth:`_call` once a suspended call finished (``get`` its outcome)."""
        self._pending = None
        try:
            out = get()
        except TrapError as trap:
            raise self._discard(trap, export) from (trap.__cause__ or trap)
        return out if then is None else then(out)

    def _discard(self, exc: BaseException, export: str) -> TrapError:
        self.services.request = None  # a call suspended in execute ends here too
        if isinstance(exc, CallCancelled):  # interrupted mid-call: the Store may be inconsistent
            exc.component = self.name
            self._poison(exc)
            return exc
        host_failure = exc.__cause__ if isinstance(exc, TrapError) else None
        stderr = self.output.stderr_tail if self.output is not None else ()
        if host_failure is not None:
            _host_log.error("%s: a host function raised %s during %s; the guest traps (kind "
                            "host_error), the host continues", self.name,
                            type(host_failure).__name__, export, exc_info=host_failure)
            trap = TrapError(f"{self.name}: a host function failed during {export}: "
                             f"{host_failure!r}; the instance was discarded", TrapKind.HOST_ERROR,
                             component=self.name, backtrace=getattr(exc, "backtrace", ""),
                             stderr=stderr)
        else:
            trap = to_trap_error(exc, component=self.name, export=export,
                                 memory_at_limit=self._memory_at_limit(),
                                 memory_limit=self.limits.memory_bytes,
                                 memory_observable=self._memory_observable, stderr=stderr)
        self._poison(trap)
        return trap

    def _poison(self, trap: TrapError) -> None:
        self.trap = trap
        self._pending = None  # finished (it is what failed): nothing left to cancel
        self.close()

    def _memory_at_limit(self) -> bool:
        """Whether the guest's memory could not grow by another page, when observable.

        wasmtime's component API does not expose a component's core memories, so component
        instances answer False: for them ``memory_limit`` comes from wasmtime's own limit errors
        (e.g. instantiation over the limit) and from memory faults, whose message carries the
        memory size. Core-ABI instances export ``memory``, so any trap can be attributed.
        """
        return False

    def memory_bytes(self) -> int | None:
        """The guest's linear memory size now, where the host can see it: core-ABI instances
        export their memory; a component's memories are internal to it (None, see
        ``_memory_at_limit``), and a closed or trapped instance has none (None)."""
        return None

    #: Whether :meth:`_memory_at_limit` can tell (the message of an unexplained abort says so).
    _memory_observable = False

    def _instantiate_guarded(self) -> None:
        store = self._store  # just made by __init__, the only caller
        if store is None:
            store = self._require_store()
        try:
            self._instantiate(store)
        except (wasmtime.WasmtimeError, wasmtime.Trap, TrapError) as exc:
            trap = self._discard(exc, "instantiate")
            cause = str(exc).strip()
            if trap.kind is not TrapKind.OTHER or "wasm trap" in cause:
                raise trap from exc
            if "resource limit exceeded" in cause:
                raise ConfigError(f"{self.name}: cannot instantiate within its limits: {cause}; "
                                  "raise the matching Limits field ([limits] instances/tables)") from None
            if "exceeds table limits" in cause:  # a table declared larger than Limits allows
                raise ConfigError(f"{self.name}: cannot instantiate within its limits: {cause}; "
                                  f"raise Limits.table_elements (now "
                                  f"{self.limits.table_elements:,})") from None
            if "os error 12" in cause:  # ENOMEM from mmap/mprotect: usually out of mappings
                raise ConfigError(f"{self.name}: the kernel refused memory for a new instance "
                                  f"({cause}): {enomem_hint()}") from None
            if "maximum concurrent limit" in cause:
                raise ConfigError(f"{self.name}: the engine's instance pool is full: {cause}; close "
                                  "unused instances or raise EngineConfig.pooling slots") from None
            # Linking failed (e.g. an import nobody provides): the artifact cannot run here.
            raise LoadError(f"{self.name}: cannot instantiate: {cause}; provide the missing "
                            "imports or fix the component") from None
        except BaseException:
            self.close()
            raise

    @abstractmethod
    def _instantiate(self, store: NativeStore) -> None: ...

    # -- the lifecycle API -----------------------------------------------------------------

    # Each lifecycle method returns its value, or -- on a ``suspendable`` instance whose guest
    # suspended -- the GuestCall whose ``finish()`` returns (or raises) it later.

    @abstractmethod
    def handle_message(self, sender: ComponentId, message: bytes) -> GuestCall | None:
        """Deliver one message (a multicodec frame); GuestError if the guest returns an error."""

    def message_path(self, other: Callable[[Any], Any],
                     settle: Callable[[Any, Any], Any]) -> FramePath | None:
        """``handle_message`` as one C callable for an actor's batches, or None where there is
        none (core-ABI instances, a closed instance): see ``FramePath``.

        The path calls ``handle-message`` for each ``(sender, frame)`` envelope and returns None
        when the guest answered ``ok``. ``other(envelope)`` gets every other envelope, and all of
        them once this instance is closed; ``settle(envelope, out)`` gets any other result
        (hand it to :meth:`settle_message`). A trap discards the Store and raises, as
        ``handle_message`` does. A new path closes the one made before."""
        return None

    def settle_message(self, out: Any) -> GuestCall | None:
        """What a result a message path handed to ``settle`` means (see ``message_path``)."""
        raise TypeError(f"{type(self).__name__} has no message path")

    @staticmethod
    def _check_sender(sender: ComponentId) -> None:
        if not isinstance(sender, ComponentId):
            raise TypeError(f"sender must be a ComponentId, not {type(sender).__name__}; "
                            "use ComponentId.parse('namespace/name@version')")

    @abstractmethod
    def execute(self, operation: bytes, ctx: ExecutionContext | None = None) -> bytes | GuestCall:
        """Run a request and return the reply bytes; GuestError if unsupported or refused."""

    @abstractmethod
    def init(self, config: ComponentConfig | None = None) -> GuestCall | None:
        """Call the guest's optional ``init`` with ``config`` (env vars and config data) before any
        message, so a component can refuse a bad configuration instead of failing later.

        Returns the pending ``GuestCall`` when the call suspended (an actor drives it), None when
        it finished; GuestError if the guest answered an error. Without ``init`` it does nothing.
        """

    @abstractmethod
    def health(self) -> HealthStatus | GuestCall:
        """The guest's health; HEALTHY when it does not export `health` (healthy while it answers)."""

    @abstractmethod
    def shutdown(self) -> GuestCall | None:
        """Call the guest's optional ``shutdown`` so it can flush what it holds; the host calls it
        when a component stops gracefully or is upgraded. Without ``shutdown`` it does nothing."""

    def metadata(self) -> ComponentMetadata | GuestCall | None:
        """The guest's self-description, or None if it does not export `metadata`."""
        return None

    def handle_callback(self, request_id: str, *, reply: bytes | None = None,
                        error: str | None = None) -> GuestCall | None:
        """Deliver the outcome of a send-request: exactly one of ``reply`` / ``error``."""
        raise self._unsupported("handle-callback")

    def _unsupported(self, export: str) -> GuestError:
        return GuestError(f"{self.name} does not export `{export}`; check instance.has({export!r}) "
                          "before calling it", case="unsupported", export=export)


def _sender_record(sender: ComponentId) -> dict[str, str]:
    """The WIT record of a message's sender (TypeError for anything but a ComponentId)."""
    Instance._check_sender(sender)
    return values.component_id_to_wit(sender)


def _guest_error(component: str, export: str, err: tuple[str, Any]) -> GuestError:
    """GuestError from a guest's error value, a ``(case, payload)`` variant (every lifecycle
    function's error type is one)."""
    tag, payload = err
    detail = "" if payload is None else str(payload)
    return GuestError(f"{component}: {export} returned {tag}: {detail}", case=tag, detail=detail,
                      export=export)


class ComponentInstance(Instance):
    """An instance of a component-model component (the `list<u8>` lane)."""

    artifact: ComponentArtifact

    def _instantiate(self, store: NativeStore) -> None:
        # The raw instance: exports go from the C API straight into ComponentFuncs.
        self._instance = instantiate_exports(self.artifact.linker, store, self.artifact.export_table)
        #: The callables of exports called again and again (execute, health...), made on first
        #: use. ``init`` and ``metadata`` run once per incarnation and are not kept, and the
        #: dict itself is made with the first kept one: a spawned actor that only handles
        #: messages holds no dict and two ComponentFuncs fewer for every GC pass to walk.
        self._funcs: dict[str, ComponentFunc] | None = None
        self._handle = self._func(store, "handle-message")
        self._sender: ComponentId | None = None
        self._sender_wit: dict[str, str] = {}

    def _func(self, store: NativeStore, export: str) -> ComponentFunc:
        """The fast-path callable of ``export`` (a new one per call of this method: callers keep
        what they call again); its plan is compiled once per artifact."""
        plans = self.artifact.plans
        plan = plans.get(export)
        try:
            call = self._instance.func(export, plan)
        except LookupError:  # validated at load; only a wasmtime inconsistency gets here
            raise TrapError(f"{self.name}: export {export} vanished at instantiation",
                            component=self.name) from None
        if plan is None:
            plans[export] = call.plan
        return call

    def _result(self, export: str, *args: Any, then: Callable[[Any], Any] | None = None,
                keep: bool = True) -> Any:
        """Call ``export`` through ``_call``; ``keep``: cache its callable for the next call
        (False for the exports called once per incarnation)."""
        funcs = self._funcs
        func = None if funcs is None else funcs.get(export)
        if func is None:
            store = self._store
            func = self._func(store if store is not None else self._require_store(), export)
            if keep:
                if funcs is None:
                    funcs = self._funcs = {}
                funcs[export] = func
        return self._call(export, func, *args, then=then)

    def _unwrapper(self, export: str) -> Callable[[Any], Any]:
        """The ok value of a ``result``; GuestError for its error case."""
        def unwrap(out: Any) -> Any:
            if out[0] == _OK:
                return out[1]
            raise _guest_error(self.name, export, out[1])
        return unwrap

    def _handled(self, out: Any) -> None:
        if out[0] != _OK:
            raise _guest_error(self.name, "handle-message", out[1])

    def handle_message(self, sender: ComponentId, message: bytes) -> GuestCall | None:
        """Deliver one frame to ``handle-message`` through the canonical ABI (the sender's
        component-id is converted once per sender, not per message). GuestError on an ``err``
        answer."""
        if sender is not self._sender:  # actors send many messages per sender: convert once
            self._sender_wit = _sender_record(sender)
            self._sender = sender
        if self._store is None:  # the hot path: Instance._call, inlined
            self._require_store()
        handle = self._handle
        try:
            out = handle.start(self._sender_wit, message) if self.suspendable \
                else handle(self._sender_wit, message)
        except TrapError as trap:
            self._message_failed(None, trap)
        return self.settle_message(out)

    def settle_message(self, out: Any) -> GuestCall | None:
        """What a ``handle-message`` result means: None for ``ok``, GuestError for an error
        answer, and for a suspended call its GuestCall (``finish`` raises the GuestError)."""
        if type(out) is GuestCall:
            self._pending = out
            return out.then(partial(self._resumed, "handle-message", self._handled))
        self._handled(out)
        return None

    def _message_failed(self, envelope: object, exc: Exception) -> NoReturn:
        """A ``handle-message`` call raised ``exc``: a trap discards the Store."""
        if isinstance(exc, TrapError):
            raise self._discard(exc, "handle-message") from (exc.__cause__ or exc)
        raise exc

    def message_path(self, other: Callable[[Any], Any],
                     settle: Callable[[Any, Any], Any]) -> FramePath | None:
        """The instance's ``FramePath`` over its ``handle-message`` (see
        ``Instance.message_path``); None once the Store is gone."""
        if self._store is None:
            return None
        if self._path is not None:
            self._path.close()
        self._path = FramePath(self._handle, _sender_record, other, settle,
                               self._message_failed, self.suspendable)
        return self._path

    def execute(self, operation: bytes, ctx: ExecutionContext | None = None) -> bytes | GuestCall:
        """Call ``execute(operation, ctx)`` and return its ``ok`` bytes; GuestError on ``err`` or
        when the component has no ``execute``. ``ctx`` defaults to the instance's timeout."""
        if "execute" not in self.artifact.export_indices:
            raise self._unsupported("execute")
        if ctx is None:
            ctx = ExecutionContext(timeout_ms=self.limits.timeout_ms or 0)
        services = self.services
        services.request = ctx  # what host functions see as the caller's request
        unwrap = self._unwrapper("execute")

        def done(out: Any) -> Any:
            services.request = None
            return unwrap(out)
        try:
            out = self._result("execute", operation, values.context_to_wit(ctx), then=done)
        except BaseException:
            services.request = None
            raise
        return out

    def init(self, config: ComponentConfig | None = None) -> GuestCall | None:
        """``init`` of the component lane: the config is lowered to the WIT ``component-config``.
        """
        if "init" not in self.artifact.export_indices:
            return None
        return self._result("init", values.config_to_wit(config), then=self._init_done,
                            keep=False)

    def _init_done(self, out: Any) -> None:
        """``init``'s answer: GuestError for its ``err`` case (a method, not an ``_unwrapper``
        closure: the once-per-spawn call makes no function object)."""
        if out[0] != _OK:
            raise _guest_error(self.name, "init", out[1])

    def health(self) -> HealthStatus | GuestCall:
        """The guest's ``health()``, or HEALTHY when it has none ("healthy while it answers")."""
        if "health" not in self.artifact.export_indices:
            self._require_store()
            return HealthStatus.HEALTHY
        return self._result("health", then=HealthStatus)

    def metadata(self) -> ComponentMetadata | GuestCall | None:
        """What the component says about itself (``metadata()``), or None when it does not say."""
        if "metadata" not in self.artifact.export_indices:
            return None
        return self._result("metadata", then=values.metadata_from_wit, keep=False)

    def shutdown(self) -> GuestCall | None:
        """``shutdown`` of the component lane; an ``err`` answer becomes GuestError."""
        if "shutdown" not in self.artifact.export_indices:
            return None
        return self._result("shutdown", then=self._unwrapper("shutdown"))

    def handle_callback(self, request_id: str, *, reply: bytes | None = None,
                        error: str | None = None) -> GuestCall | None:
        """Deliver the outcome of a request this component sent: exactly one of ``reply`` (its
        target answered) or ``error`` (it failed, timed out or was cancelled), so every
        ``send-request`` ends in exactly one callback."""
        if (reply is None) == (error is None):
            raise ValueError("pass exactly one of reply= (bytes) or error= (str)")
        if "handle-callback" not in self.artifact.export_indices:
            raise self._unsupported("handle-callback")
        outcome = ("ok", reply) if reply is not None else ("err", str(error))
        return self._result("handle-callback", request_id, outcome,
                            then=self._unwrapper("handle-callback"))


class CoreInstance(Instance):
    """An instance of a core-ABI module (the memcpy lane for bulk payloads)."""

    artifact: CoreModuleArtifact

    def _instantiate(self, store: NativeStore) -> None:
        # Imports resolved once per artifact (instance-pre); memory, alloc and handle are
        # fetched in C. The other exports are wrapped by wasmtime-py on first use only.
        self._lane: CoreLane = self.artifact.instance_pre.instantiate_lane(store)
        self._exports: Mapping[str, Any] | None = None
        self._sender: ComponentId | None = None
        self._sender_text = b""
        self._core: dict[str, CoreFunc] = {}  # made on first use, as in ComponentInstance
        # ``_handled`` is a method and the execute step is made on first use: a restart makes
        # no closures it may never call.
        self._write: _LaneStep | None = None

    def _core_func(self, name: str) -> CoreFunc:
        func = self._core.get(name)
        if func is None:
            store = self._require_store()
            if self._exports is None:
                inst = self._lane.instance()
                assert inst is not None, "the lane was made by InstancePre.instantiate_lane"
                self._exports = inst.exports(store.wasmtime_store())
            export = self._exports[name]
            assert isinstance(export, wasmtime.Func), f"{name} was validated as a function at load"
            func = self._core[name] = CoreFunc(self._require_store(), export, name)
        return func

    _memory_observable = True

    def _memory_at_limit(self) -> bool:
        size = self.memory_bytes()
        return size is not None and size + _PAGE > self.limits.memory_bytes

    def memory_bytes(self) -> int | None:
        """The exported ``memory``'s size now (what metrics report); None once closed."""
        if self._store is None or not hasattr(self, "_lane"):
            return None
        try:
            return self._lane.memory_size()
        except (ValueError, RuntimeError):  # closed, or the Store is busy on another thread
            return None

    def _discard(self, exc: BaseException, export: str) -> TrapError:
        # The lane's own refusals (a bad pointer from alloc, alloc out of memory) are already
        # classified; they poison the instance all the same: its allocator cannot be trusted.
        if isinstance(exc, TrapError) and not isinstance(exc, CallCancelled) \
                and exc.__cause__ is None and exc.kind in (
                TrapKind.OUT_OF_BOUNDS, TrapKind.MEMORY_LIMIT) and not exc.backtrace:
            trap = TrapError(f"{self.name}: {exc} (during {export})", exc.kind, component=self.name)
            self._poison(trap)
            return trap
        return super()._discard(exc, export)

    def _status_check(self, export: str) -> Callable[[Any], None]:
        def check(rc: Any) -> None:
            if rc != 0:
                raise GuestError(f"{self.name}: {export} returned error code {rc}",
                                 case="error-code", detail=str(rc), export=export)
        return check

    def _handled(self, rc: Any) -> None:
        """``handle``'s status: non-zero becomes GuestError (what ``_status_check`` makes for
        the other exports)."""
        if rc != 0:
            raise GuestError(f"{self.name}: handle returned error code {rc}",
                             case="error-code", detail=str(rc), export="handle")

    def handle_message(self, sender: ComponentId, message: bytes) -> GuestCall | None:
        """Copy the sender's id and the frame into linear memory (``alloc``, one memcpy each) and
        call ``handle``: no per-byte conversion, which is why bulk payloads belong on this lane. A
        non-zero status becomes GuestError."""
        if sender is not self._sender:  # actors send many messages per sender: encode once
            self._check_sender(sender)
            self._sender_text = str(sender).encode()
            self._sender = sender
        if self._store is None:  # the hot path: Instance._call, inlined
            self._require_store()
        lane = self._lane
        try:
            rc = lane.start_handle(self._sender_text, message) if self.suspendable \
                else lane.handle(self._sender_text, message)
        except TrapError as trap:
            raise self._discard(trap, "handle-message") from (trap.__cause__ or trap)
        if type(rc) is GuestCall:
            self._pending = rc
            return rc.then(partial(self._resumed, "handle-message", self._handled))
        if rc != 0:
            self._handled(rc)
        return None

    def execute(self, operation: bytes, ctx: ExecutionContext | None = None) -> bytes | GuestCall:
        """Copy ``operation`` in, call ``execute(ptr, len) -> i64`` and read the reply it points to
        (``ptr << 32 | len``); a negative answer is the guest's error code, raised as GuestError.
        """
        if "execute" not in self.artifact.core_exports:
            raise self._unsupported("execute")
        lane, execute = self._lane, self._core_func("execute")

        def run(ptr: int) -> Any:
            return self._call("execute", execute, ptr, len(operation), then=read)

        def read(packed: int) -> bytes:
            if packed < 0:
                raise GuestError(f"{self.name}: execute returned error code {packed}",
                                 case="error-code", detail=str(packed), export="execute")
            return lane.read(packed >> 32, packed & 0xFFFFFFFF)

        step = self._write
        if step is None:
            step = self._write = _LaneStep(lane.start_write, lane.write)
        return self._call("execute", step, operation, then=run)

    def _status(self, name: str) -> GuestCall | None:
        return self._call(name, self._core_func(name), then=self._status_check(name))

    def init(self, config: ComponentConfig | None = None) -> GuestCall | None:
        """``init() -> i32`` of the core lane, when exported: a non-zero status refuses to start.
        """
        if "init" in self.artifact.core_exports:
            return self._status("init")
        return None

    def health(self) -> HealthStatus | GuestCall:
        """``health() -> i32`` of the core lane (0 healthy, 1 degraded, 2 unhealthy, else unknown),
        or HEALTHY when it has none."""
        if "health" not in self.artifact.core_exports:
            self._require_store()
            return HealthStatus.HEALTHY

        def status(code: int) -> HealthStatus:
            return _HEALTH[code] if 0 <= code < len(_HEALTH) else HealthStatus.UNKNOWN

        return self._call("health", self._core_func("health"), then=status)

    def shutdown(self) -> GuestCall | None:
        """``shutdown() -> i32`` of the core lane, when exported; a non-zero status becomes
        GuestError."""
        if "shutdown" in self.artifact.core_exports:
            return self._status("shutdown")
        return None


class _LaneStep:
    """A core-lane operation in the shape ``_call`` expects: ``start`` suspends, a call runs."""

    __slots__ = ("start", "run")

    def __init__(self, start: Callable[..., Any], run: Callable[..., Any]) -> None:
        self.start = start
        self.run = run

    def __call__(self, *args: Any) -> Any:
        return self.run(*args)
