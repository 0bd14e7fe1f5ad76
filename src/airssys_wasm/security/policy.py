"""The one entry point the host layer calls before every guest→host action.

``policy.check(component, kind, target)`` combines the component's capabilities, its quotas
and the audit log into a ``Decision``. It never raises for a *denial* — the host turns
``decision.error`` into the WIT error (``permission-denied`` / ``resource-exhausted``) for the
guest — and it raises only for programming errors (unknown kind, wrong target type, bad amount).

``AllowAllPolicy`` exists for embedding apps that run their own, trusted components and want
no capability bookkeeping. It is a separate, explicitly named class, it refuses to register any
component that is not ``TrustLevel.TRUSTED``, and nothing ever selects it by default.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from airssys_wasm._fast._router import SendGate
from airssys_wasm.errors import ConfigError
from airssys_wasm.security.addresses import IPAddress, canonical_ip, format_endpoint, special_range
from airssys_wasm.security.audit import AuditLog
from airssys_wasm.security.capabilities import Capabilities, CapabilityKind
from airssys_wasm.security.manifest import Manifest, ManifestLimits
from airssys_wasm.security.patterns import resolve_target_file, resolve_target_path, target_endpoint
from airssys_wasm.security.quota import QUOTA_OK, QuotaOutcome, QuotaState
from airssys_wasm.security.trust import DEFAULT_TRUST_POLICY, TrustLevel, TrustPolicy

__all__ = [
    "BASELINE_CAPABILITIES",
    "AllowAllPolicy",
    "ComponentGrant",
    "Decision",
    "DecisionCounts",
    "DenyCode",
    "PermissionPolicy",
    "Policy",
]

_KINDS = frozenset(k.value for k in CapabilityKind)
_METERED = frozenset({"messaging.send", "network.connect", "network.bind", "storage.write",
                      "interfaces"})
_FS_KINDS = frozenset({"filesystem.read", "filesystem.write", "filesystem.delete", "filesystem.list"})
_PATH_KINDS = _FS_KINDS | {"process.spawn"}

BASELINE_CAPABILITIES = Capabilities({CapabilityKind.MESSAGING_SEND: ("*",)})
"""What a component without a manifest may do: message any component (and log). Nothing that
reaches files, sockets, processes or storage."""


class DenyCode(enum.StrEnum):
    """The WIT error case the host returns to the guest for a denial."""

    PERMISSION_DENIED = "permission-denied"
    RESOURCE_EXHAUSTED = "resource-exhausted"


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed`` or not, why, and (for denials) which WIT error the guest gets."""

    allowed: bool
    reason: str
    error: DenyCode | None = None
    retry_after: float | None = None
    # Filesystem/process kinds: the target after resolution (symlinks, ``..``). The host should
    # act on this path, not re-resolve the guest's string, so what it opens is what was checked.
    resolved_path: str | None = None
    # process.spawn: ``(st_dev, st_ino)`` of the file the check resolved, from the same
    # descriptor as ``resolved_path``. The host executes a descriptor only if it is this file.
    resolved_inode: tuple[int, int] | None = None
    # Allowed filesystem kinds: the directory of the matching grant (its resolved literal
    # prefix) that the host opens ``resolved_path`` beneath, with no symlink followed.
    root: str | None = None
    # ``check_resolved``: the IP address (canonical text, no port) the host may connect to or
    # bind; the host uses exactly this address and never resolves the name again.
    resolved_address: str | None = None


_SPAWN = "process.spawn"


def _resolve(kind: str, target: object) -> tuple[str | None, tuple[int, int] | None]:
    """Path kinds: the resolved target (and, for process.spawn, the file's identity)."""
    if kind == _SPAWN:
        return resolve_target_file(target)
    if kind in _PATH_KINDS:
        return resolve_target_path(target), None
    return None, None


