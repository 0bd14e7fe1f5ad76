"""Layer 3: the asyncio actor runtime — actors, bounded mailboxes, supervision trees, a broker.

Usable on its own for plain Python actors (nothing here imports wasmtime); the ``host`` layer
builds component actors on top of ``Actor``/``ChildSpec``/``Supervisor``.
"""

from airssys_wasm.actor.actor import Actor, ActorContext, BatchFailure
from airssys_wasm.actor.backoff import Backoff, RestartWindow
from airssys_wasm.actor.broker import MessageBroker
from airssys_wasm.actor.cell import ActorRef, ActorStats, ShutdownReport
from airssys_wasm.actor.events import (
    ActorState,
    DeadLetter,
    DeadLetterReason,
    EscalationEvent,
    Event,
    EventListener,
    HealthEvent,
    HealthStatus,
    LifecycleEvent,
    RestartEvent,
    UpgradeEvent,
)
from airssys_wasm.actor.mailbox import Mailbox
from airssys_wasm.actor.spec import (
    ChildSpec,
    GiveUpPolicy,
    HealthCheck,
    RestartPolicy,
    SupervisorStrategy,
)
from airssys_wasm.actor.supervisor import Supervisor
from airssys_wasm.actor.system import ActorSystem

__all__ = [
    "Actor",
    "ActorContext",
    "ActorRef",
    "ActorState",
    "ActorStats",
    "ActorSystem",
    "Backoff",
    "BatchFailure",
    "ChildSpec",
    "DeadLetter",
    "DeadLetterReason",
    "EscalationEvent",
    "Event",
    "EventListener",
    "GiveUpPolicy",
    "HealthCheck",
    "HealthEvent",
    "HealthStatus",
    "LifecycleEvent",
    "Mailbox",
    "MessageBroker",
    "RestartEvent",
    "RestartPolicy",
    "RestartWindow",
    "ShutdownReport",
    "Supervisor",
    "SupervisorStrategy",
    "UpgradeEvent",
]
