"""The security layer as the host's :class:`~airssys_wasm.host.policy.SecurityProvider`.

``HostSecurity`` is what ``Host()`` uses unless told otherwise (``airssys_wasm`` installs it as
the default on import). At spawn it parses the manifest once, applies the trust level (manifest
required? limits under the ceiling?), registers the component's capabilities and quotas with a
:class:`PermissionPolicy`, and tells the host what follows from them: effective limits, which
extension interfaces may be linked, which WASI preopens the Store gets. Afterwards the host calls
``check`` — the policy's own bound method, no wrapper — before every guest -> host action.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from airssys_wasm._fast._router import SendGate
from airssys_wasm.errors import ConfigError
from airssys_wasm.host.config import HostConfig
from airssys_wasm.host.policy import EXTENSIONS, Admission
from airssys_wasm.runtime import Limits, Preopen, WasiSettings
from airssys_wasm.security.audit import AuditLog, LoggingAuditSink
from airssys_wasm.security.manifest import Manifest, load_manifest, manifest_from_dict
from airssys_wasm.security.policy import AllowAllPolicy, PermissionPolicy, Policy
from airssys_wasm.security.preopens import derive_preopens
from airssys_wasm.security.trust import DEFAULT_TRUST_POLICY, TrustLevel, TrustPolicy

__all__ = ["HostSecurity", "audit_log"]

_RUNTIME_FIELDS = {"memory": "memory_bytes", "fuel": "fuel", "timeout_ms": "timeout_ms",
                   "stack": "stack_bytes"}


def audit_log(audit: Any) -> AuditLog:
    """An AuditLog from ``HostConfig.audit``: None (the ``airssys_wasm.audit`` logger), an
    AuditLog, one sink, or an iterable of sinks."""
    if audit is None:
        return AuditLog([LoggingAuditSink()])
    if isinstance(audit, AuditLog):
        return audit
    if callable(getattr(audit, "write", None)):
        return AuditLog([audit])
    if isinstance(audit, Iterable) and not isinstance(audit, (str, bytes)):
        return AuditLog(list(audit))
    raise ConfigError(f"HostConfig.audit must be None, an AuditLog, an AuditSink or a list of "
                      f"sinks, not {type(audit).__name__}")


#: Spawn plans a HostSecurity keeps (the cache is cleared when full: a host spawns many
#: components from a few manifests, never thousands of distinct ones).
_CACHE_KEPT = 256
#: The WASI settings of every component without preopens (most of them): frozen, so one shared
#: object instead of one per spawn that every GC pass walks for as long as the component lives.
_NO_PREOPENS = WasiSettings(())
#: ``level.value`` without the enum's property call (a spawn reads it once).
_TRUST_VALUES = {level: level.value for level in TrustLevel}


def _manifest(source: object) -> Manifest | None:
    if source is None or isinstance(source, Manifest):
        return source
    if isinstance(source, Mapping):
        return manifest_from_dict(source)
    if isinstance(source, (str, bytes, os.PathLike)):
        return load_manifest(source)
    raise TypeError(f"manifest must be a Component.toml path, its TOML text, a parsed mapping or "
                    f"a security.Manifest, not {type(source).__name__}")


class HostSecurity:
    """Admission + checks for one host, backed by a ``PermissionPolicy`` (or, explicitly, an
    ``AllowAllPolicy`` for trusted embedded components: :meth:`allow_all`)."""

    def __init__(self, policy: Policy | None = None, *, audit: Any = None,
                 trust_policy: TrustPolicy = DEFAULT_TRUST_POLICY) -> None:
        if policy is None:
            policy = PermissionPolicy(audit=audit_log(audit), trust_policy=trust_policy)
        self.policy = policy
        self.trust_policy: TrustPolicy = getattr(policy, "trust_policy", trust_policy)
        # The host's hot path calls this directly: no extra Python frame per check.
        self.check = policy.check
        self.performed = policy.performed
        self.refused = policy.refused
        self.check_resolved = policy.check_resolved
        # Limits and ext interfaces are derived once per (manifest, trust level, host limits)
        # (see ``_plan``). The manifest itself is parsed at every spawn: parsing checks that its
        # grant paths are real directories now, and a cached parse would miss a swapped symlink.
        self._plans: dict[tuple[int, TrustLevel, int, int],
                          tuple[object, Limits, object, Limits, frozenset[str]]] = {}
        self._levels: dict[object, TrustLevel] = {level.value: level for level in TrustLevel}

    @classmethod
    def from_config(cls, config: HostConfig) -> HostSecurity:
        """The default provider of a Host (installed by ``airssys_wasm.security``)."""
        return cls(audit=config.audit)

    @classmethod
    def allow_all(cls, *, audit: Any = None) -> HostSecurity:
        """No capability checks, for components the embedding app wrote or fully vetted. Every
        component must be spawned with ``trust="trusted"`` (or ``HostConfig.default_trust``);
        anything else is refused at spawn."""
        return cls(AllowAllPolicy(audit=None if audit is None else audit_log(audit)))

    @property
    def audit(self) -> AuditLog | None:
        """The audit log decisions go to, or None when the policy keeps none."""
        return getattr(self.policy, "audit", None)

    def decisions(self) -> dict[tuple[str, str, bool], int]:
        """Permission decisions so far per ``(component, kind, allowed)``, for metrics; empty
        for a policy that does not count them (see ``DecisionCounts``)."""
        counts = getattr(self.policy, "decisions", None)
        return counts() if callable(counts) else {}

    def admit(self, name: str, manifest: object | None, *, trust: str | None,
              base_limits: Limits, wasi: bool = False) -> Admission:
        """Admit component ``name`` at spawn (or upgrade): parse its manifest, register its grants
        at ``trust``, and return what it gets: limits (manifest, else the tighter of the host's and
        the trust level's defaults), the ext interfaces to link, WASI preopens and its storage
        identity.

        Raises ManifestError / ConfigError before anything is registered, so a refused spawn leaves
        no grant behind; each WASI preopen is audited here, because wasmtime enforces it without
        calling back."""
        # Every spawn: parsing checks the grant paths as they are now.
        parsed = manifest if manifest is None else _manifest(manifest)
        level = self._levels.get(trust) if type(trust) is str else None
        if level is None:
            try:
                level = TrustLevel(trust or TrustLevel.UNKNOWN)
            except ValueError:
                raise ConfigError(f"trust must be one of {', '.join(t.value for t in TrustLevel)}, "
                                  f"got {trust!r}") from None
        grant = self.policy.register(name, parsed, level)
        try:
            # A Manifest passed as such (or none) comes back on the next spawn: derive once.
            limits, extensions = self._plan(base_limits, parsed, level, grant.capabilities,
                                            keep=parsed is manifest)
            plan = derive_preopens(grant.capabilities).preopens if wasi else ()
            settings = WasiSettings(tuple(Preopen(p.host_path, p.guest_path, p.mutable)
                                          for p in plan)) if plan else _NO_PREOPENS
        except BaseException:
            self.policy.unregister(name)
            raise
        audit = self.audit if settings.preopens else None
        if audit is not None:
            # wasmtime enforces WASI preopens itself (no per-call hook reaches us), so the grant
            # of each directory is audited once, here, at admission.
            for p in settings.preopens:
                audit.record(name, "filesystem.write" if p.mutable else "filesystem.read",
                             p.guest_path, True,
                             f"WASI preopen ({'read-write' if p.mutable else 'read-only'})",
                             p.host_path)
        return Admission(version=parsed.component.version if parsed else "", limits=limits,
                         extensions=extensions, wasi=settings, trust=_TRUST_VALUES[level],
                         identity=f"manifest:{parsed.component.name}" if parsed else "",
                         meters_interface_calls=grant.quota.meters_interface_calls)

    def _plan(self, base: Limits, manifest: Manifest | None, level: TrustLevel,
              capabilities: Any, *, keep: bool) -> tuple[Limits, frozenset[str]]:
        """Effective limits and the ext interfaces to link: the same for every spawn from one
        (manifest, trust level, host limits), so derived once (cached when ``keep``). Keyed on
        identity, with the objects kept in the entry so an id is never reused while cached."""
        key = (id(manifest), level, id(base), id(capabilities))
        cached = self._plans.get(key)
        if cached is not None and cached[0] is manifest and cached[1] is base \
                and cached[2] is capabilities:
            return cached[3], cached[4]
        limits = self._limits(base, manifest, level)
        extensions = frozenset(
            interface for interface, keys in EXTENSIONS.items()
            if any(capabilities.grants.get(key) for key in keys))
        if keep:
            if len(self._plans) >= _CACHE_KEPT:
                self._plans.clear()
            self._plans[key] = (manifest, base, capabilities, limits, extensions)
        return limits, extensions

    def _limits(self, base: Limits, manifest: Manifest | None, level: TrustLevel) -> Limits:
        """The manifest's ``[limits]`` win; a field it leaves out is the tighter of the host's
        default and the trust level's default (so an untrusted component never gets more than
        its level's default by omission)."""
        asked = manifest.limits.as_runtime_kwargs() if manifest is not None else {}
        defaults = self.trust_policy.profile(level).default_limits
        changes: dict[str, int] = dict(asked)
        for field, runtime_field in _RUNTIME_FIELDS.items():
            if runtime_field in asked:
                continue
            default, current = getattr(defaults, field), getattr(base, runtime_field)
            if default is not None and (current is None or default < current):
                changes[runtime_field] = default
        try:
            return base.replace(**changes)
        except ConfigError as exc:
            raise ConfigError(f"[limits] of the manifest do not fit the runtime: {exc}") from None

    def send_gate(self, name: str) -> SendGate | None:
        """The per-message fast path of ``name``'s grant, for the host to bind to its router
        (see ``SendGate``): it replays the policy's own ``check``, so there is none when
        ``check`` was replaced on this provider, or the policy keeps no open gate."""
        if self.check != self.policy.check:
            return None
        lookup = getattr(self.policy, "grant", None)
        gate = getattr(lookup(name) if callable(lookup) else None, "gate", None)
        return gate if type(gate) is SendGate and not gate.closed else None

    def release(self, name: str) -> None:
        """Forget ``name``'s grants (its component stopped): a later component under the same name
        starts from its own manifest, never from a leftover grant."""
        self.policy.unregister(name)

    def __repr__(self) -> str:
        return f"HostSecurity({type(self.policy).__name__})"