_SEND = "messaging.send"
_SEND_CACHE_LIMIT = 1024
_NETWORK_KINDS = frozenset({"network.connect", "network.bind"})
#: Most resolved addresses one check looks at (a resolver answering thousands is not honest).
MAX_RESOLVED = 32
#: Refused addresses listed by name in a denial's reason (the rest are counted).
_LISTED = 4
_GLOBAL_REASON = {k: f"a global unicast address of a name capabilities.{k} grants"
                  for k in _NETWORK_KINDS}
_ALLOW_ALL = Decision(True, "allow-all policy (trusted component)")

# Allow decisions carry no per-call data, so one immutable instance per kind is shared.
_ALLOWED = {k: Decision(True, f"matches a capabilities.{k} grant") for k in _KINDS}
_SEND_ALLOWED = _ALLOWED[_SEND]
_AUDIT_UNAVAILABLE = Decision(False, "audit log unavailable; refusing unaudited access",
                              DenyCode.PERMISSION_DENIED)


@dataclass(frozen=True, slots=True)
class ComponentGrant:
    """What a registered component got: its capabilities, effective limits and live quotas."""

    component: str
    trust: TrustLevel
    manifest: Manifest | None
    capabilities: Capabilities
    limits: ManifestLimits
    quota: QuotaState
    #: messaging.send target -> capability match. Grants never change while registered, and a
    #: component messages the same few names over and over: the glob match runs once per name.
    send_matches: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    #: The per-message fast path over ``send_matches`` (``_fast._router.SendGate``): the host
    #: binds it to its router, and an allowed, unmetered, unobserved send to a name allowed
    #: before then passes in C. ``gate.sent`` counts the messaging.send decisions allowed there
    #: and on this policy's own fast path (no tuple, no dict, no lock; see DecisionCounts).
    #: A grant made outside ``register`` (or by a subclass that overrides ``check``: the gate
    #: would replay decisions that are no longer the policy's) gets a closed gate, which
    #: counts and passes nothing.
    gate: SendGate = field(default_factory=lambda: _closed_gate({}), compare=False, repr=False)


def _closed_gate(allowed: dict[str, bool]) -> SendGate:
    gate = SendGate(allowed)
    gate.close()
    return gate


class DecisionCounts:
    """How many decisions a policy made, per ``(component, kind, allowed)``: for metrics.

    The one decision made per message — an allowed ``messaging.send`` on the fast path — is
    counted on the component's grant (``grant.gate.sent += 1``: no tuple, no dict, no lock); the
    rest (denials, first sends to a name, file/network/storage/process decisions, which cost
    microseconds anyway) here, under a lock because ``check_resolved`` runs in I/O threads.
    A grant's count is folded in here when it is unregistered, so the totals never go down.
    """

    __slots__ = ("_counts", "_lock")

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, bool], int] = {}
        self._lock = threading.Lock()

    def add(self, component: str, kind: str, allowed: bool, n: int = 1) -> None:
        key = (component, kind, bool(allowed))
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def fold(self, grant: ComponentGrant) -> None:
        """Keep what ``grant`` counted once it goes away (its component was unregistered)."""
        grant.gate.close()  # the host may still hold it: it must not replay a grant that is gone
        if grant.gate.sent:
            self.add(grant.component, _SEND, True, grant.gate.sent)
            grant.gate.sent = 0

    def snapshot(self, grants: Iterable[ComponentGrant]) -> dict[tuple[str, str, bool], int]:
        """Totals now: the folded counts plus what the live ``grants`` counted."""
        with self._lock:
            out = dict(self._counts)
        for grant in grants:
            if grant.gate.sent:
                key = (grant.component, _SEND, True)
                out[key] = out.get(key, 0) + grant.gate.sent
        return out


