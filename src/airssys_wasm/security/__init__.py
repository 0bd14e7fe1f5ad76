"""Security layer: the ``Component.toml`` model, capability matching, audit, quotas and trust.

``HostSecurity`` implements the host layer's ``SecurityProvider`` extension point; the
package root installs it as the default (imported when the first ``Host`` is built), so
``airssys_wasm.Host()`` admits components through their Component.toml and calls
``policy.check(component, kind, target)`` before every guest→host action. Pure Python; it imports only from the layers below (runtime ``Limits``,
``parse_size`` and WASI settings; the host's protocols).
"""

from airssys_wasm.security.audit import (
    AuditLog,
    AuditRecord,
    AuditSink,
    FileAuditSink,
    LoggingAuditSink,
    MemoryAuditSink,
    StreamAuditSink,
)
from airssys_wasm.security.host_security import HostSecurity, audit_log
from airssys_wasm.security.capabilities import Capabilities, CapabilityKind
from airssys_wasm.security.manifest import (
    ComponentInfo,
    Manifest,
    ManifestLimits,
    ManifestProblem,
    Quota,
    limits_from_section,
    load_manifest,
    manifest_from_dict,
    validate_manifest,
)
from airssys_wasm.security.patterns import resolve_target_path
from airssys_wasm.security.policy import (
    BASELINE_CAPABILITIES,
    AllowAllPolicy,
    ComponentGrant,
    Decision,
    DenyCode,
    PermissionPolicy,
    Policy,
)
from airssys_wasm.security.preopens import Preopen, PreopenPlan, SkippedGrant, derive_preopens
from airssys_wasm.security.quota import QuotaOutcome, QuotaState, TokenBucket
from airssys_wasm.security.trust import DEFAULT_TRUST_POLICY, TrustLevel, TrustPolicy, TrustProfile

__all__ = [
    "BASELINE_CAPABILITIES",
    "DEFAULT_TRUST_POLICY",
    "AllowAllPolicy",
    "AuditLog",
    "AuditRecord",
    "AuditSink",
    "Capabilities",
    "CapabilityKind",
    "ComponentGrant",
    "ComponentInfo",
    "Decision",
    "DenyCode",
    "FileAuditSink",
    "HostSecurity",
    "LoggingAuditSink",
    "Manifest",
    "ManifestLimits",
    "ManifestProblem",
    "MemoryAuditSink",
    "PermissionPolicy",
    "Policy",
    "Preopen",
    "PreopenPlan",
    "Quota",
    "QuotaOutcome",
    "QuotaState",
    "SkippedGrant",
    "StreamAuditSink",
    "TokenBucket",
    "TrustLevel",
    "TrustPolicy",
    "TrustProfile",
    "audit_log",
    "derive_preopens",
    "limits_from_section",
    "load_manifest",
    "manifest_from_dict",
    "resolve_target_path",
    "validate_manifest",
]
