"""What the host knows of components that run on other nodes (``Host(lattice=...)``).

The host layer does not import the lattice (it sits above): it defines here the two things
they share. :class:`Delivery` is the envelope a frame from another node travels in through a
local mailbox, so the node can acknowledge it to JetStream only once ``handle-message``
returned or the frame was dead-lettered. :class:`LatticeLink` is what ``Host`` calls on the
lattice object it was given (``Host.ref``/``spawn`` answer a component placed on another node
with a ``RemoteRef``, in ``host.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from airssys_wasm.actor import ActorState
from airssys_wasm.types import ComponentId, ComponentMetadata, HealthStatus

if TYPE_CHECKING:
    from airssys_wasm.host.host import ComponentRef, Host

__all__ = ["Delivery", "LatticeLink"]


class Delivery:
    """A frame from another node: handled like a ``(sender, frame)`` message, then ``settle``
    is called once (handled, refused by the guest with an error value, trapped, or
    dead-lettered because its component stopped), whatever the outcome."""

    __slots__ = ("sender", "frame", "_settle", "_token")

    def __init__(self, sender: ComponentId, frame: bytes, settle: Callable[[Any], None],
                 token: Any) -> None:
        self.sender = sender
        self.frame = frame
        self._settle: Callable[[Any], None] | None = settle
        self._token = token

    def settle(self) -> None:
        """Report this frame as done (idempotent: the first call counts)."""
        settle, self._settle = self._settle, None
        if settle is not None:
            settle(self._token)

    def __repr__(self) -> str:
        return f"<Delivery from {self.sender} {len(self.frame)} bytes>"


class LatticeLink(Protocol):
    """The part of a lattice node the ``Host`` calls (``airssys_wasm.lattice.Lattice``)."""

    async def attach(self, host: Host) -> None:
        """Connect and join the lattice; called by ``Host.start``."""

    async def detach(self, *, drain: bool) -> None:
        """Stop taking frames from the lattice (before the host stops its components)."""

    async def close(self) -> None:
        """Leave the lattice once the local components stopped; called by ``Host.close``."""

    async def spawn(self, name: str, source: Any, **options: Any) -> ComponentRef:
        """``Host.spawn`` on a lattice host: record the spec, place it, start it there."""

    def owns(self, name: str) -> bool:
        """True when ``name`` is a component of the lattice placed on another node."""

    def component_id(self, name: str) -> ComponentId:
        """The component-id of ``name``, placed on another node."""

    def where(self, name: str) -> str | None:
        """The node ``name`` is placed on (None while it moves)."""

    def state(self, name: str) -> tuple[ActorState, BaseException | None]:
        """Where ``name`` is in its lifecycle as its placement says, and why it failed."""

    async def stop(self, name: str) -> None:
        """Stop a component of the lattice wherever it runs, for good (``Host.stop``)."""

    async def health(self, name: str) -> HealthStatus:
        """Probe a component placed on another node."""

    def subscribe(self, topic: str, name: str) -> None:
        """Record that ``name`` (on any node) receives ``topic``; its node subscribes it."""

    def unsubscribe(self, topic: str, name: str) -> bool:
        """Undo ``subscribe``; True if the lattice had it recorded."""

    async def publish(self, topic: str, frame: bytes) -> int:
        """Deliver ``frame`` to the subscribers of ``topic`` on the other nodes; how many."""

    async def flush(self, timeout: float | None = 10.0) -> int:
        """Wait until JetStream acknowledged every frame sent to other nodes before the call
        (the delivery contract's "acknowledged"); how many this node has sent in all."""

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until this node's pending lattice work (claims, subscriptions) is done."""

    def names(self) -> list[str]:
        """Names of the components placed on other nodes."""

    def list_components(self) -> Sequence[ComponentId]:
        """The component-ids of the components placed on other nodes (``list-components``)."""

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None:
        """What a component on another node said about itself (``get-component-metadata``)."""