class Policy(Protocol):
    """The permission policy a ``HostSecurity`` consults: registration of grants at spawn and one
    check before every guest-to-host action.

    A protocol so an embedder can supply its own (backed by a central policy service, say)
    without subclassing; ``PermissionPolicy`` is the default, ``AllowAllPolicy`` the explicit
    opt-out."""

    def register(
        self, component: str, manifest: Manifest | None = None, trust: TrustLevel | str = ...
    ) -> ComponentGrant:
        """Record what ``component`` may do (from ``manifest`` at ``trust``); raise to refuse it.
        """

    def unregister(self, component: str) -> None:
        """Forget ``component``'s grant (it stopped)."""

    def check(self, component: str, kind: str, target: object, *, amount: int | None = None) -> Decision:
        """Decide whether ``component`` may do ``kind`` on ``target`` (``amount``: bytes or
        messages for metered kinds); audited either way."""

    def performed(self, component: str, kind: str, target: object, what: str) -> None:
        """Audit what the host actually did after an allowed check (the path opened, the address
        connected): a ``done`` line."""

    def refused(self, component: str, kind: str, target: object, reason: str) -> None:
        """Audit a refusal decided outside ``check`` (e.g. an oversized message): a ``deny`` line.
        """

    def check_resolved(self, component: str, kind: str, target: object, addresses: Sequence[str],
                       *, failure: str | None = None) -> Decision:
        """Check the addresses a granted name resolved to (``network.*``): the first allowed one is
        the one the host will use, so the address checked is the address connected."""


def _check_network(kind: object, addresses: object) -> None:
    if kind not in _NETWORK_KINDS:
        raise ValueError(f"check_resolved is for network.connect / network.bind, not {kind!r}")
    if isinstance(addresses, (str, bytes)) or not isinstance(addresses, Sequence):
        raise TypeError(f"addresses must be a sequence of IP address strings, not "
                        f"{type(addresses).__name__}")


def _unresolved(target: object, failure: str | None) -> str:
    if failure is not None:
        return f"resolving {target!r} failed: {failure}"
    return f"{target!r} resolved to no address"


def _refusal(kind: str, target: object, refused: list[str]) -> str:
    shown = ", ".join(refused[:_LISTED])
    more = f" and {len(refused) - _LISTED} more" if len(refused) > _LISTED else ""
    return (f"{target!r} resolved only to addresses no grant names: {shown}{more}; a name grant "
            f"never reaches loopback, private, link-local or other non-global addresses — grant "
            f"the address itself (capabilities.{kind} = [\"127.0.0.1:8080\"] or "
            f"[\"10.0.0.0/8:5432\"]) if the component must reach it")


def _check_kind(kind: object, amount: int | None) -> None:
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"unknown capability kind {kind!r}; use one of: {', '.join(sorted(_KINDS))}")
    if amount is None:
        return
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be an int, not {type(amount).__name__}")
    if kind not in _METERED:
        raise ValueError(f"amount does not apply to {kind}; only to {', '.join(sorted(_METERED))}")
    if amount < 0 and kind != "storage.write":
        raise ValueError(f"amount must be >= 0 for {kind} (negative amounts free storage only)")


