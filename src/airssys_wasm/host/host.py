"""``airssys_wasm.Host``: spawn WebAssembly components as supervised actors and talk to them.

One host = one Engine (shared compiled code, one epoch ticker), one actor system with a root
supervisor, one registry + router of component names, one request table and one broker::

    async with aw.Host() as host:
        await host.spawn("greeter", "greeter.wasm")
        await host.send("greeter", mc.encode(mc.Codec.JSON, b'{"hi": 1}'))
        reply = await host.request("greeter", b"op", timeout=1.0)

Messages from Python carry ``HostConfig.host_id`` as their sender. Leaving the ``async with``
stops every component gracefully (queued messages are handled, then ``shutdown`` is called).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

from airssys_wasm._fast._router import Router, SendGate, as_frame
from airssys_wasm.actor import (
    ActorRef,
    ActorState,
    ActorStats,
    ActorSystem,
    Backoff,
    ChildSpec,
    DeadLetter,
    Event,
    HealthCheck,
    LifecycleEvent,
    RestartPolicy,
    Supervisor,
    SupervisorStrategy,
)
from airssys_wasm.errors import (
    ActorStateError,
    ComponentNotFound,
    ConfigError,
    LoadError,
    MailboxFull,
    MessageTooLarge,
    PermissionDenied,
    RequestTimeout,
    SupervisorEscalation,
)
from airssys_wasm.host.component_actor import ComponentActorFactory
from airssys_wasm.host import ext_filesystem, ext_process
from airssys_wasm.host.config import HostConfig
from airssys_wasm.host.defaults import Default
from airssys_wasm.host.ext_network import INTERFACE as NETWORK
from airssys_wasm.host.ext_network import Connections
from airssys_wasm.host.ext_process import Processes
from airssys_wasm.host.ext_storage import INTERFACE as STORAGE
from airssys_wasm.host.ext_storage import Storage
from airssys_wasm.host.interfaces import (
    HostInterface,
    InterfaceRegistry,
    builtin_interfaces,
    check_imports,
)
from airssys_wasm.host.metrics import EventCounters
from airssys_wasm.host.policy import (
    EXTENSIONS,
    MESSAGING_SEND,
    Admission,
    default_security,
    refused_hook,
)
from airssys_wasm.host.registry import ComponentEntry, ComponentStats, Registry, check_name
from airssys_wasm.host.remote import Delivery, LatticeLink
from airssys_wasm.host.requests import RequestEnvelope, RequestStats, RequestTable
from airssys_wasm.host.router import HostMessaging
from airssys_wasm.runtime import Artifact, ComponentArtifact, Engine, HostServices, Limits, Source
from airssys_wasm.types import CallerInfo, ComponentConfig, ComponentId, HealthStatus

if TYPE_CHECKING:  # upgrade and prometheus load in the methods that use them, seldom called
    from airssys_wasm.host.prometheus import MetricsServer

__all__ = ["ComponentRef", "Host", "RemoteRef"]

#: How many given-up components ``Host.ref``/``Host.stats`` keep answering for (oldest dropped).
_GIVEN_UP_KEPT = 1000

#: Where guests' log lines go: looked up once here, not per spawn (``logging.getLogger`` takes a
#: lock; ``HostServices`` would otherwise call it for every component).
_COMPONENT_LOGGER = logging.getLogger("airssys_wasm.component")


class ComponentRef:
    """Handle on a spawned component; stays valid across restarts (same name, same mailbox)."""

    __slots__ = ("name", "component_id", "_host", "actor")

    def __init__(self, host: Host, entry: ComponentEntry, actor: ActorRef) -> None:
        self.name = entry.name
        self.component_id = entry.component_id
        self._host = host
        self.actor = actor

    @property
    def state(self) -> ActorState:
        """Where the component is in its lifecycle now (``running``, ``stopping``, ``failed``...).

        Read it before an operation that needs a running component (``upgrade`` refuses one that
        is restarting or stopping); it follows the actor, so it stays current across restarts."""
        return self.actor.state

    @property
    def stats(self) -> ActorStats:
        """Actor counters (messages in/out, restarts, failures, dead letters)."""
        return self.actor.stats

    @property
    def error(self) -> BaseException | None:
        """The last failure; the ``SupervisorEscalation`` once it was given up on (``failed``)."""
        return self.actor.error

    async def send(self, message: bytes) -> None:
        """``Host.send`` to this component, for code that holds the handle rather than the name."""
        await self._host.send(self.name, message)

    async def request(self, message: bytes, timeout: float | None = None) -> bytes:
        """``Host.request`` to this component: the reply of its ``execute``, or ``RequestTimeout``.
        """
        return await self._host.request(self.name, message, timeout)

    async def health(self) -> HealthStatus:
        """``Host.health`` of this component: probe it now, between two of its batches."""
        return await self._host.health(self.name)

    async def stop(self) -> None:
        """``Host.stop`` of this component: drain its queue, call its ``shutdown``, unregister it.
        """
        await self._host.stop(self.name)

    def __repr__(self) -> str:
        return f"<ComponentRef {self.component_id} {self.state.value}>"


class RemoteRef(ComponentRef):
    """Handle on a component placed on another node of the lattice: the ComponentRef
    operations (send, request, health, stop), routed to its node; it follows the component
    when it fails over. ``state`` and ``error`` are what its placement says; its actor and
    counters live on its node, so ``actor`` and ``stats`` raise ActorStateError."""

    __slots__ = ("_lattice",)

    def __init__(self, host: Host, name: str, component_id: ComponentId,
                 lattice: LatticeLink) -> None:
        self.name = name
        self.component_id = component_id
        self._host = host
        self._lattice = lattice

    @property
    def node(self) -> str | None:
        """The node it is placed on now (None while it moves to another)."""
        return self._lattice.where(self.name)

    @property
    def actor(self) -> ActorRef:  # type: ignore[override]
        """Not here: the actor runs on ``node``."""
        raise ActorStateError(f"component {self.name!r} runs on node {self.node!r}: its actor is "
                              "there; use send/request/health/stop, or that node's stats")

    @property
    def state(self) -> ActorState:
        """Its lifecycle state as its placement records it (running, starting, failed)."""
        return self._lattice.state(self.name)[0]

    @property
    def stats(self) -> ActorStats:
        """Not here: its counters are kept by its node."""
        raise ActorStateError(f"the counters of {self.name!r} are kept by node {self.node!r}; "
                              "read them there (airssys-wasm node shows them in its table)")

    @property
    def error(self) -> BaseException | None:
        """Why it failed, when its placement says failed."""
        return self._lattice.state(self.name)[1]

    def __repr__(self) -> str:
        return f"<RemoteRef {self.component_id} on {self.node} {self.state.value}>"


class Host:
    """The embedded host: one process, one asyncio loop. Use it as ``async with Host() as h``."""

    def __init__(self, config: HostConfig | None = None, *, engine: Engine | None = None,
                 lattice: LatticeLink | None = None) -> None:
        self.config = config or HostConfig()
        #: The lattice this host is a node of (``aw.Lattice``), or None: one process, no server.
        self.lattice = lattice
        self._own_engine = engine is None
        #: Every entry's ``on_incarnation``: one bound method for the host, not one per spawn.
        self._on_incarnation: Callable[[str], None] = self._release_ext
        self.engine = engine if engine is not None else Engine(self.config.engine)
        #: Admission at spawn and the check before every guest -> host action.
        self.security = default_security(self.config)
        #: Guests' open sockets/listeners and child processes, per component.
        self.connections = Connections(self.security, self.config.resolver)
        self.processes = Processes(self.security)
        #: Key-value namespaces shared by the components granted them (ext-storage).
        self.storage = Storage(self.security, self.config.storage_dir)
        self._ext_functions: dict[str, Mapping[str, Callable[..., Any]]] = {
            ext_filesystem.INTERFACE: ext_filesystem.functions(self.security),
            NETWORK: self.connections.functions(),
            ext_process.INTERFACE: self.processes.functions(),
            STORAGE: self.storage.functions(),
        }
        self._linked: set[tuple[int, str]] = set()
        #: id(artifact) -> (artifact, its airssys:ext-* imports sorted): walked once per artifact.
        self._ext_imports: dict[int, tuple[Artifact, tuple[str, ...]]] = {}
        #: Custom interfaces (``provide`` / ``HostConfig.interfaces``), linked at spawn.
        self.interfaces = InterfaceRegistry(self.security, self.config.interfaces)
        self.registry = Registry(remote=lattice)
        self.router = Router()
        self.system: ActorSystem | None = None
        self.requests: RequestTable | None = None
        self.messaging: HostMessaging | None = None
        self._artifacts: dict[tuple[Any, ...], Artifact] = {}
        #: Sources being compiled in a worker thread (``prepare``), by the same key.
        self._compiling: dict[tuple[Any, ...], asyncio.Future[Artifact]] = {}
        self._refs: dict[str, ComponentRef] = {}
        self._supervisors: dict[str, Supervisor] = {}
        #: Components a supervisor gave up on: ``ref``/``stats`` still answer for them (state
        #: failed, the escalation, the counters) until the name is spawned again.
        self._given_up: dict[str, tuple[ComponentRef, ComponentEntry]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        #: Spawns, traps by kind and dead letters by reason, counted from events (metrics).
        self.event_counters = EventCounters(self.registry)
        self._metrics_servers: list[MetricsServer] = []

    # -- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> Host:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Create the actor system, request table and messaging on the running event loop.

        ``async with Host()`` calls it; call it yourself only when the host's lifetime is not a
        ``with`` block (then ``await host.close()`` at the end). Idempotent; a closed host refuses
        with ``ActorStateError`` because its registry and grants are gone: create a new one."""
        if self.system is not None:
            return
        if self._closed:
            raise ActorStateError("this Host was closed; create a new one")
        cfg = self.config
        self._loop = asyncio.get_running_loop()
        self.system = ActorSystem(cfg.name, max_restarts=cfg.max_restarts, within=cfg.within,
                                  dead_letter_history=cfg.dead_letter_history,
                                  on_give_up="stop_system" if cfg.on_give_up == "stop_host"
                                  else "stop_child")
        self.system.add_listener(self._on_event)
        self.system.add_listener(self.event_counters)
        self.requests = RequestTable(cfg.name, self._deliver_callback, self._loop)
        self.messaging = HostMessaging(self.router, self.registry, self.requests, self.security,
                                       cfg.request_timeout)
        if self.lattice is not None:
            try:
                await self.lattice.attach(self)
            except BaseException:
                await self.close()
                raise

    def _deliver_callback(self, request: Any, callback: Any) -> None:
        assert self.messaging is not None
        self.messaging.deliver_callback(request, callback)

    async def close(self, *, drain: bool = True) -> None:
        """Stop every component (handling what is queued when ``drain``), release the engine."""
        if self._closed:
            return
        self._closed = True
        for server in self._metrics_servers:
            server.close()
        try:
            if self.lattice is not None:  # no new frames from other nodes while draining
                await self.lattice.detach(drain=drain)
            if self.system is not None:
                await self.system.shutdown(drain=drain)
            if self.lattice is not None:
                await self.lattice.close()
            if self.requests is not None:
                self.requests.close_all(f"host {self.config.name!r} shut down before the reply")
        finally:
            self.connections.close_all()
            self.processes.close_all()
            for name in list(self._refs):
                self._forget(name)
            self._given_up.clear()
            self.storage.close()
            if self._own_engine:
                self.engine.close()
            for server in self._metrics_servers:
                await server.wait_closed()
            self._metrics_servers.clear()

    def _running(self) -> ActorSystem:
        if self.system is None or self._closed:
            raise ActorStateError("the host is not running; use `async with Host() as host:` "
                                  "(or await host.start())")
        if self.system.escalation is not None:
            raise ActorStateError(
                f"host {self.config.name!r} failed: its root supervisor gave up "
                f"({self.system.escalation}); close it and start a new Host")
        return self.system

    # -- events ----------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        # Lifecycle events first: three pass through here per spawn, and only a stop or a
        # failure (or a dead letter) concerns the host.
        if isinstance(event, LifecycleEvent):
            if event.state is ActorState.STOPPED or event.state is ActorState.FAILED:
                self._ended(event)
        elif isinstance(event, DeadLetter):
            message = event.message
            if type(message) is Delivery:  # a frame from another node: acknowledge it now
                message.settle()
            elif type(message) is RequestEnvelope and self.requests is not None:
                error = event.error or ComponentNotFound(
                    f"component {event.recipient!r} stopped before handling request "
                    f"{message.request.id}")
                self.requests.fail(message.request, error)

    def _ended(self, event: LifecycleEvent) -> None:
        """An actor stopped or failed: forget it once it is gone for good (its mailbox closed),
        keeping what ``ref``/``stats`` answer when its supervisor gave up on it."""
        ref = self._refs.get(event.actor)
        if ref is not None and ref.actor.mailbox.closed:
            if isinstance(event.error, SupervisorEscalation) and event.actor in self.registry:
                if len(self._given_up) >= _GIVEN_UP_KEPT:
                    del self._given_up[next(iter(self._given_up))]
                self._given_up[event.actor] = (ref, self.registry.get(event.actor))
            self._forget(event.actor)

    def _forget(self, name: str) -> None:
        ref = self._refs.pop(name, None)
        if ref is not None:
            self.router.remove(name, ref.actor.mailbox)
            self.registry.remove(name)
            self._release_ext(name)
            self.storage.release(name)
            self.security.release(name)

    def _release_ext(self, name: str) -> None:
        """Close ``name``'s sockets and listeners, kill and reap its child processes: on stop,
        and before each new incarnation (a fresh instance knows none of the old handles)."""
        self.connections.release(name)
        self.processes.release(name)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Observe lifecycle, restart, health, escalation and dead-letter events."""
        self._running().add_listener(listener)

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Messages that could not be handled, most recent last (a copy, at most
        ``HostConfig.dead_letter_history`` of them).

        Nothing is dropped silently: the message a guest trapped on, what was queued in a component
        stopped for good, and sends to a gone component end up here with their ``reason`` and
        ``error``, so an operator can see what was lost and why."""
        return list(self._running().dead_letters)

    def request_stats(self) -> RequestStats:
        """Counters of the request table: issued, replied, failed, timed out, cancelled, pending.

        Requests between components (``send-request``) and from Python share one table; these
        numbers show whether callers wait on components that never answer, and whether late replies
        are arriving after their deadline (``late_replies``)."""
        self._running()
        assert self.requests is not None
        return self.requests.stats()

    # -- custom interfaces -----------------------------------------------------------------------
    def provide(self, wit: str | os.PathLike[str], implementation: object, *,
                interface: str | None = None,
                errors: Mapping[type[BaseException], Callable[[Any], Any]] | None = None
                ) -> HostInterface:
        """Provide a WIT interface implemented in Python to the components spawned from now on
        whose manifest grants it (``[capabilities] interfaces = ["acme:billing/*"]``).

        ``wit`` is WIT text or a ``.wit`` file/folder path; ``interface`` picks one
        (``"acme:billing/ledger@1.0.0"``) when the package has several; ``implementation`` is
        an object (or mapping) with the interface's functions, kebab-case names as
        snake_case, ``def`` or ``async def``; ``errors`` maps exception types to the error
        value of functions returning ``result<_, E>``. Inside a call,
        :func:`airssys_wasm.caller` says which component (and request) called. ConfigError
        (WitError for the WIT itself) for anything wrong, and for an interface provided twice.
        See :class:`~airssys_wasm.HostInterface` and docs/guides/host-functions.md.
        """
        return self.interfaces.add(HostInterface(wit, implementation, interface=interface,
                                                 errors=errors or {}))

    # -- loading ---------------------------------------------------------------------------------
    def _source_key(self, source: Source) -> tuple[Any, ...]:
        if isinstance(source, (bytes, bytearray, memoryview)):
            return ("bytes", hashlib.sha256(source).hexdigest())
        if isinstance(source, str) and source.lstrip()[:1] in ("(", ";"):
            return ("text", hashlib.sha256(source.encode()).hexdigest())
        # PurePath first: a plain class check, where os.PathLike's goes through the ABC machinery.
        if isinstance(source, (str, PurePath)) or isinstance(source, os.PathLike):
            try:
                # One stat identifies the file (device + inode) and its version; resolving the
                # path (a syscall per component) cost more than the rest of a spawn's bookkeeping.
                st = os.stat(source)
                return ("path", st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
            except (OSError, ValueError):
                return ("unreadable", str(source))  # load() raises the LoadError
        raise TypeError(f"source must be a path, bytes or WAT text, not {type(source).__name__}")

    def load(self, source: Source, *, name: str | None = None) -> Artifact:
        """Compile and validate ``source`` once per host (then through the engine's cache).

        Synchronous: a first compile runs on the calling thread, so inside a running host
        (whose actors share this event loop) use ``prepare``."""
        key = self._source_key(source)
        artifact = self._artifacts.get(key)
        if artifact is None:
            artifact = self.engine.load(source, name=name)
            if key[0] != "unreadable":
                self._artifacts[key] = artifact
        return artifact

    async def prepare(self, source: Source, *, name: str | None = None) -> Artifact:
        """``load`` without stalling the event loop: what ``spawn`` and ``upgrade`` use.

        A source this host has not compiled yet is compiled (or read from the engine's cache)
        and validated in a worker thread. A big guest takes seconds of Cranelift (an 18 MB
        componentize-py guest ~13 s of CPU); on the loop, every running component and a lattice
        node's heartbeats would wait that long. Concurrent calls for one source share one
        compile; a compile someone stopped waiting for still finishes for the others."""
        key = self._source_key(source)
        artifact = self._artifacts.get(key)
        if artifact is not None:
            return artifact
        return await self._compile(key, source, name)

    def _compile(self, key: tuple[Any, ...], source: Source,
                 name: str | None) -> asyncio.Future[Artifact]:
        """The worker-thread compile of ``source`` (keyed ``key``), shared while it runs."""
        compiling = self._compiling.get(key)
        if compiling is None:
            if isinstance(source, (bytearray, memoryview)):
                source = bytes(source)  # the caller may reuse its buffer while the thread reads
            compiling = asyncio.ensure_future(asyncio.to_thread(self.engine.load, source,
                                                                name=name))
            if key[0] != "unreadable":  # each load of an unreadable path reports it afresh
                self._compiling[key] = compiling
                compiling.add_done_callback(partial(self._compiled, key))
        return asyncio.shield(compiling)

    def _compiled(self, key: tuple[Any, ...], done: asyncio.Future[Artifact]) -> None:
        self._compiling.pop(key, None)
        if not done.cancelled() and done.exception() is None:
            self._artifacts.setdefault(key, done.result())

    # -- spawning --------------------------------------------------------------------------------
    async def supervisor(self, name: str, *,
                         strategy: SupervisorStrategy | str = SupervisorStrategy.ONE_FOR_ONE,
                         max_restarts: int = 3, within: float = 5.0,
                         restart: RestartPolicy | str = RestartPolicy.PERMANENT) -> Supervisor:
        """A running supervisor under the root, to pass as ``spawn(..., supervisor=...)``."""
        system = self._running()
        sup = Supervisor(name, strategy=strategy, max_restarts=max_restarts, within=within,
                         restart=restart)
        await system.start_child(sup)
        self._supervisors[name] = sup
        return sup

    def find_supervisor(self, name: str) -> Supervisor:
        """The running supervisor ``name`` made with ``supervisor(name, ...)``;
        ComponentNotFound when there is none."""
        self._running()
        found = self._supervisors.get(name)
        if found is None or not found.running:
            raise ComponentNotFound(f"no running supervisor named {name!r} in this host; "
                                    "create it with host.supervisor(name, ...)")
        return found

    def _parent(self, supervisor: Supervisor | str | None) -> Supervisor:
        system = self._running()
        if supervisor is None:
            return system.root
        if isinstance(supervisor, Supervisor):
            if supervisor.system is not system:
                raise ConfigError(f"supervisor {supervisor.name!r} belongs to another actor system; "
                                  "create it with host.supervisor(name, ...)")
            return supervisor
        if isinstance(supervisor, str):
            return self.find_supervisor(supervisor)
        raise TypeError(f"supervisor must be a Supervisor, its name or None, not "
                        f"{type(supervisor).__name__}")

    async def spawn(
        self,
        name: str,
        source: Source,
        manifest: object | None = None,
        restart: RestartPolicy | str = RestartPolicy.PERMANENT,
        limits: Limits | None = None,
        supervisor: Supervisor | str | None = None,
        *,
        trust: str | None = None,
        config: ComponentConfig | None = None,
        backoff: Backoff | None = None,
        health: HealthCheck | None | Literal[Default.HOST_CONFIG] = Default.HOST_CONFIG,
        capacity: int | None = None,
        batch_size: int | None = None,
        placement: object | None = None,
    ) -> ComponentRef:
        """Load, admit, instantiate in a fresh Store, call ``init``, register under ``name``
        and start under ``supervisor`` (the root one by default).

        ``manifest`` (a Component.toml path, its TOML text, or a parsed
        ``airssys_wasm.security.Manifest``) is parsed once by the security provider: its
        ``[component] version`` goes into the component-id, its ``[limits]`` apply (an explicit
        ``limits=`` wins), its capabilities and quotas are enforced until the component stops.
        Without one the component may message other components and log, nothing else.
        ``trust`` ("trusted" / "unknown" / "untrusted"; default ``HostConfig.default_trust``)
        decides default limits and whether a manifest is required.

        On a lattice host (``Host(lattice=aw.Lattice(...))``) the spec is recorded lattice-wide
        and ``placement`` (an ``aw.Placement``, or a node name; default: this node) picks the
        node it runs on; a component placed on another node is returned as a ``RemoteRef``.
        Without a lattice, ``placement`` is a ConfigError.
        """
        if self.lattice is not None:
            self._running()
            return await self.lattice.spawn(
                name, source, manifest=manifest, restart=restart, limits=limits,
                supervisor=supervisor, trust=trust, config=config, backoff=backoff, health=health,
                capacity=capacity, batch_size=batch_size, placement=placement)
        if placement is not None:
            raise ConfigError("placement= needs a lattice: create the host with "
                              "Host(lattice=aw.Lattice(url, node=...))")
        return await self.spawn_local(name, source, manifest, restart, limits, supervisor,
                                      trust=trust, config=config, backoff=backoff,
                                      health=health, capacity=capacity, batch_size=batch_size)

    async def spawn_local(
        self,
        name: str,
        source: Source,
        manifest: object | None = None,
        restart: RestartPolicy | str = RestartPolicy.PERMANENT,
        limits: Limits | None = None,
        supervisor: Supervisor | str | None = None,
        *,
        trust: str | None = None,
        config: ComponentConfig | None = None,
        backoff: Backoff | None = None,
        health: HealthCheck | None | Literal[Default.HOST_CONFIG] = Default.HOST_CONFIG,
        capacity: int | None = None,
        batch_size: int | None = None,
    ) -> ComponentRef:
        """``spawn`` in this process, whatever the lattice: the lattice calls it on the node it
        placed a component on (and ``spawn`` does, without a lattice)."""
        system = self._running()
        check_name(name)
        if type(restart) is not RestartPolicy:  # the enum call is not free; most pass the member
            restart = RestartPolicy(restart)
        if name in self.registry:
            raise ConfigError(f"the name {name!r} is already taken in this host; stop that "
                              "component first or pick another name")
        cfg = self.config
        key = self._source_key(source)
        artifact = self._artifacts.get(key)
        if artifact is None:  # a first compile, off the loop: the host runs on meanwhile
            artifact = await self._compile(key, source, name)
            system = self._running()
            if name in self.registry:
                raise ConfigError(f"the name {name!r} was taken in this host while its source "
                                  "compiled; stop that component first or pick another name")
        admission = self.security.admit(name, manifest, trust=trust or cfg.default_trust,
                                        base_limits=cfg.limits,
                                        wasi=artifact.imports_wasi)
        entry = None
        try:
            self._link_extensions(name, artifact, admission)
            if STORAGE in admission.extensions:  # what its identity stored counts again
                self.storage.adopt(name, admission.identity or f"code:{artifact.digest}")
            cid = ComponentId(name, namespace=cfg.namespace, version=admission.version)
            assert self.messaging is not None and self.requests is not None
            entry = ComponentEntry(
                name=name, component_id=cid, artifact=artifact,
                limits=limits if limits is not None else admission.limits,
                services=HostServices(cid, directory=self.registry, messaging=self.messaging,
                                      logger=_COMPONENT_LOGGER,
                                      call_gate=self._call_gate(name, artifact, admission)
                                      if admission.meters_interface_calls else None,
                                      send_gate=self._send_gate(name, cid)),
                init_config=config, wasi=admission.wasi, on_incarnation=self._on_incarnation,
                manifest=manifest, trust=trust or cfg.default_trust, explicit_limits=limits)
            spec = ChildSpec(
                # A slotted factory, not a lambda or a partial: one object per component
                # instead of a function and two closure cells (or a partial and its tuple).
                name, ComponentActorFactory(entry, self.requests), restart=restart,
                backoff=backoff if backoff is not None else cfg.backoff,
                capacity=capacity if capacity is not None else cfg.capacity,
                batch_size=batch_size if batch_size is not None else cfg.batch_size,
                shutdown_timeout=cfg.shutdown_timeout,
                health=cfg.health if health is Default.HOST_CONFIG else health)
            parent = system.root if supervisor is None else self._parent(supervisor)
            self.registry.add(entry)
            actor = await parent.start_child(spec)
        except BaseException:
            if entry is not None:
                self.registry.remove(name, entry)
            self.storage.release(name)
            self.security.release(name)  # a refused spawn leaves no grant behind
            raise
        assert isinstance(actor, ActorRef)
        entry.ref = actor
        self.router.add(name, actor.mailbox, cid, entry.limits.max_message_bytes)
        ref = ComponentRef(self, entry, actor)
        self._refs[name] = ref
        self._given_up.pop(name, None)
        return ref

    async def upgrade(self, name: str, source: Source, manifest: object | None = None, *,
                      limits: Limits | None = None,
                      config: ComponentConfig | None | Literal[Default.KEEP] = Default.KEEP
                      ) -> ComponentRef:
        """Hot code upgrade: replace ``name``'s code between two of its messages, keeping its
        mailbox (nothing queued is lost, the order is kept) and its ComponentRef.

        ``source`` is compiled and ``manifest`` (default: the one it runs under) admitted first;
        a LoadError, ManifestError or PermissionDenied leaves the old version running
        untouched. Then the old instance's ``shutdown`` runs, the new code is instantiated in a
        fresh Store under the new grants, limits and quotas, and its ``init`` is called with
        ``config`` (default: the config it was spawned with). If that fails the old code runs
        again in a fresh instance and UpgradeFailed is raised. A guest call suspended at that
        moment is waited for (its deadline bounds it). Emits an ``UpgradeEvent``; see
        ``airssys_wasm.host.upgrade`` for quotas and storage identity.
        """
        from airssys_wasm.host.upgrade import upgrade

        return await upgrade(self, name, source, manifest, limits=limits, config=config)

    def _link_extensions(self, name: str, artifact: Artifact, admission: Admission, *,
                         grantee: str | None = None) -> None:
        """Refuse ext and custom imports the manifest does not grant; provide the granted ones.
        ``grantee``: the name the security provider registered the admission under, when it
        is not ``name`` (an upgrade's probe)."""
        if not isinstance(artifact, ComponentArtifact):
            return
        self.interfaces.link(name, artifact, grantee=grantee)
        known = self._ext_imports.get(id(artifact))
        if known is None or known[0] is not artifact:
            known = (artifact, tuple(sorted(i for i in artifact.imports
                                            if i.startswith("airssys:ext-"))))
            self._ext_imports[id(artifact)] = known
        for interface in known[1]:
            if interface not in admission.extensions:
                keys = EXTENSIONS.get(interface)
                hint = (f"grant one of {', '.join(keys)} under [capabilities] in its Component.toml"
                        if keys else "this host does not implement that extension")
                raise PermissionDenied(f"component {name!r} imports {interface} but is not granted "
                                       f"it; {hint}")
            key = (id(artifact), interface)
            if key not in self._linked:
                functions = self._ext_functions.get(interface)
                if functions is None:
                    raise LoadError(f"component {name!r} imports {interface}, which this host does "
                                    "not implement")
                used = artifact.imported_function_types(interface)
                declared = builtin_interfaces().get(interface)
                if declared is not None:  # typed like a custom interface: at spawn, not a call
                    check_imports(f"component {name!r}", declared, used, "airssys")
                artifact.define_imports(interface, {f: fn for f, fn in functions.items()
                                                    if f in used})
                self._linked.add(key)

    def _call_gate(self, name: str, artifact: Artifact,
                   admission: Admission) -> Callable[[str], None] | None:
        """The per-call check of a component whose custom-interface calls are metered."""
        if admission.meters_interface_calls and isinstance(artifact, ComponentArtifact) \
                and artifact.custom_imports:
            return self.interfaces.call_gate(name)
        return None

    def _send_gate(self, name: str, cid: ComponentId) -> SendGate | None:
        """``name``'s per-message fast path from the provider (its optional ``send_gate``),
        bound to this host's router with ``cid`` as the sender; None without one."""
        hook = getattr(self.security, "send_gate", None)
        gate = hook(name) if callable(hook) else None
        if type(gate) is not SendGate:
            return None
        gate.bind(self.router, cid)
        return gate

    def ref(self, name: str) -> ComponentRef:
        """The component's handle; also for one its supervisor gave up on (state ``failed``),
        and a ``RemoteRef`` for one placed on another node of the lattice."""
        ref = self._refs.get(name)
        if ref is None:
            if name in self._given_up:
                return self._given_up[name][0]
            if self.lattice is not None and self.lattice.owns(name):
                return RemoteRef(self, name, self.lattice.component_id(name), self.lattice)
            self.registry.get(name)  # raises the standard ComponentNotFound
            raise ComponentNotFound(f"component {name!r} is stopping")
        return ref

    def stats(self, name: str) -> ComponentStats:
        """Host-side counters of ``name``: guest errors, health traps, callbacks dropped.

        Complements ``ref(name).stats`` (the actor's messages, restarts, failures): these count
        what the host saw of the component's answers. Still available for a component its
        supervisor gave up on, so the cause of the failure can be inspected after the fact."""
        if name not in self.registry and name in self._given_up:
            return self._given_up[name][1].stats
        return self.registry.get(name).stats

    def names(self, *, given_up: bool = False) -> list[str]:
        """Names of the components registered now, in spawn order.

        What ``list-components`` shows the guests, as plain names; a component its supervisor gave
        up on is no longer listed (``ref(name)`` still describes it) unless ``given_up`` is set
        (metrics keep reporting it, state ``failed``, until the name is spawned again)."""
        names = self.registry.names()
        if self.lattice is not None:  # what list-components shows: the whole lattice
            names += [name for name in self.lattice.names() if name not in self.registry]
        if given_up:
            names += [name for name in self._given_up if name not in self.registry]
        return names

    # -- metrics ---------------------------------------------------------------------------------
    async def serve_metrics(self, host: str = "127.0.0.1", port: int = 9464) -> MetricsServer:
        """Serve this host's metrics in the Prometheus text format at ``http://host:port/metrics``,
        on this host's loop; returns the server (``.address``/``.url`` tell where it really
        listens: port 0 picks a free port). ``close()`` it to stop; ``Host.close`` does.

        A scrape reads the counters the host keeps anyway (see ``airssys_wasm.host.metrics``):
        nothing is added per message. ConfigError when it cannot listen there.
        """
        from airssys_wasm.host.prometheus import start_server

        self._running()
        server = await start_server(self, host, port)
        self._metrics_servers = [s for s in self._metrics_servers if not s.closed]
        self._metrics_servers.append(server)
        return server

    # -- messaging -------------------------------------------------------------------------------
    async def send(self, name: str, message: bytes | bytearray | memoryview) -> None:
        """Deliver ``message`` (a multicodec frame, checked in C) to ``name``'s handle-message,
        with the host's id as sender. Waits while the mailbox is full (backpressure)."""
        if self._closed:
            self._running()
        try:
            route = self.router.resolve(name, message)
        except MessageTooLarge as exc:
            self._audit_too_large(name, exc)
            raise
        if type(message) is not bytes:
            message = as_frame(message)
        await route.mailbox.put((self.config.host_id, message))

    def try_send(self, name: str, message: bytes | bytearray | memoryview) -> None:
        """Like ``send`` without waiting: MailboxFull when the mailbox is at capacity."""
        if self._closed:
            self._running()
        try:
            self.router.send(name, self.config.host_id, message)
        except MessageTooLarge as exc:
            self._audit_too_large(name, exc)
            raise

    def _audit_too_large(self, target: str, exc: MessageTooLarge) -> None:
        refused_hook(self.security)(self.config.host_id.name, MESSAGING_SEND, target,
                                    f"message of {exc.size} bytes over max_message {exc.limit}")

    async def request(self, name: str, message: bytes | bytearray | memoryview,
                      timeout: float | None = 1.0) -> bytes:
        """Run ``name``'s ``execute(message, ctx)`` and return the reply bytes.

        ``ctx`` carries a fresh request id and the remaining time. RequestTimeout when no reply
        arrives in time (a later reply is dropped and counted); a guest error value is raised
        as GuestError, a trap as TrapError (and the component restarts).
        """
        self._running()
        assert self.requests is not None
        route = self.router.get(name)
        if route is None:
            self.registry.get(name)
            raise ComponentNotFound(f"component {name!r} is stopping; it takes no requests")
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise TypeError(f"a request must be bytes-like, not {type(message).__name__}")
        try:
            route.check_size(memoryview(message).nbytes)
        except MessageTooLarge as exc:
            self._audit_too_large(name, exc)
            raise
        timeout = self.config.request_timeout if timeout is None else timeout
        requests = self.requests
        pending = requests.open(self.config.host_id, name, timeout)
        context = requests.context(pending, CallerInfo(component_id=self.config.host_id,
                                                       external_source="python"))
        future = pending.future
        assert future is not None
        envelope = RequestEnvelope(pending, bytes(message), context)
        try:
            try:
                route.mailbox.try_put(envelope)
            except MailboxFull:
                await asyncio.wait_for(route.mailbox.put(envelope), timeout)
            assert self._loop is not None
            return await asyncio.wait_for(future, max(0.0, pending.deadline - self._loop.time()))
        except asyncio.TimeoutError:
            requests.give_up(pending)
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception() from None  # type: ignore[misc]
            raise RequestTimeout(
                f"request {pending.id} to {name!r} got no reply within {timeout * 1000:.0f} ms; "
                "raise the timeout or check that the component answers") from None
        except asyncio.CancelledError:
            requests.abandon(pending)
            raise

    def subscribe(self, topic: str, name: str) -> None:
        """Deliver every frame published on ``topic`` to ``name``'s handle-message.

        On a lattice host ``name`` may run on any node: the subscription is recorded with its
        spec (it follows the component when it fails over); ``await host.lattice.settled()``
        waits until every node knows it."""
        ref = self.ref(name)
        if type(ref) is not RemoteRef:
            self._running().broker.subscribe(topic, ref.actor)
        if self.lattice is not None:
            self.lattice.subscribe(topic, name)

    def unsubscribe(self, topic: str, name: str) -> bool:
        """Stop delivering ``topic`` to ``name``; True if it was subscribed.

        Stopping a component ends all its subscriptions by itself; this is for a component that
        stays running but should no longer receive a topic."""
        ref = self.ref(name)
        remote = self.lattice is not None and self.lattice.unsubscribe(topic, name)
        if type(ref) is RemoteRef:
            return remote
        return self._running().broker.unsubscribe(topic, ref.actor)

    async def publish(self, topic: str, payload: bytes | bytearray | memoryview) -> int:
        """Send the frame ``payload`` to every subscriber of ``topic``; returns how many.

        MessageTooLarge (before any copy, nothing delivered) when it exceeds the
        ``max_message`` of any subscriber of this node. On a lattice host the subscribers on
        the other nodes are counted too (each node checks its own subscribers' limits)."""
        system = self._running()
        size = memoryview(payload).nbytes
        for ref in system.broker.subscribers(topic):
            route = self.router.get(ref.name)
            if route is not None:
                try:
                    route.check_size(size)
                except MessageTooLarge as exc:
                    self._audit_too_large(ref.name, exc)
                    raise
        frame = as_frame(payload)
        delivered = await system.broker.publish(topic, (self.config.host_id, frame))
        if self.lattice is not None:
            delivered += await self.lattice.publish(topic, frame)
        return delivered

    # -- health and stopping ---------------------------------------------------------------------
    async def health(self, name: str) -> HealthStatus:
        """Probe ``name`` now (between its batches). Counts towards the unhealthy threshold."""
        ref = self.ref(name)
        if type(ref) is RemoteRef:
            assert self.lattice is not None
            return await self.lattice.health(name)
        return await ref.actor.health()

    async def stop(self, name: str) -> None:
        """Stop ``name`` for good: handle what is queued, call its ``shutdown``, unregister.

        On a lattice host: wherever it runs, and its spec and queued frames are removed from
        the lattice too."""
        if self.lattice is not None:
            self._running()
            if name not in self._refs:
                self._given_up.pop(name, None)
            await self.lattice.stop(name)
            return
        await self.stop_local(name)

    async def stop_local(self, name: str) -> None:
        """``stop`` in this process only (the lattice calls it on the node running ``name``)."""
        system = self._running()
        if name not in self._refs and self._given_up.pop(name, None) is not None:
            return  # already stopped for good when its supervisor gave up on it
        self.ref(name)
        try:
            await system.stop(name)
        finally:
            self._forget(name)
