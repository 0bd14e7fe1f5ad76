"""The security extension point of the host: admission at spawn, one check per guest action.

The host layer does not decide what a component may do and does not import the ``security``
layer (it sits above the host). It defines what it needs as protocols:

- :class:`SecurityProvider` — ``admit`` a component at spawn (parse its manifest once, check its
  trust level, say which limits, extension interfaces and WASI preopens it gets), ``release`` it
  when it stops, ``check(component, kind, target, amount=)`` before every guest -> host action
  that touches the outside world, ``check_resolved`` for the addresses a granted network name
  resolved to (the host connects only to the one it answers), and ``performed`` to audit what
  the host then actually did.
- :func:`install_default_security` — the package root registers the security layer's provider
  factory here when ``airssys_wasm`` is imported (the layer itself loads on the first Host), so ``Host()`` is secure by default; ``HostConfig(security=...)``
  picks another provider explicitly.

Denials never raise into the host: ext host functions and messaging turn a denied
:class:`Decision` into the WIT error the guest sees (``permission-denied``, or
``resource-exhausted`` for quotas).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from airssys_wasm.errors import ConfigError

if TYPE_CHECKING:
    from airssys_wasm.host.config import HostConfig
    from airssys_wasm.runtime import Limits, WasiSettings

__all__ = [
    "EXTENSIONS",
    "Admission",
    "Decision",
    "MESSAGING_SEND",
    "RESOURCE_EXHAUSTED",
    "SecurityProvider",
    "default_security",
    "install_default_security",
]

MESSAGING_SEND = "messaging.send"
"""The ``kind`` of a guest's send-message / send-request check; ``target`` is the target
component's name. One constant, so providers and the router agree on the spelling."""
RESOURCE_EXHAUSTED = "resource-exhausted"
"""``Decision.error`` of a denial caused by an exhausted quota; any other denial is
permission-denied. The host maps it to the WIT ``resource-exhausted`` case, so a guest can
tell "try later" from "never allowed"."""

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "airssys:ext-filesystem/filesystem@1.0.0": (
        "filesystem.read", "filesystem.write", "filesystem.delete", "filesystem.list"),
    "airssys:ext-network/network@1.0.0": ("network.connect", "network.bind"),
    "airssys:ext-process/process@1.0.0": ("process.spawn",),
    "airssys:ext-storage/storage@1.0.0": ("storage.read", "storage.write"),
}
"""Extension interface -> the manifest keys that grant it (any one of them links it).

The host links an ``ext-*`` interface only for a component granted one of its keys, so a
component that imports it without a grant is refused at spawn, naming the key to add."""


@runtime_checkable
class Decision(Protocol):
    """What a check answers. ``error`` is the WIT error case of a denial (None when allowed);
    ``resolved_path`` is, for path kinds, what the check matched — the host acts on it, never
    on the guest's string, so what it opens is what was checked. ``resolved_address`` is, for
    ``check_resolved``, the IP address the host connects to or binds — never the name again.

    For ``process.spawn`` the host also reads ``resolved_inode`` (``(st_dev, st_ino)`` of the
    file the check resolved; optional attribute, read with ``getattr``): it executes the file
    only if the descriptor it opened is that file, so a provider without it cannot start
    processes (the guest gets ``permission-denied`` saying so).

    A decision for a filesystem kind may also carry ``root: str | None``: the directory of the
    grant that matched. The filesystem extension opens ``resolved_path`` *beneath* it with no
    symlink followed (``_fast._fsbeneath``); a provider whose decisions have no ``root`` gets
    ``"/"`` — still no symlink followed anywhere, just no narrower anchor. It is read with
    ``getattr`` so providers written before it existed keep working."""

    @property
    def allowed(self) -> bool:
        """True if the action may go ahead; the host acts only on an allowed decision."""

    @property
    def reason(self) -> str:
        """Why, in words: it ends up in the audit line and in the guest's error text."""

    @property
    def error(self) -> str | None:
        """The WIT error case of a denial (``permission-denied``, ``resource-exhausted``); None
        when allowed."""

    @property
    def resolved_path(self) -> str | None:
        """For path kinds: the normalised, symlink-resolved path that was matched. The host opens
        this one, never the guest's string, so what it touches is what was checked."""

    @property
    def resolved_address(self) -> str | None:
        """For ``check_resolved``: the IP address the host connects to or binds, never the name
        again, so a rebinding DNS server cannot swap it after the check."""


def _no_wasi() -> WasiSettings:
    # Imported here: the package root imports this module on ``import airssys_wasm`` (to
    # install the default provider), and the WASI settings module imports wasmtime.
    from airssys_wasm.runtime.wasi import WasiSettings

    return WasiSettings()