class PermissionPolicy:
    """Capabilities + quotas + audit behind ``check``; the default policy of the host.

    ``register`` applies the trust policy (manifest required? limits within the ceiling?) and
    creates the component's quota counters; they live until ``unregister``, so restarting a
    trapped instance does not refill its quotas. With ``fail_closed=True`` (default) an allow
    that could not be written to every audit sink becomes a denial: nothing unaudited happens.
    """

    def __init__(
        self,
        *,
        audit: AuditLog | None = None,
        trust_policy: TrustPolicy = DEFAULT_TRUST_POLICY,
        clock: Callable[[], float] = time.monotonic,
        fail_closed: bool = True,
    ) -> None:
        self._audit = audit if audit is not None else AuditLog()
        self.trust_policy = trust_policy
        self._clock = clock
        self._fail_closed = fail_closed
        self._grants: dict[str, ComponentGrant] = {}
        self._lock = threading.Lock()
        self.counts = DecisionCounts()

    @property
    def audit(self) -> AuditLog:
        """The audit log every decision is written to."""
        return self._audit

    @audit.setter
    def audit(self, audit: AuditLog) -> None:
        # The grants' send gates ask the log whether a line would be kept: they follow it.
        self._audit = audit
        with self._lock:
            for grant in self._grants.values():
                grant.gate.audit = audit

    def register(
        self, component: str, manifest: Manifest | None = None, trust: TrustLevel | str = TrustLevel.UNKNOWN
    ) -> ComponentGrant:
        """Register ``component``'s grant from its manifest; the trust level's rules (manifest
        required, ceilings) are checked first and refuse with ManifestError."""
        level = trust if type(trust) is TrustLevel else TrustLevel(trust)
        self.trust_policy.check_manifest(component, manifest, level)
        quota = QuotaState(self.trust_policy.quota_for(manifest, level), self._clock)
        matches: dict[str, bool] = {}
        grant = ComponentGrant(
            component=component,
            trust=level,
            manifest=manifest,
            capabilities=manifest.capabilities if manifest is not None else BASELINE_CAPABILITIES,
            limits=self.trust_policy.limits_for(manifest, level),
            quota=quota,
            send_matches=matches,
            gate=SendGate(matches, metered=quota.meters_messages, audit=self._audit)
            if type(self).check is PermissionPolicy.check else _closed_gate(matches),
        )
        with self._lock:
            if component in self._grants:
                raise ValueError(f"component {component!r} is already registered; unregister it first")
            self._grants[component] = grant
        return grant

    def unregister(self, component: str) -> None:
        """Forget ``component``'s grant; later checks for it are denied."""
        with self._lock:
            grant = self._grants.pop(component, None)
        if grant is not None:
            self.counts.fold(grant)

    def grant(self, component: str) -> ComponentGrant | None:
        """The live grant of ``component`` (capabilities, quota state, trust), or None: for tools
        and tests that inspect what a component was given."""
        return self._grants.get(component)

    def decisions(self) -> dict[tuple[str, str, bool], int]:
        """Decisions made so far per ``(component, kind, allowed)`` (see DecisionCounts)."""
        with self._lock:
            grants = list(self._grants.values())
        return self.counts.snapshot(grants)

    def check(self, component: str, kind: str, target: object, *, amount: int | None = None) -> Decision:
        """Decide, audit, and charge quotas for one action of ``component``.

        ``amount`` meters the action: messages for ``messaging.send`` (default 1), bytes for
        ``network.*`` (bandwidth) and ``storage.write`` (stored bytes; negative frees them),
        calls for ``interfaces`` (a call into a custom interface, target ``iface#function``;
        without ``amount`` it is the import decision at spawn, which charges nothing).
        """
        if kind == _SEND and amount is None and type(target) is str:
            # The per-message case, straight through when it is allowed; anything else (no
            # grant yet cached, a denial, an exhausted quota) takes the general path below,
            # which decides again and audits the denial. A failed take() consumes no tokens.
            grant = self._grants.get(component)
            if grant is not None and grant.send_matches.get(target) and (
                    not grant.quota.meters_messages or grant.quota.charge_message(1) is QUOTA_OK):
                # An unobserved audit trail (no sink would keep the line) costs one probe call;
                # otherwise record() writes it (and asks the sinks again, which is cheap).
                audit = self._audit
                keeps = audit.keeps_lines
                if (keeps is not None and not keeps()) \
                        or audit.record(component, kind, target, True, _SEND_ALLOWED.reason) \
                        or not self._fail_closed:
                    grant.gate.sent += 1
                    return _SEND_ALLOWED
                self.counts.add(component, kind, False)
                return _AUDIT_UNAVAILABLE
        else:
            _check_kind(kind, amount)
        resolved, inode = _resolve(kind, target)
        grant = self._grants.get(component)
        if grant is None:
            return self._deny(component, kind, target, resolved, DenyCode.PERMISSION_DENIED,
                              "component is not registered with the permission policy")  # fmt: skip
        if resolved is not None:
            granted = grant.capabilities.allows_resolved(kind, resolved)
        elif kind == _SEND and type(target) is str:
            cached = grant.send_matches.get(target)
            if cached is not None:
                granted = cached
            else:
                granted = grant.capabilities.allows(kind, target)
                if len(grant.send_matches) < _SEND_CACHE_LIMIT:  # a guest spraying names stays bounded
                    grant.send_matches[target] = granted
        else:
            granted = kind not in _PATH_KINDS and grant.capabilities.allows(kind, target)
        if not granted:
            return self._deny(component, kind, target, resolved, DenyCode.PERMISSION_DENIED,
                              f"no capabilities.{kind} grant matches")  # fmt: skip
        outcome = grant.quota.charge_message(1) if kind == _SEND and amount is None \
            else self._charge(grant.quota, kind, amount)
        if not outcome.ok:
            return self._deny(component, kind, target, resolved, DenyCode.RESOURCE_EXHAUSTED,
                              f"quota exceeded: {outcome.reason}", outcome.retry_after)  # fmt: skip
        allowed = _ALLOWED[kind]
        if (
            not self._audit.record(component, kind, target, True, allowed.reason, resolved)
            and self._fail_closed
        ):
            self.counts.add(component, kind, False)
            return _AUDIT_UNAVAILABLE
        self.counts.add(component, kind, True)
        if resolved is None:
            return allowed
        root = grant.capabilities.grant_root(kind, resolved) if kind in _FS_KINDS else None
        return Decision(True, allowed.reason, resolved_path=resolved, resolved_inode=inode,
                        root=root)

    @staticmethod
    def _charge(quota: QuotaState, kind: str, amount: int | None) -> QuotaOutcome:
        if kind == "messaging.send":
            return quota.charge_message(1 if amount is None else amount)
        if amount is None:
            return QuotaOutcome(True)
        if kind == "storage.write":
            return quota.charge_storage(amount)
        if kind == "interfaces":
            return quota.charge_interface_call(amount)
        return quota.charge_network(amount)  # network.connect / network.bind

    def performed(self, component: str, kind: str, target: object, what: str) -> None:
        """Audit what the host actually did after an allowed ``kind`` on ``target``: one
        ``"done"`` line whose ``performed`` is the path opened, the address connected or the
        executable run (the decision line before it says what was asked)."""
        self._audit.record(component, kind, target, True, "performed", performed=what)

    def refused(self, component: str, kind: str, target: object, reason: str) -> None:
        """Audit a refusal by a limit the host enforces (not a grant): one ``deny`` line."""
        self.counts.add(component, kind, False)
        self._audit.record(component, kind, target, False, reason)

    def check_resolved(self, component: str, kind: str, target: object, addresses: Sequence[str],
                       *, failure: str | None = None) -> Decision:
        """Which of the addresses ``target`` resolved to may the host use? The first that
        passes, in resolver order, as ``decision.resolved_address``.

        Call it after ``check`` allowed ``target`` (a name or an IP literal), with the resolver's
        answer: IP address strings (at most :data:`MAX_RESOLVED` are looked at), or no
        addresses and ``failure`` saying why resolving failed. An address passes when it is
        global unicast and ``target`` is granted, or — for an address in a deny-by-default range
        (``addresses.special_range``: loopback, private, link-local incl. cloud metadata,
        CGNAT, ULA, multicast, reserved, and their IPv4-mapped/-compatible/NAT64/6to4 forms) —
        only when a grant of ``kind`` names that address or a range holding it, with the port.
        An allow writes no line (the host's ``performed`` line names the address it then
        used); a denial writes one deny line saying what the name resolved to and why that was
        refused, and its ``error`` is ``permission-denied``. May run in an I/O thread.
        """
        _check_network(kind, addresses)
        grant = self._grants.get(component)
        if grant is None:
            return self._deny(component, kind, target, None, DenyCode.PERMISSION_DENIED,
                              "component is not registered with the permission policy")  # fmt: skip
        endpoint = target_endpoint(target)
        if endpoint is None or endpoint.port is None:
            return self._deny(component, kind, target, None, DenyCode.PERMISSION_DENIED,
                              f"{target!r} is not host:port")  # fmt: skip
        if failure is not None or not addresses:
            return self._deny(component, kind, target, None, DenyCode.PERMISSION_DENIED,
                              _unresolved(target, failure))  # fmt: skip
        port = endpoint.port
        caps = grant.capabilities
        name_granted: bool | None = None
        refused: list[str] = []
        for text in addresses[:MAX_RESOLVED]:
            address = canonical_ip(text)
            if address is None:
                refused.append(f"{text!r} (not an IP address)")
                continue
            special = special_range(address)
            if special is None:
                if name_granted is None:  # the name check again: this method stands on its own
                    name_granted = caps.allows(kind, target)
                if name_granted:
                    return Decision(True, _GLOBAL_REASON[kind], resolved_address=str(address))
                refused.append(f"{address} (no capabilities.{kind} grant matches {target!r})")
            elif caps.allows_address(kind, address, port):
                return Decision(True, f"capabilities.{kind} names {format_endpoint(address, port)}",
                                resolved_address=str(address))
            else:
                canonical = str(address)
                shown = text if text == canonical else f"{text} = {canonical}"
                refused.append(f"{shown} ({special})")
        return self._deny(component, kind, target, None, DenyCode.PERMISSION_DENIED,
                          _refusal(kind, target, refused))  # fmt: skip

    def _deny(
        self, component: str, kind: str, target: object, resolved: str | None, code: DenyCode,
        reason: str, retry_after: float | None = None,
    ) -> Decision:  # fmt: skip
        self.counts.add(component, kind, False)
        self._audit.record(component, kind, target, False, reason, resolved)
        return Decision(False, reason, code, retry_after, resolved)


