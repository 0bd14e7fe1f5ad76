"""Which components run in a host, under which names and ids, and what they said about
themselves. It is also the host's answer to a guest's ``list-components`` and
``get-component-metadata`` (the runtime's ``ComponentDirectory`` protocol).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airssys_wasm.errors import ComponentNotFound, ConfigError
from airssys_wasm.runtime import (
    Artifact,
    ComponentDirectory,
    HostServices,
    Instance,
    Limits,
    WasiSettings,
)
from airssys_wasm.types import ComponentConfig, ComponentId, ComponentMetadata

if TYPE_CHECKING:
    from airssys_wasm.actor import ActorRef

__all__ = ["ComponentEntry", "ComponentStats", "Registry", "check_addressed", "check_name"]


def check_name(name: object) -> str:
    """Component names are the routing keys and the ``name`` of their component-id."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a component name must be a non-empty string, got {name!r}")
    if "/" in name or "@" in name or name != name.strip():
        raise ConfigError(f"component name {name!r} may not contain '/', '@' or surrounding "
                          "spaces (they separate namespace and version in a component-id)")
    return name


def check_addressed(target: ComponentId, cid: ComponentId, where: str = "") -> None:
    """ComponentNotFound unless ``target`` (a guest's component-id; empty namespace/version
    match any) addresses ``cid``, the component running under ``target.name`` (``where``)."""
    if not target.matches(cid):
        raise ComponentNotFound(
            f"no component {target} is running{where}; the component named {target.name!r} "
            f"is {cid} (leave namespace/version empty to match any)")


@dataclass(slots=True)
class ComponentStats:
    """Host-level counters of one component, over all its incarnations."""

    guest_errors: int = 0  # messages/callbacks the guest answered with an error value
    callbacks_dropped: int = 0  # callbacks for a component that does not export handle-callback
    health_traps: int = 0  # health probes that trapped (the instance was replaced)
    #: Traps that ended an incarnation, by ``TrapKind`` value (counted from lifecycle events).
    traps: dict[str, int] = field(default_factory=dict)
    #: Dead letters addressed to it, by ``DeadLetterReason`` value (counted from the events).
    dead_letters: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ComponentEntry:
    """One spawned component: what every incarnation is built from."""

    name: str
    component_id: ComponentId
    artifact: Artifact
    limits: Limits
    services: HostServices
    init_config: ComponentConfig | None = None
    #: WASI p2 settings for components importing wasi:* (from the manifest's filesystem grants).
    wasi: WasiSettings | None = None
    metadata: ComponentMetadata | None = None
    ref: ActorRef | None = None
    #: Called with the name before every new instance (start, restart, replaced after a trapped
    #: health probe): the host releases what earlier instances held outside the Store.
    on_incarnation: Callable[[str], None] | None = None
    stats: ComponentStats = field(default_factory=ComponentStats)
    #: What it was admitted with (the manifest as given, the trust level, an explicit
    #: ``limits=``): ``Host.upgrade`` re-admits from them and rolls back to them.
    manifest: object | None = None
    trust: str = ""
    explicit_limits: Limits | None = None
    #: True while ``Host.upgrade`` works on it (one upgrade at a time per component).
    upgrading: bool = False
    #: The running incarnation's instance (None between incarnations): metrics read its
    #: memory size at scrape time.
    instance: Instance | None = None


class Registry:
    """Name -> entry. Names are unique within a host."""

    __slots__ = ("_entries", "_remote")

    def __init__(self, remote: ComponentDirectory | None = None) -> None:
        self._entries: dict[str, ComponentEntry] = {}
        #: The lattice's directory of components on other nodes: guests see the whole lattice.
        self._remote = remote

    def add(self, entry: ComponentEntry) -> None:
        """Register ``entry`` under its name; ConfigError if the name is taken, because a name is a
        component's address and two components must never share one."""
        if entry.name in self._entries:
            raise ConfigError(f"a component named {entry.name!r} is already running in this host; "
                              "stop it first or pick another name")
        self._entries[entry.name] = entry

    def remove(self, name: str, entry: ComponentEntry | None = None) -> bool:
        """Unregister ``name``, only if it is still ``entry`` when given; True if removed.

        The ``entry`` guard lets a late cleanup of an old incarnation leave a newer component under
        the same name alone."""
        current = self._entries.get(name)
        if current is None or (entry is not None and current is not entry):
            return False
        del self._entries[name]
        return True

    def get(self, name: str) -> ComponentEntry:
        """The entry of ``name``; ComponentNotFound (saying how many are running) if there is none.
        """
        entry = self._entries.get(name)
        if entry is None:
            raise ComponentNotFound(
                f"no component named {name!r} is running in this host ({len(self._entries)} "
                "running); spawn it first, or check the name (names are case-sensitive)")
        return entry

    def find(self, target: ComponentId) -> ComponentEntry:
        """The entry a guest's component-id addresses. Empty namespace/version match any."""
        entry = self.get(target.name)
        check_addressed(target, entry.component_id, " in this host")
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    # -- ComponentDirectory ----------------------------------------------------------------------
    def list_components(self) -> Sequence[ComponentId]:
        """``list-components`` for guests: the component-ids of everything registered."""
        local = [entry.component_id for entry in self._entries.values()]
        if self._remote is None:
            return local
        return local + [cid for cid in self._remote.list_components()
                        if cid.name not in self._entries]

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None:
        """``get-component-metadata`` for guests: what ``component`` said about itself, or None
        when it is unknown (a guest asking about a gone component gets ``none``, not an error)."""
        try:
            return self.find(component).metadata
        except ComponentNotFound:
            if self._remote is not None and component.name not in self._entries:
                return self._remote.component_metadata(component)
            return None