@dataclass(frozen=True, slots=True)
class Admission:
    """What a component got at spawn; the host builds every incarnation from it."""

    #: ``[component] version`` of the manifest ("" without one); goes into the component-id.
    version: str
    #: Effective limits (host defaults, trust level and manifest already combined).
    limits: Limits
    #: Extension interfaces (keys of :data:`EXTENSIONS`) the component may import.
    extensions: frozenset[str] = frozenset()
    #: WASI p2 settings for components that import ``wasi:*``.
    wasi: WasiSettings = field(default_factory=_no_wasi)
    #: Trust level the component was admitted at (for display and audit).
    trust: str = "unknown"
    #: Who the component is, for state that outlives it (ext-storage entries and their quota
    #: charge): ``"manifest:<[component] name>"``; "" without a manifest (the host then uses
    #: the code: ``"code:<sha256 of the wasm>"``). Not the spawn name, which anyone may reuse.
    identity: str = ""
    #: Whether every call into a custom interface (``Host.provide``) is a decision of its own
    #: (``check(name, "interfaces", "iface#func", amount=1)``: quota-charged and audited), e.g.
    #: because the manifest sets ``[quota] interface_calls_per_second``. Without it the import
    #: decision at spawn covers the calls.
    meters_interface_calls: bool = False


@runtime_checkable
class SecurityProvider(Protocol):
    """Admission and per-action checks; implemented by ``airssys_wasm.security``."""

    def admit(self, name: str, manifest: object | None, *, trust: str | None,
              base_limits: Limits, wasi: bool = False) -> Admission:
        """Parse ``manifest`` (path, TOML text or parsed manifest) once and register ``name``.
        ``wasi``: the component imports ``wasi:*`` (only then are preopens prepared). Raise
        ``ManifestError`` for a bad manifest or one its trust level does not allow."""
        ...

    def release(self, name: str) -> None:
        """Forget ``name``'s grants and quotas (it stopped for good)."""
        ...

    def check(self, component: str, kind: str, target: object, *,
              amount: int | None = None) -> Decision:
        """May ``component`` do ``kind`` to ``target`` (``amount`` meters quotas)? Audited.
        Called synchronously inside the guest's call: it must not block."""
        ...

    def check_resolved(self, component: str, kind: str, target: object, addresses: Sequence[str],
                       *, failure: str | None = None) -> Decision:
        """``target`` (a ``network.*`` endpoint ``check`` allowed) resolved to ``addresses`` (IP
        address strings, resolver order; empty with ``failure`` when resolving failed): which
        one may the host use? Allowed decisions carry it as ``resolved_address``; the host
        connects to (or binds) exactly that address. A name grant must not reach internal
        addresses (DNS rebinding), so the default provider refuses loopback, private,
        link-local and other non-global addresses unless a grant names them literally. Audits
        denials; called from an I/O thread (must not block, must be thread-safe)."""
        ...

    # Optional (looked up with performed_hook / refused_hook, so a provider written before
    # them keeps working):
    #   performed(component, kind, target, what) -> None: audit what the host actually did
    #     after an allowed check (``what``: the path opened beneath the grant root, the address
    #     connected, the executable run);
    #   refused(component, kind, target, reason) -> None: audit a refusal the host decided
    #     itself, by a limit rather than a grant (a message over ``max_message``).
    # Neither may block.
    #   send_gate(name) -> a ``_fast._router.SendGate`` over name's grant, or None: the host
    #     binds it to its router, and a send-message it passes never reaches ``check`` (it
    #     must pass only what ``check`` would allow, unaudited: see SendGate);
    #   decisions() -> mapping (component, kind, allowed) -> count of the decisions made so
    #     far, and ``audit.failures`` (int, audit lines a sink failed to write): what metrics
    #     report (see audit_counts). Both must be cheap to read; neither may block.


AuditHook = Callable[[str, str, object, str], None]


def _no_audit(component: str, kind: str, target: object, text: str) -> None:
    """A provider without the optional hook: nothing to record."""


def performed_hook(security: SecurityProvider) -> AuditHook:
    """``security.performed`` if the provider has it, else a no-op."""
    hook: AuditHook = getattr(security, "performed", _no_audit)
    return hook


def refused_hook(security: SecurityProvider) -> AuditHook:
    """``security.refused`` if the provider has it, else a no-op."""
    hook: AuditHook = getattr(security, "refused", _no_audit)
    return hook


def audit_counts(security: SecurityProvider) -> tuple[Mapping[tuple[str, str, bool], int], int]:
    """The provider's decision counts and audit sink failures, if it keeps them (the default
    provider does); empty and 0 for a provider without them."""
    counts = getattr(security, "decisions", None)
    decisions = counts() if callable(counts) else None
    failures = getattr(getattr(security, "audit", None), "failures", 0)
    return (decisions if isinstance(decisions, Mapping) else {},
            failures if isinstance(failures, int) else 0)


_default_factory: Callable[[HostConfig], SecurityProvider] | None = None


def install_default_security(factory: Callable[[HostConfig], SecurityProvider]) -> None:
    """Make ``factory(config)`` the provider of every Host whose config names none."""
    global _default_factory
    if not callable(factory):
        raise TypeError("install_default_security needs a callable factory(config) -> provider")
    _default_factory = factory


def default_security(config: HostConfig) -> SecurityProvider:
    """The provider for ``config``: its explicit one, else the installed default."""
    if config.security is not None:
        return config.security
    if _default_factory is None:
        raise ConfigError("no security provider is installed; import airssys_wasm (which installs "
                          "airssys_wasm.security) or pass HostConfig(security=...)")
    return _default_factory(config)