class AllowAllPolicy:
    """Allows every action of registered TRUSTED components; for trusted embedded use only.

    Use it when the embedding application wrote (or fully vets) every component it runs and
    wants no capability checks. It still validates kinds, still audits when given an
    ``AuditLog``, and denies unregistered components; quotas are not enforced. Registering a
    component with any trust level other than ``trusted`` raises ``ConfigError``: untrusted code
    never runs under it.
    """

    def __init__(
        self, *, audit: AuditLog | None = None, trust_policy: TrustPolicy = DEFAULT_TRUST_POLICY
    ) -> None:
        self._audit = audit
        self.trust_policy = trust_policy
        self._grants: dict[str, ComponentGrant] = {}
        self._lock = threading.Lock()
        self.counts = DecisionCounts()

    @property
    def audit(self) -> AuditLog | None:
        """The audit log every decision is written to (None: none is kept)."""
        return self._audit

    @audit.setter
    def audit(self, audit: AuditLog | None) -> None:
        # The grants' send gates ask the log whether a line would be kept: they follow it.
        self._audit = audit
        with self._lock:
            for grant in self._grants.values():
                grant.gate.audit = audit

    def register(
        self, component: str, manifest: Manifest | None = None, trust: TrustLevel | str = TrustLevel.TRUSTED
    ) -> ComponentGrant:
        """Register a trusted component; ConfigError for any other level, because allow-all must
        never reach third-party code by accident."""
        level = TrustLevel(trust)
        if level is not TrustLevel.TRUSTED:
            raise ConfigError(
                f"AllowAllPolicy only runs trusted components; {component!r} is {level.value}. "
                "Use PermissionPolicy with a Component.toml for it"
            )
        self.trust_policy.check_manifest(component, manifest, level)
        grant = ComponentGrant(
            component, level, manifest,
            manifest.capabilities if manifest is not None else BASELINE_CAPABILITIES,
            self.trust_policy.limits_for(manifest, level),
            QuotaState(self.trust_policy.quota_for(manifest, level)),
            # Every name passes (quotas are not enforced), unless a subclass decides itself.
            gate=SendGate(None, audit=self._audit)
            if type(self).check is AllowAllPolicy.check else _closed_gate({}),
        )  # fmt: skip
        with self._lock:
            self._grants[component] = grant
        return grant

    def grant(self, component: str) -> ComponentGrant | None:
        """The live grant of ``component``, or None."""
        return self._grants.get(component)

    def unregister(self, component: str) -> None:
        """Forget ``component``."""
        with self._lock:
            grant = self._grants.pop(component, None)
        if grant is not None:
            self.counts.fold(grant)

    def decisions(self) -> dict[tuple[str, str, bool], int]:
        """Decisions made so far per ``(component, kind, allowed)`` (see DecisionCounts)."""
        with self._lock:
            grants = list(self._grants.values())
        return self.counts.snapshot(grants)

    def performed(self, component: str, kind: str, target: object, what: str) -> None:
        """Audit what was done, when an audit log is attached."""
        if self._audit is not None:
            self._audit.record(component, kind, target, True, "performed", performed=what)

    def refused(self, component: str, kind: str, target: object, reason: str) -> None:
        """Audit a refusal, when an audit log is attached."""
        self.counts.add(component, kind, False)
        if self._audit is not None:
            self._audit.record(component, kind, target, False, reason)

    def check_resolved(self, component: str, kind: str, target: object, addresses: Sequence[str],
                       *, failure: str | None = None) -> Decision:
        """The first address that is an IP, in resolver order: trusted components are not held
        to the deny-by-default ranges. Failures are still denials (and audited)."""
        _check_network(kind, addresses)
        if component not in self._grants:
            reason = "component is not registered with the permission policy"
        elif failure is not None or not addresses:
            reason = _unresolved(target, failure)
        else:
            chosen: IPAddress | None = next(
                (a for a in map(canonical_ip, addresses[:MAX_RESOLVED]) if a is not None), None)
            if chosen is not None:
                return Decision(True, _ALLOW_ALL.reason, resolved_address=str(chosen))
            reason = f"{target!r} resolved to nothing that is an IP address"
        self.counts.add(component, kind, False)
        if self._audit is not None:
            self._audit.record(component, kind, target, False, reason)
        return Decision(False, reason, DenyCode.PERMISSION_DENIED)

    def check(self, component: str, kind: str, target: object, *, amount: int | None = None) -> Decision:
        """Allow every action of a registered component; paths are still resolved, so the host acts
        on the resolved path exactly as under ``PermissionPolicy``."""
        if kind != _SEND or amount is not None:  # the per-message case needs no argument check
            _check_kind(kind, amount)
        resolved, inode = _resolve(kind, target)
        grant = self._grants.get(component)
        if grant is None:
            decision = Decision(False, "component is not registered with the permission policy",
                                DenyCode.PERMISSION_DENIED, resolved_path=resolved)  # fmt: skip
            self.counts.add(component, kind, False)
        elif resolved is None:
            decision = _ALLOW_ALL  # no per-call data: one shared instance
            if kind == _SEND:
                grant.gate.sent += 1
            else:
                self.counts.add(component, kind, True)
        else:  # everything is granted: the root is "/", still opened with no symlink followed
            decision = Decision(True, _ALLOW_ALL.reason, resolved_path=resolved,
                                resolved_inode=inode, root="/" if kind in _FS_KINDS else None)
            self.counts.add(component, kind, True)
        if self._audit is not None:
            self._audit.record(component, kind, target, decision.allowed, decision.reason, resolved)
        return decision
