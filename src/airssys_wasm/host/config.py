"""Host-wide settings: engine, defaults every spawned component gets, supervision, security."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airssys_wasm.actor import Backoff, HealthCheck
from airssys_wasm.actor.mailbox import DEFAULT_CAPACITY
from airssys_wasm.actor.backoff import RestartWindow
from airssys_wasm.actor.spec import DEFAULT_BATCH_SIZE, check_mailbox_settings
from airssys_wasm.errors import ConfigError
from airssys_wasm.host.interfaces import HostInterface
from airssys_wasm.host.policy import SecurityProvider
from airssys_wasm.runtime import EngineConfig, Limits
from airssys_wasm.types import ComponentId

__all__ = ["HostConfig", "Resolver"]

#: ``resolver(host, port) -> IP address strings`` (resolver order, most preferred first).
Resolver = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Everything a :class:`~airssys_wasm.Host` needs; every field has a safe default.

    ``limits``, ``capacity``, ``batch_size``, ``backoff`` and ``health`` are per-component
    defaults that ``Host.spawn`` arguments override. ``health=None`` turns periodic probing off
    (``Host.health`` still probes on demand).
    """

    #: The host's name: the root supervisor is ``<name>/root`` and log lines and events carry it,
    #: so several hosts in one process can be told apart.
    name: str = "host"
    #: Settings of the Engine the host creates (unless ``Host(engine=...)`` passes one): fuel
    #: metering, compile cache, time slice, pooling allocator.
    engine: EngineConfig = field(default_factory=EngineConfig)
    #: Namespace put in the component-id of every component this host spawns.
    namespace: str = ""
    #: The sender id of messages and requests that come from Python (``Host.send``/``request``).
    host_id: ComponentId = ComponentId("host", namespace="airssys")
    #: Default limits of every component; its manifest's ``[limits]`` and ``spawn(limits=...)``
    #: override them, the trust level caps them.
    limits: Limits = field(default_factory=Limits)
    #: Default mailbox capacity: how many messages queue before ``send`` waits (backpressure) and
    #: ``try_send`` raises ``MailboxFull``.
    capacity: int = DEFAULT_CAPACITY
    #: How many messages an actor takes from its mailbox per turn: larger batches cost fewer task
    #: switches, smaller ones share the loop more finely.
    batch_size: int = DEFAULT_BATCH_SIZE
    #: Default restart delay of every component (``spawn(backoff=...)`` overrides it), so a crash
    #: loop cannot burn a core.
    backoff: Backoff = field(default_factory=Backoff)
    #: Default periodic health probing of every component; None turns it off (``Host.health`` still
    #: probes on demand).
    health: HealthCheck | None = field(default_factory=HealthCheck)
    #: Restart intensity of each top-level component: more than ``max_restarts`` restarts
    #: ``within`` seconds and that component alone is stopped for good (state ``failed``, an
    #: ``EscalationEvent``, its queued messages dead-lettered with reason ``gave_up``; the name
    #: can be spawned again). With ``on_give_up="stop_host"`` it is the intensity of the root
    #: supervisor, shared by every top-level component.
    max_restarts: int = 3
    #: The window, in seconds, of ``max_restarts``.
    within: float = 5.0
    #: What exceeding a restart intensity at the top of the tree stops. "stop_component" (the
    #: default): only the component — or the top-level supervisor's subtree — that went over
    #: its intensity; no guest can take the host down. "stop_host": OTP's "the application
    #: stops" — past the root's intensity every component is stopped and the host refuses new
    #: work until it is closed.
    on_give_up: str = "stop_component"
    #: Seconds a stopping component may take to drain its queue and run ``shutdown`` before its
    #: call is cancelled.
    shutdown_timeout: float = 5.0
    #: How many dead letters ``Host.dead_letters`` keeps (the oldest are forgotten first), so a
    #: long-running host's memory stays bounded.
    dead_letter_history: int = 1000
    #: Longest wait of ``Host.request`` when the caller passes no timeout.
    request_timeout: float = 1.0
    #: Admission at spawn and the check before every guest -> host action. None = the
    #: installed default (``airssys_wasm.security.HostSecurity``: Component.toml capabilities,
    #: quotas, trust levels, audit). Allow-everything exists only as an explicit choice
    #: (``HostSecurity.allow_all()``, trusted components only).
    security: SecurityProvider | None = None
    #: Trust level of components spawned without ``trust=``: "trusted", "unknown" or
    #: "untrusted" (untrusted components must come with a manifest).
    default_trust: str = "unknown"
    #: Where the default provider writes its audit lines (one JSON line per decision): an
    #: ``airssys_wasm.security`` AuditLog, one AuditSink or a sequence of sinks; None = the
    #: ``airssys_wasm.audit`` logger.
    audit: Any = None
    #: Where ext-storage keeps its data (one sqlite3 database in that directory, created if
    #: missing) so it outlives the host; None = in memory, gone when the host closes.
    storage_dir: str | os.PathLike[str] | None = None
    #: How ext-network turns a granted host name into addresses: ``resolver(host, port)``
    #: returns IP address strings, most preferred first (raise ``OSError`` — e.g.
    #: ``socket.gaierror`` — when the name does not resolve). None = the system resolver
    #: (``socket.getaddrinfo``, TCP). It is called once per connect/listen of a *name*, never
    #: for an IP literal, in a resolver thread of its own and bounded by the guest's deadline (a
    #: resolver that hangs costs the guest a ``timeout``, not the host a thread). Every address
    #: it returns is checked (``SecurityProvider.check_resolved``) and the host connects to the
    #: checked one: a test or an embedder pins names here (no DNS), a deployment can plug in
    #: its own DNS client.
    resolver: Resolver | None = None
    #: Custom interfaces the host provides to the components granted them
    #: (``[capabilities] interfaces``): ``HostInterface(wit, implementation, interface=...)``
    #: items, validated when the Host is created; ``Host.provide`` adds more later.
    interfaces: Sequence[HostInterface] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"HostConfig.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.engine, EngineConfig):
            raise ConfigError("HostConfig.engine must be an airssys_wasm.EngineConfig")
        if not isinstance(self.limits, Limits):
            raise ConfigError("HostConfig.limits must be an airssys_wasm.Limits")
        if not isinstance(self.host_id, ComponentId):
            raise ConfigError("HostConfig.host_id must be an airssys_wasm.ComponentId")
        if not 0 < self.request_timeout < math.inf:
            raise ConfigError(f"HostConfig.request_timeout must be a finite number of seconds "
                              f"> 0, got {self.request_timeout!r}")
        if self.security is not None and not isinstance(self.security, SecurityProvider):
            raise ConfigError("HostConfig.security must implement admit/release/check/"
                              "check_resolved (the host.policy.SecurityProvider "
                              "protocol), e.g. "
                              "airssys_wasm.security.HostSecurity(); None selects the default")
        if self.resolver is not None and not callable(self.resolver):
            raise ConfigError(f"HostConfig.resolver must be a callable (host, port) -> list of IP "
                              f"address strings, or None for socket.getaddrinfo; got "
                              f"{type(self.resolver).__name__}")
        if self.storage_dir is not None and not isinstance(self.storage_dir, (str, os.PathLike)):
            raise ConfigError(f"HostConfig.storage_dir must be a directory path or None, not "
                              f"{type(self.storage_dir).__name__}")
        if isinstance(self.interfaces, (str, bytes)) or not all(
                isinstance(i, HostInterface) for i in self.interfaces):
            raise ConfigError("HostConfig.interfaces must be a sequence of "
                              "airssys_wasm.HostInterface(wit, implementation) values")
        object.__setattr__(self, "interfaces", tuple(self.interfaces))
        if self.on_give_up not in ("stop_component", "stop_host"):
            raise ConfigError(f"HostConfig.on_give_up must be 'stop_component' (a component "
                              f"that exceeds its restart intensity stops alone) or 'stop_host' "
                              f"(OTP: the whole host stops), got {self.on_give_up!r}")
        if self.default_trust not in ("trusted", "unknown", "untrusted"):
            raise ConfigError(f"HostConfig.default_trust must be 'trusted', 'unknown' or "
                              f"'untrusted', got {self.default_trust!r}")
        # Defaults of every spawn's spec and of the root supervisor: refused here, where they
        # are written, not at the first spawn (or, for a batch too large for C, at every one).
        check_mailbox_settings("HostConfig", self.capacity, self.batch_size,
                               self.shutdown_timeout)
        if not isinstance(self.backoff, Backoff):
            raise ConfigError(f"HostConfig.backoff must be an airssys_wasm.actor.Backoff, not "
                              f"{type(self.backoff).__name__}")
        if self.health is not None and not isinstance(self.health, HealthCheck):
            raise ConfigError(f"HostConfig.health must be an airssys_wasm.actor.HealthCheck or "
                              f"None, not {type(self.health).__name__}")
        RestartWindow(self.max_restarts, self.within, time.monotonic)
        if type(self.dead_letter_history) is not int or self.dead_letter_history < 0:
            raise ConfigError(f"HostConfig.dead_letter_history must be an int >= 0, got "
                              f"{self.dead_letter_history!r}")
