"""Type stub for the Cython router (airssys_wasm/_fast/_router.pyx)."""

from typing import Any

from airssys_wasm.errors import MessageTooLarge

def as_frame(frame: bytes | bytearray | memoryview) -> bytes: ...

def too_large(target: str, size: int, limit: int) -> MessageTooLarge: ...

class Route:
    name: str
    mailbox: Any
    component_id: Any
    max_message: int
    def check_size(self, size: int) -> None:
        """MessageTooLarge when a ``size``-byte message is over this target's max_message."""

class Router:
    """The host's table of component names: ``send`` is validate + lookup + enqueue, in C.

    This is the per-message path between components, which is why it is Cython; ``routed``
    counts the frames it delivered."""

    routed: int
    def add(self, name: str, mailbox: Any, component_id: Any, max_message: int = -1) -> Route:
        """Route ``name`` to ``mailbox`` (its ``try_put`` is the enqueue); names are unique.
        ``max_message`` is the largest frame it accepts (MessageTooLarge above it; -1: no limit).
        """
    def remove(self, name: str, mailbox: Any = None) -> bool:
        """Forget ``name`` (only if it still routes to ``mailbox``, when given); True if removed.
        """
    def get(self, name: str) -> Route | None:
        """The route of ``name``, or None."""
    def names(self) -> list[str]:
        """Every routed name."""
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...
    def resolve(self, name: str, frame: bytes | bytearray | memoryview) -> Route:
        """The route of ``name`` after checking ``frame``: TypeError, CodecError, ComponentNotFound
        or MessageTooLarge, each raised before any copy."""
    def send(self, name: str, sender: Any, frame: bytes | bytearray | memoryview) -> None:
        """Check ``frame``, look ``name`` up and enqueue ``(sender, frame)`` without waiting:
        CodecError for a bad frame, ComponentNotFound for an unknown name, MailboxFull when the
        target's mailbox is at capacity (backpressure is the caller's decision)."""

class SendGate:
    """One sender's per-message fast path: replays its policy's allowed, unmetered,
    unobserved ``messaging.send`` decisions in C (see the Cython docstring)."""

    allowed: dict[str, bool] | None
    sent: int
    metered: bool
    audit: Any
    closed: bool
    sender: Any
    def __init__(self, allowed: dict[str, bool] | None = None, *, metered: bool = False,
                 audit: Any = None) -> None: ...
    def bind(self, router: Router, sender: Any) -> None:
        """Send through ``router`` as ``sender`` (the component-id put in every envelope)."""
    def close(self) -> None:
        """Pass nothing more: the grant it replays is gone."""
    def try_send(self, target: Any, message: object) -> bool:
        """Enqueue ``(sender, message)`` for ``target`` if the policy's verdict stands and nothing
        is out of the ordinary; False, with nothing done, otherwise."""

class GatedSend:
    """A ``send-message`` host function: ``data.send_gate`` first, ``fallback`` for the rest."""

    def __init__(self, fallback: Any, ok: Any) -> None: ...
    def __call__(self, data: Any, target: Any, message: object) -> Any: ...
