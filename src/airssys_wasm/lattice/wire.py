"""What the nodes of a lattice put on NATS: subjects, packs of frames, replies, entries.

Everything is MessagePack. A *pack* carries the frames one node sends to one component since
its last publish: ``[origin, [[seq, sender_ns, sender_name, sender_version, frame], ...]]``.
``origin`` names the sending node's session (node name + boot id) and ``seq`` counts the frames
that session sent to that component, so ``(origin, seq)`` is the key a receiver deduplicates
redeliveries by. Decoders check every field: a malformed pack is a LatticeError, never a crash
or a half-delivered pack.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgpack

from airssys_wasm.errors import (
    ActorStateError,
    AirssysError,
    ComponentNotFound,
    ConfigError,
    GuestError,
    LatticeError,
    LatticeUnavailable,
    LoadError,
    MailboxFull,
    ManifestError,
    MessageTooLarge,
    PermissionDenied,
    QuotaExceeded,
    RequestTimeout,
    SupervisorEscalation,
    TrapError,
)
from airssys_wasm.types import ComponentId

__all__ = ["Subjects", "error_from_wire", "error_to_wire", "pack", "token", "unpack", "dumps",
           "loads"]

_SAFE = re.compile(r"[A-Za-z0-9_-]{1,128}", re.ASCII)

#: Bytes of a pack besides its frames: msgpack headers, origin and sender ids, with room.
PACK_OVERHEAD = 4096


def token(name: str) -> str:
    """``name`` as one NATS subject token, consumer name and KV key: itself when it is made of
    letters, digits, ``-`` and ``_`` (and does not start with ``x-``), else ``x-`` + its UTF-8
    in hex, so any component name maps to exactly one token."""
    if _SAFE.fullmatch(name) and not name.startswith("x-"):
        return name
    return "x-" + name.encode().hex()


class Subjects:
    """The subjects, stream and bucket names of one lattice (``Lattice(name=...)``)."""

    __slots__ = ("prefix", "stream", "nodes", "placements", "specs", "handled", "sources")

    def __init__(self, lattice: str) -> None:
        t = token(lattice)
        self.prefix = f"aw.{t}"
        self.stream = f"AW_{t}_MSG"
        self.nodes = f"aw_{t}_nodes"
        self.placements = f"aw_{t}_placement"
        self.specs = f"aw_{t}_specs"
        self.handled = f"aw_{t}_handled"
        self.sources = f"aw_{t}_sources"

    def inbox(self, component: str) -> str:
        """Where frames for ``component`` are published (one JetStream subject each)."""
        return f"{self.prefix}.msg.{token(component)}"

    def node(self, node: str, what: str) -> str:
        """A node's core-NATS service subject: ``req`` (requests), ``ctl`` (control)."""
        return f"{self.prefix}.node.{token(node)}.{what}"

    @property
    def publish(self) -> str:
        """Topic publishes, heard by every node."""
        return f"{self.prefix}.pub"


def dumps(value: Any) -> bytes:
    """MessagePack (bytes stay bytes)."""
    return msgpack.packb(value, use_bin_type=True)


def loads(data: bytes, what: str) -> Any:
    """MessagePack back; LatticeError naming ``what`` for anything that does not decode."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise LatticeError(f"a {what} from the lattice does not decode ({exc}); a node of an "
                           "incompatible version, or something else publishing on its subjects"
                           ) from None


def pack(origin: str, frames: Sequence[tuple[int, ComponentId, bytes]]) -> bytes:
    """One pack of ``(seq, sender, frame)``."""
    return dumps([origin, [[seq, s.namespace, s.name, s.version, frame]
                           for seq, s, frame in frames]])


def unpack(data: bytes) -> tuple[str, list[list[Any]]]:
    """A pack's origin and its frames, checked: each item is ``[seq, namespace, name,
    version, frame]`` with ``seq`` >= 1, three strings (a non-empty name) and bytes. The
    items are the decoded lists themselves (no copy per frame: this runs for every frame
    received)."""
    value = loads(data, "pack")
    if (type(value) is not list or len(value) != 2 or type(value[0]) is not str
            or type(value[1]) is not list):
        raise LatticeError("a pack from the lattice is not [origin, frames]")
    items: list[list[Any]] = value[1]
    for item in items:
        if (type(item) is not list or len(item) != 5 or type(item[0]) is not int
                or item[0] < 1 or type(item[1]) is not str or type(item[2]) is not str
                or type(item[3]) is not str or type(item[4]) is not bytes or not item[2]):
            raise LatticeError("a frame in a pack from the lattice is not "
                               "[seq, namespace, name, version, frame]")
    return value[0], items


#: Errors rebuilt as themselves on the caller's node (subclasses before their bases).
_ERRORS: dict[str, type[AirssysError]] = {
    "not_found": ComponentNotFound, "timeout": RequestTimeout, "full": MailboxFull,
    "denied": PermissionDenied, "quota": QuotaExceeded, "too_large": MessageTooLarge,
    "load": LoadError, "manifest": ManifestError, "config": ConfigError,
    "state": ActorStateError, "escalation": SupervisorEscalation,
    "unavailable": LatticeUnavailable, "lattice": LatticeError,
}


def error_to_wire(exc: BaseException) -> list[Any]:
    """An error raised on the node that ran a request, as a reply the caller's node rebuilds."""
    if isinstance(exc, GuestError):
        return ["guest", str(exc), exc.case, exc.detail, exc.export]
    if isinstance(exc, TrapError):
        return ["trap", str(exc), exc.kind.value, exc.component or ""]
    for kind, cls in _ERRORS.items():
        if isinstance(exc, cls):
            return [kind, str(exc)]
    return ["other", f"{type(exc).__name__}: {exc}"]


def error_from_wire(value: Any, node: str) -> AirssysError:
    """Inverse of ``error_to_wire``; the message says which node it came from."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return LatticeError(f"node {node!r} sent a malformed error reply")
    kind, message = value[0], (value[1] if len(value) > 1 else "")
    if kind == "guest" and len(value) == 5:
        return GuestError(message, case=value[2], detail=value[3], export=value[4])
    if kind == "trap" and len(value) == 4:
        try:
            return TrapError(message, value[2], component=value[3] or None)
        except ValueError:
            return TrapError(message, component=value[3] or None)
    cls = _ERRORS.get(kind)
    if cls is not None:
        return cls(message)
    return LatticeError(f"on node {node!r}: {message}")
