"""What the actor runtime reports: lifecycle transitions, restarts, escalations, dead letters.

Every event goes to the registered listeners (plain callables: tests, the CLI, metrics) and to
the ``airssys_wasm.actor`` stdlib logger. A listener that raises is logged and skipped: observing
the system must never break it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from airssys_wasm.types import HealthStatus

__all__ = [
    "ActorState",
    "HealthStatus",
    "DeadLetterReason",
    "LifecycleEvent",
    "RestartEvent",
    "EscalationEvent",
    "HealthEvent",
    "DeadLetter",
    "UpgradeEvent",
    "Event",
    "EventListener",
]

logger = logging.getLogger("airssys_wasm.actor")


class ActorState(str, enum.Enum):
    """created -> starting -> running -> stopping -> stopped; failed when a handler raised."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class DeadLetterReason(str, enum.Enum):
    """Why a message became a dead letter: ``failed`` (handling it raised or trapped), ``stopped``
    (its actor stopped for good) or ``gave_up`` (a supervisor gave up on its actor).

    The reason tells an operator whether to fix the component (``failed``), to resend elsewhere
    (``stopped``), or to look at the escalation (``gave_up``)."""

    FAILED = "failed"  # handling this message raised (or the actor was killed while handling it)
    STOPPED = "stopped"  # sent to, or still queued in, an actor that stopped for good
    #: Still queued in an actor that was stopped for good because a supervisor gave up on it
    #: (the dead letter's error is the SupervisorEscalation that says why).
    GAVE_UP = "gave_up"


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """``actor`` moved from ``previous`` to ``state`` at ``at`` (loop time); ``error`` is the
    failure that caused a move to ``failed``.

    Every transition is observable (``Host.add_listener``), so monitoring and tests can follow a
    component's life without polling."""

    actor: str
    state: ActorState
    previous: ActorState
    error: BaseException | None
    at: float


@dataclass(frozen=True, slots=True)
class RestartEvent:
    """A supervisor is about to restart ``actor`` after ``delay`` seconds (attempt is 1-based)."""

    actor: str
    supervisor: str
    attempt: int
    delay: float
    error: BaseException | None
    at: float


@dataclass(frozen=True, slots=True)
class EscalationEvent:
    """``supervisor`` exceeded ``max_restarts`` within ``within`` seconds and gave up.

    ``child`` is the child whose exit went over the intensity. A supervisor gives up on all its
    children (stops them and exits, its parent decides what follows) — except the root
    supervisor in its default ``on_give_up="stop_child"`` mode, which counts the intensity per
    top-level child and stops only ``child``, for good, so one failing actor never takes the
    others down.
    """

    supervisor: str
    max_restarts: int
    within: float
    error: BaseException | None
    at: float
    child: str | None = None


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """A health probe of ``actor`` answered ``status``; ``consecutive_unhealthy`` counts towards
    the restart threshold of its ``HealthCheck``.

    Emitted for every probe, so a degrading component is visible before it is restarted."""

    actor: str
    status: HealthStatus
    consecutive_unhealthy: int
    at: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that was accepted for (or addressed to) ``recipient`` and never handled."""

    recipient: str
    message: Any
    reason: DeadLetterReason
    error: BaseException | None
    at: float


@dataclass(frozen=True, slots=True)
class UpgradeEvent:
    """``actor``'s code was swapped between two messages (``outcome`` "upgraded"), or the new
    code failed to start and the old code runs again in a fresh instance ("rolled-back",
    ``error`` says why). ``old`` / ``new`` identify the code (the host uses
    ``"<version> <sha256 prefix>"``); the mailbox and its queued messages were kept either way."""

    actor: str
    old: str
    new: str
    outcome: str
    error: BaseException | None
    at: float


Event = Union[LifecycleEvent, RestartEvent, EscalationEvent, HealthEvent, DeadLetter,
              UpgradeEvent]
"""Any event an ``ActorSystem`` (and so a ``Host``) emits to its listeners."""
EventListener = Callable[[Event], None]
"""A callable that receives every ``Event``; it runs on the event loop, so keep it short."""


def log_event(event: Event) -> None:
    """Mirror an event into stdlib logging at a level that matches its severity."""
    if isinstance(event, LifecycleEvent):
        if event.state is ActorState.FAILED:
            logger.warning("actor %s failed: %r", event.actor, event.error)
        elif logger.isEnabledFor(logging.INFO):
            logger.info("actor %s: %s -> %s", event.actor, event.previous.value, event.state.value)
    elif isinstance(event, RestartEvent):
        logger.warning("supervisor %s restarts %s (attempt %d) in %.3fs after %r",
                       event.supervisor, event.actor, event.attempt, event.delay, event.error)
    elif isinstance(event, EscalationEvent):
        logger.error("supervisor %s gave up: more than %d restarts within %.3fs (last failure, "
                     "of %s: %r)", event.supervisor, event.max_restarts, event.within,
                     event.child or "?", event.error)
    elif isinstance(event, UpgradeEvent):
        if event.error is None:
            logger.info("actor %s upgraded: %s -> %s", event.actor, event.old, event.new)
        else:
            logger.warning("actor %s: upgrade %s -> %s rolled back after %r", event.actor,
                           event.old, event.new, event.error)
    elif isinstance(event, HealthEvent):
        if event.status is HealthStatus.UNHEALTHY:
            logger.warning("actor %s unhealthy (%d in a row)", event.actor,
                           event.consecutive_unhealthy)
    elif logger.isEnabledFor(logging.DEBUG):
        logger.debug("dead letter to %s (%s): %r", event.recipient, event.reason.value,
                     event.message)
