"""The one permission check every guest -> host action passes through.

The host layer does not decide what a component may do: it asks a :class:`PermissionPolicy`
(``policy.check(component, kind, target)``) before acting on a guest's behalf, and refuses with
:class:`~airssys_wasm.errors.PermissionDenied` (the guest sees ``permission-denied``) when the
decision says no. The ``security`` layer (Component.toml capabilities, audit log, quotas)
provides the real policy; until it is attached, :data:`ALLOW_ALL` — an explicit placeholder that
allows everything — is the default, so nothing is enforced yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "ALLOW_ALL",
    "AllowAll",
    "Decision",
    "MESSAGING_SEND",
    "PermissionPolicy",
    "PolicyDecision",
]

#: ``kind`` of a guest's send-message / send-request; ``target`` is the target component's name.
MESSAGING_SEND = "messaging.send"


@runtime_checkable
class Decision(Protocol):
    """What a policy answers: allowed or not, and why (the reason reaches the guest)."""

    @property
    def allowed(self) -> bool: ...

    @property
    def reason(self) -> str: ...


@runtime_checkable
class PermissionPolicy(Protocol):
    """``check(component, kind, target)``: may ``component`` (its host name) do ``kind`` to
    ``target``? Called synchronously inside the guest's call: it must not block."""

    def check(self, component: str, kind: str, target: str) -> Decision: ...


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    reason: str = ""


_ALLOWED = PolicyDecision(True, "allowed by AllowAll: no security policy is attached to this host")


class AllowAll:
    """PLACEHOLDER policy: allows every action of every component.

    It exists so the check is already on every guest -> host path before the ``security``
    layer lands; a host using it enforces no capabilities at all. Pass a real policy as
    ``HostConfig(policy=...)`` to enforce Component.toml capabilities.
    """

    __slots__ = ()

    def check(self, component: str, kind: str, target: str) -> PolicyDecision:
        return _ALLOWED

    def __repr__(self) -> str:
        return "AllowAll()  # placeholder: no capabilities enforced"


ALLOW_ALL = AllowAll()
