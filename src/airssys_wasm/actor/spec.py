"""Declarative descriptions of supervised children: policies, strategies, health checks."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airssys_wasm.actor.backoff import Backoff
from airssys_wasm.actor.mailbox import DEFAULT_CAPACITY, MAX_CAPACITY
from airssys_wasm.errors import ConfigError

if TYPE_CHECKING:
    from airssys_wasm.actor.actor import Actor

__all__ = ["RestartPolicy", "SupervisorStrategy", "GiveUpPolicy", "HealthCheck", "ChildSpec",
           "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 256


class RestartPolicy(str, enum.Enum):
    """When a child that exited is restarted (OTP semantics)."""

    PERMANENT = "permanent"  # always
    TRANSIENT = "transient"  # only after a failure, not after a normal exit
    TEMPORARY = "temporary"  # never


class SupervisorStrategy(str, enum.Enum):
    """Which siblings restart together with a failed child."""

    ONE_FOR_ONE = "one_for_one"  # just the failed child
    ONE_FOR_ALL = "one_for_all"  # every child
    REST_FOR_ONE = "rest_for_one"  # the failed child and those started after it


class GiveUpPolicy(str, enum.Enum):
    """What the root supervisor of an ``ActorSystem`` does when a restart intensity is exceeded.

    ``STOP_CHILD`` (the default) counts the intensity per top-level child: a child that fails
    too often — or a top-level supervisor that gave up — is stopped for good on its own (state
    failed, queued messages dead-lettered with ``DeadLetterReason.GAVE_UP``) and its name is
    free again; the root itself never gives up. ``STOP_SYSTEM`` is OTP's "the application
    stops": one intensity shared by every top-level child, and past it every actor is stopped
    and the system refuses new spawns.
    """

    STOP_CHILD = "stop_child"
    STOP_SYSTEM = "stop_system"


def _positive(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}.{name} must be a number, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{owner}.{name} must be a finite number > 0, got {value!r}")


def _positive_int(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}.{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ConfigError(f"{owner}.{name} must be >= 1, got {value}")
    if value > MAX_CAPACITY:  # no mailbox holds more, so no batch takes more
        raise ConfigError(f"{owner}.{name} must be at most {MAX_CAPACITY:,} (the largest "
                          f"mailbox), got {value:,}")


def check_mailbox_settings(owner: str, capacity: object, batch_size: object,
                           shutdown_timeout: object) -> None:
    """The checks every ChildSpec makes of these, for configurations that hold defaults for
    specs made later (``HostConfig``): so a bad default fails where it is written."""
    _positive_int(owner, "capacity", capacity)
    _positive_int(owner, "batch_size", batch_size)
    _positive(owner, "shutdown_timeout", shutdown_timeout)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """Probe ``Actor.health()`` every ``interval`` s; ``threshold`` unhealthy in a row restarts it."""

    #: Seconds between two probes.
    interval: float = 10.0
    #: Seconds a probe may take; a probe that times out counts as unhealthy.
    timeout: float = 1.0
    #: Unhealthy answers in a row that restart the actor (one bad answer is not enough).
    threshold: int = 3

    def __post_init__(self) -> None:
        _positive("HealthCheck", "interval", self.interval)
        _positive("HealthCheck", "timeout", self.timeout)
        _positive_int("HealthCheck", "threshold", self.threshold)


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to create, queue for, restart and probe one supervised actor."""

    name: str
    factory: Callable[[], Actor]
    restart: RestartPolicy = RestartPolicy.PERMANENT
    backoff: Backoff = field(default_factory=Backoff)
    capacity: int = DEFAULT_CAPACITY
    batch_size: int = DEFAULT_BATCH_SIZE
    shutdown_timeout: float = 5.0
    health: HealthCheck | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"ChildSpec.name must be a non-empty string, got {self.name!r}")
        if not callable(self.factory):
            raise TypeError(
                f"ChildSpec.factory must be a callable returning an Actor (e.g. the class), "
                f"not {type(self.factory).__name__}")
        # Every spawn builds a spec: the usual values (the enum member itself, plain ints and
        # floats in range) are recognised inline; anything else takes the checks that explain
        # what is wrong (or converts a policy's string value).
        if type(self.restart) is not RestartPolicy:
            object.__setattr__(self, "restart", RestartPolicy(self.restart))
        if not isinstance(self.backoff, Backoff):
            raise TypeError(f"ChildSpec.backoff must be a Backoff, not {type(self.backoff).__name__}")
        if type(self.capacity) is not int or not 1 <= self.capacity <= MAX_CAPACITY:
            _positive_int("ChildSpec", "capacity", self.capacity)
        if type(self.batch_size) is not int or not 1 <= self.batch_size <= MAX_CAPACITY:
            _positive_int("ChildSpec", "batch_size", self.batch_size)
        timeout = self.shutdown_timeout
        if type(timeout) is not float or not 0.0 < timeout < math.inf:
            _positive("ChildSpec", "shutdown_timeout", timeout)
        if self.health is not None and not isinstance(self.health, HealthCheck):
            raise TypeError(
                f"ChildSpec.health must be a HealthCheck or None, not {type(self.health).__name__}")
