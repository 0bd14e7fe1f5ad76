"""ActorSystem: the root of the tree, the name registry, events, dead letters and shutdown.

Top-level actors are children of a root ``one_for_one`` supervisor, so ``spawn`` with a restart
policy gets supervision for free; the default for plain ``spawn`` is TEMPORARY (a crash is
reported, not retried). By default the root applies ``max_restarts``/``within`` to each
top-level child on its own and stops only a child that exceeds it (``GiveUpPolicy``): the
system outlives any actor. ``on_give_up="stop_system"`` restores OTP's "the application stops". The clock, the sleep used for backoff and the RNG used for jitter are
injectable: tests drive restarts deterministically without real sleeps.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from airssys_wasm.actor.actor import Actor
from airssys_wasm.actor.backoff import Backoff
from airssys_wasm.actor.broker import MessageBroker
from airssys_wasm.actor.scheduler import Scheduler
from airssys_wasm.actor.cell import ActorCell, ActorRef, ShutdownReport
from airssys_wasm.actor.events import (
    DeadLetter,
    DeadLetterReason,
    Event,
    EventListener,
    log_event,
    logger,
)
from airssys_wasm.actor.mailbox import DEFAULT_CAPACITY
from airssys_wasm.actor.spec import (
    DEFAULT_BATCH_SIZE,
    ChildSpec,
    GiveUpPolicy,
    HealthCheck,
    RestartPolicy,
)
from airssys_wasm.actor.health import HealthScheduler
from airssys_wasm.actor.ready import ReadyRun
from airssys_wasm.actor.supervisor import RootSupervisor, Supervisor
from airssys_wasm.errors import ActorStateError, ComponentNotFound, ConfigError, SupervisorEscalation

__all__ = ["ActorSystem"]


class ActorSystem:
    """Owns every actor and supervisor it starts; use ``async with`` for a graceful shutdown."""

    def __init__(
        self,
        name: str = "system",
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
        max_restarts: int = 3,
        within: float = 5.0,
        dead_letter_history: int = 1000,
        on_give_up: GiveUpPolicy | str = GiveUpPolicy.STOP_CHILD,
    ) -> None:
        if isinstance(dead_letter_history, bool) or not isinstance(dead_letter_history, int):
            raise TypeError("dead_letter_history must be an int")
        if dead_letter_history < 0:
            raise ConfigError(f"dead_letter_history must be >= 0, got {dead_letter_history}")
        self.name = name
        self.clock = clock
        self.sleep = sleep
        self.rng = rng if rng is not None else random.Random()
        self.dead_letters: deque[DeadLetter] = deque(maxlen=dead_letter_history)
        self.dead_letter_count = 0
        self.escalation: SupervisorEscalation | None = None
        self.broker = MessageBroker()
        #: Drives the guest calls that suspend (one slice per loop pass, waits, deadlines).
        self.scheduler = Scheduler()
        #: Every actor's periodic health probe, from one task per probe interval.
        self._health = HealthScheduler(self)
        #: The actors woken in this loop pass, run from one callback (``ActorCell.run_ready``).
        self.ready = ReadyRun()
        self._listeners: list[EventListener] = []
        self._names: dict[str, ActorCell | Supervisor] = {}
        self._shut_down = False
        try:
            policy = GiveUpPolicy(on_give_up)
        except ValueError:
            raise ConfigError(
                f"on_give_up must be 'stop_child' (stop only the actor that exceeded its "
                f"restart intensity) or 'stop_system' (OTP: stop everything), got "
                f"{on_give_up!r}") from None
        self.root = RootSupervisor(f"{name}/root", max_restarts=max_restarts, within=within,
                                   on_give_up=policy)
        self.root._attach(self, None)
        self.root.running = True

    async def __aenter__(self) -> ActorSystem:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # -- events ----------------------------------------------------------------------------------
    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(event)`` for every lifecycle/restart/escalation/health/dead-letter event."""
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        """Stop calling ``listener`` (ValueError if it was never added)."""
        self._listeners.remove(listener)

    def _emit(self, event: Event) -> None:
        log_event(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:
                self._log_hook_error(f"event listener {listener!r}", exc)

    def emit(self, event: Event) -> None:
        """Report ``event`` to the log and every listener (for layers above that add events of
        their own, e.g. the host's ``UpgradeEvent``)."""
        self._emit(event)

    def _log_hook_error(self, what: str, exc: BaseException) -> None:
        logger.error("%s raised %r; ignored", what, exc, exc_info=exc)

    def dead_letter(self, cell: ActorCell | None, message: Any, reason: DeadLetterReason,
                    error: BaseException | None, *, recipient: str | None = None) -> None:
        """Record a message that will never be handled (kept in ``dead_letters``, emitted)."""
        if cell is not None:
            cell.dead_letters += 1
            recipient = cell.name
        letter = DeadLetter(recipient or "?", message, reason, error, self.clock())
        self.dead_letter_count += 1
        self.dead_letters.append(letter)
        self._emit(letter)

    # -- names -----------------------------------------------------------------------------------
    def _check_name_free(self, name: str) -> None:
        if name in self._names:
            raise ConfigError(
                f"the name {name!r} is already taken in actor system {self.name!r}; "
                "names are unique among actors and supervisors — pick another one")

    def _register_name(self, name: str, owner: ActorCell | Supervisor) -> None:
        self._check_name_free(name)
        self._names[name] = owner

    def _unregister(self, owner: ActorCell | Supervisor) -> None:
        if self._names.get(owner.name) is owner:
            del self._names[owner.name]
        if isinstance(owner, ActorCell):
            self.broker.unsubscribe_all(owner.ref)

    def lookup(self, name: str) -> ActorRef:
        """The ref of a live actor; ``ComponentNotFound`` if there is none by that name."""
        owner = self._names.get(name)
        if not isinstance(owner, ActorCell):
            raise ComponentNotFound(
                f"no actor named {name!r} in actor system {self.name!r}; "
                f"known actors: {sorted(self.actor_names())}")
        return owner.ref

    def actor_names(self) -> list[str]:
        """Names of the actors (not supervisors) registered now."""
        return [name for name, owner in self._names.items() if isinstance(owner, ActorCell)]

    # -- spawning --------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._shut_down:
            raise ActorStateError(f"actor system {self.name!r} is shut down; create a new one")
        if self.escalation is not None:
            raise ActorStateError(
                f"actor system {self.name!r} failed (its root supervisor gave up: "
                f"{self.escalation}); shut it down and create a new one")

    async def spawn(
        self,
        factory: Callable[[], Actor],
        name: str,
        *,
        restart: RestartPolicy | str = RestartPolicy.TEMPORARY,
        backoff: Backoff | None = None,
        capacity: int = DEFAULT_CAPACITY,
        batch_size: int = DEFAULT_BATCH_SIZE,
        shutdown_timeout: float = 5.0,
        health: HealthCheck | None = None,
    ) -> ActorRef:
        """Start a top-level actor under the root supervisor and return its ref."""
        spec = ChildSpec(name, factory, restart=RestartPolicy(restart),
                         backoff=backoff if backoff is not None else Backoff(),
                         capacity=capacity, batch_size=batch_size,
                         shutdown_timeout=shutdown_timeout, health=health)
        return await self.start_child(spec)  # type: ignore[return-value]

    async def start_child(self, spec: ChildSpec | Supervisor) -> ActorRef | Supervisor:
        """Start a ChildSpec or a whole Supervisor tree under the root supervisor."""
        self._check_open()
        return await self.root.start_child(spec)

    async def stop(self, name: str, *, drain: bool = True) -> ShutdownReport:
        """Stop a live actor or supervisor (subtree) for good."""
        owner = self._names.get(name)
        if owner is None or owner.parent is None:
            raise ComponentNotFound(f"no actor or supervisor named {name!r} to stop in "
                                    f"actor system {self.name!r}")
        return await owner.parent.terminate_child(name, drain=drain)

    async def shutdown(self, *, drain: bool = True) -> ShutdownReport:
        """Stop everything in reverse start order; every queued message is handled or reported."""
        report = ShutdownReport()
        if self._shut_down:
            return report
        self._shut_down = True
        await self.root.terminate(drain=drain, report=report)
        self._health.close()
        return report

    async def _root_gave_up(self, escalation: SupervisorEscalation) -> None:
        self.escalation = escalation
        logger.error("actor system %s: root supervisor gave up (on_give_up=stop_system); "
                     "stopping all actors", self.name)
        await self.root.terminate(drain=False, report=ShutdownReport(), gave_up=escalation)
