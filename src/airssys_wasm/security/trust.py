"""Trust levels: how much the operator trusts a component's author, as one explicit policy object.

The manifest says what a component *asks for*; the trust level says what the operator is
willing to give by default and at most. Untrusted code must come with a manifest (so its grants
are reviewable), gets tight default limits and cannot ask beyond a ceiling; trusted code may run
without one. A component never picks its own trust level: the host's caller does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from airssys_wasm.errors import ManifestError
from airssys_wasm.security.manifest import Manifest, ManifestLimits, Quota

__all__ = ["DEFAULT_TRUST_POLICY", "TrustLevel", "TrustPolicy", "TrustProfile"]

MiB = 1 << 20


class TrustLevel(enum.StrEnum):
    """How much a component is trusted: ``trusted`` (the embedder's own code), ``unknown`` (the
    default) or ``untrusted`` (third-party code: a manifest is required and ceilings apply).

    The level picks a ``TrustProfile``: default limits, ceilings and quotas."""

    TRUSTED = "trusted"
    UNKNOWN = "unknown"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True, slots=True)
class TrustProfile:
    """Defaults and ceilings for one level.

    ``default_limits`` fill what the manifest leaves out (a None there means "not bounded", e.g.
    no fuel metering); ``max_limits`` are the most a manifest may ask for (None = no ceiling
    beyond the schema's ranges). ``default_quota`` fills absent ``[quota]`` fields.
    """

    manifest_required: bool
    default_limits: ManifestLimits
    max_limits: ManifestLimits = field(default_factory=ManifestLimits)
    default_quota: Quota = field(default_factory=Quota)


# Fuel and stack stay None (engine defaults) in every profile: the runtime bounds CPU with an
# epoch deadline and meters fuel only when the engine is configured for it, and the wasm stack is
# an engine-wide setting. Untrusted defaults equal the runtime's own defaults (64 MiB, 1 s/call).
# The time slice defaults to the engine's; a longer one (more latency for every other actor while
# this one computes) is capped at 2 ms for untrusted and 10 ms for unknown components. Messages
# are at most 1 MiB (the runtime's default) unless the component is trusted.
_DEFAULT_PROFILES = {
    TrustLevel.TRUSTED: TrustProfile(
        manifest_required=False,
        default_limits=ManifestLimits(memory=1024 * MiB, timeout_ms=60_000),
    ),
    TrustLevel.UNKNOWN: TrustProfile(
        manifest_required=False,
        default_limits=ManifestLimits(memory=128 * MiB, timeout_ms=5_000),
        max_limits=ManifestLimits(memory=1024 * MiB, timeout_ms=60_000, stack=8 * MiB,
                                  slice_us=10_000, max_message=1 * MiB),
    ),
    TrustLevel.UNTRUSTED: TrustProfile(
        manifest_required=True,
        default_limits=ManifestLimits(memory=64 * MiB, timeout_ms=1_000),
        max_limits=ManifestLimits(memory=256 * MiB, fuel=10_000_000_000, timeout_ms=30_000,
                                  stack=2 * MiB, slice_us=2_000, max_message=1 * MiB),
        default_quota=Quota(
            messages_per_second=1000.0,
            message_burst=1000,
            storage_bytes=64 * MiB,
            network_bytes_per_second=10 * MiB,
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """Profiles per level; replace one with ``TrustPolicy({**DEFAULT_TRUST_POLICY.profiles, ...})``."""

    profiles: Mapping[TrustLevel, TrustProfile] = field(default_factory=lambda: dict(_DEFAULT_PROFILES))

    def __post_init__(self) -> None:
        missing = set(TrustLevel) - set(self.profiles)
        if missing:
            raise ValueError(f"TrustPolicy needs a profile for every level; missing {sorted(missing)}")
        object.__setattr__(self, "profiles", MappingProxyType(dict(self.profiles)))

    def profile(self, level: TrustLevel | str) -> TrustProfile:
        """The profile of ``level`` (a ``TrustLevel`` or its string value)."""
        # At every spawn: the member itself skips the enum call (a string still goes through it).
        return self.profiles[level if type(level) is TrustLevel else TrustLevel(level)]

    def check_manifest(self, component: str, manifest: Manifest | None, level: TrustLevel | str) -> None:
        """Raise ``ManifestError`` when the level needs a manifest or its limits pass the ceiling."""
        level = level if type(level) is TrustLevel else TrustLevel(level)
        profile = self.profiles[level]
        if manifest is None:
            if profile.manifest_required:
                raise ManifestError(
                    f"component {component!r} is {level.value} and has no Component.toml; "
                    "provide a manifest declaring its capabilities, or raise its trust level"
                )
            return
        over = [
            f"limits.{f.name} = {asked} exceeds the {level.value} ceiling {ceiling}"
            for f in fields(ManifestLimits)
            if (asked := getattr(manifest.limits, f.name)) is not None
            and (ceiling := getattr(profile.max_limits, f.name)) is not None
            and asked > ceiling
        ]
        if over:
            raise ManifestError(
                f"component {component!r} asks for more than its trust level allows: "
                + "; ".join(over)
                + ". Lower the limits or raise the trust level"
            )

    def limits_for(self, manifest: Manifest | None, level: TrustLevel | str) -> ManifestLimits:
        """Manifest limits with the level's defaults filled in (call ``check_manifest`` first)."""
        defaults = self.profile(level).default_limits
        if manifest is None:
            return defaults
        asked = manifest.limits
        return replace(
            defaults,
            **{
                f.name: getattr(asked, f.name)
                for f in fields(ManifestLimits)
                if getattr(asked, f.name) is not None
            },
        )

    def quota_for(self, manifest: Manifest | None, level: TrustLevel | str) -> Quota:
        """The level's quota, tightened by the manifest: a component may ask for less, never more."""
        defaults = self.profile(level).default_quota
        if manifest is None:
            return defaults
        merged = {}
        for f in fields(Quota):
            asked, default = getattr(manifest.quota, f.name), getattr(defaults, f.name)
            merged[f.name] = default if asked is None else asked if default is None else min(asked, default)
        return Quota(**merged)


DEFAULT_TRUST_POLICY = TrustPolicy()
"""The profiles a ``HostSecurity`` uses unless given others."""
