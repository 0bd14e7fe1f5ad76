"""Hot code upgrade: swap a running component's code between two messages, keeping its mailbox.

``Host.upgrade(name, source, manifest=None)`` runs in two phases:

1. **Validate, change nothing.** Compile ``source`` (LoadError), admit the manifest under a
   scratch name that no component can have (``<name>@upgrade``; ManifestError, trust-level
   refusals), release it again, and link the extension imports the new code needs against what
   that admission grants (PermissionDenied). Any failure here leaves the old version running
   untouched — no grant, limit, route or instance changed.
2. **Swap between two messages.** Through ``ActorRef.between_batches`` the actor's own loop, after
   the batch it is handling and before the next, calls the old instance's ``shutdown`` (with its
   old grants), re-admits the component under its real name with the new manifest (fresh grant
   and quota state; the storage identity re-adopted, so its stored bytes are charged again),
   instantiates the new code in a fresh Store, calls its ``init`` and reads its metadata. The
   mailbox is never touched, so every queued message is handled by the new code, in order.
   A guest call suspended at that moment (a sleep, I/O, an exhausted time slice) belongs to the
   batch being handled: the swap waits for it to finish, which its deadline bounds.

If the new code fails to start (its ``init`` traps or answers an error, its stored bytes exceed
its new quota), the old code is restored — its artifact, limits, component-id, grants — and runs
again in a fresh instance whose ``init`` is called; ``UpgradeFailed(rolled_back=True)`` is
raised. Should even that fail, the incarnation fails and the supervisor restarts the old code by
its restart policy (``rolled_back=False``). Either way an ``UpgradeEvent`` is emitted.

Storage identity: a manifest's ``[component] name`` is the identity (``manifest:<name>``), so a
v2 manifest with the same name keeps the entries and their quota charge; a different name is a
different identity. A component admitted without a manifest keeps the identity it was spawned
with (its spawn-time code digest) across upgrades — a respawn of the new code would be a new
identity, which is why stateful components should carry a manifest.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Literal

from airssys_wasm.actor import Actor, UpgradeEvent
from airssys_wasm.errors import ActorStateError, UpgradeFailed
from airssys_wasm.host.component_actor import ComponentActor
from airssys_wasm.host.defaults import Default
from airssys_wasm.host.ext_storage import INTERFACE as STORAGE
from airssys_wasm.host.policy import Admission
from airssys_wasm.host.registry import ComponentEntry
from airssys_wasm.runtime import Artifact, Limits, Source
from airssys_wasm.types import ComponentConfig, ComponentId

if TYPE_CHECKING:
    from airssys_wasm.host.host import ComponentRef, Host

__all__ = ["upgrade"]

logger = logging.getLogger("airssys_wasm.host")

#: ``UpgradeEvent.outcome`` values.
UPGRADED = "upgraded"
ROLLED_BACK = "rolled-back"


@dataclasses.dataclass(slots=True)
class _Version:
    """Everything in a ComponentEntry that belongs to one version of the code."""

    artifact: Artifact
    manifest: object | None
    explicit_limits: Limits | None
    limits: Limits
    component_id: ComponentId
    init_config: ComponentConfig | None
    wasi: Any

    @classmethod
    def of(cls, entry: ComponentEntry) -> _Version:
        return cls(entry.artifact, entry.manifest, entry.explicit_limits, entry.limits,
                   entry.component_id, entry.init_config, entry.wasi)

    def apply(self, entry: ComponentEntry) -> None:
        entry.artifact = self.artifact
        entry.manifest = self.manifest
        entry.explicit_limits = self.explicit_limits
        entry.limits = self.limits
        if entry.component_id != self.component_id:
            entry.component_id = self.component_id
            entry.services = dataclasses.replace(entry.services, component=self.component_id)
        entry.init_config = self.init_config
        entry.wasi = self.wasi


def _label(version: _Version) -> str:
    return f"{version.component_id.version or '-'} {version.artifact.digest[:12]}"


async def upgrade(host: Host, name: str, source: Source, manifest: object | None = None, *,
                  limits: Limits | None = None,
                  config: ComponentConfig | None | Literal[Default.KEEP] = Default.KEEP
                  ) -> ComponentRef:
    """See ``Host.upgrade`` and the module docstring."""
    host._running()
    ref = host.ref(name)
    entry = host.registry.get(name)
    if entry.upgrading:
        raise ActorStateError(f"component {name!r} is already being upgraded; await that "
                              "upgrade, then retry")
    entry.upgrading = True
    try:
        return await _upgrade(host, ref, entry, source, manifest, limits,
                              entry.init_config if config is Default.KEEP else config)
    finally:
        entry.upgrading = False


def _admit(host: Host, name: str, manifest: object | None, trust: str,
           artifact: Artifact) -> Admission:
    return host.security.admit(name, manifest, trust=trust, base_limits=host.config.limits,
                               wasi=artifact.imports_wasi)


async def _upgrade(host: Host, ref: ComponentRef, entry: ComponentEntry, source: Source,
                   manifest: object | None, limits: Limits | None,
                   init_config: ComponentConfig | None) -> ComponentRef:
    name = entry.name
    # -- phase 1: validate; nothing of the running component changes ----------------------------
    artifact = await host.prepare(source, name=name)
    new_manifest = manifest if manifest is not None else entry.manifest
    probe = f"{name}@upgrade"  # '@' is not allowed in component names: never a real one
    admission = _admit(host, probe, new_manifest, entry.trust, artifact)
    try:  # custom interfaces are decided (and audited) under the new grants, as the probe
        host._link_extensions(name, artifact, admission, grantee=probe)
    finally:
        host.security.release(probe)
    explicit = limits if limits is not None else entry.explicit_limits
    new = _Version(
        artifact=artifact, manifest=new_manifest, explicit_limits=explicit,
        limits=explicit if explicit is not None else admission.limits,
        component_id=dataclasses.replace(entry.component_id, version=admission.version),
        init_config=init_config, wasi=admission.wasi)
    old = _Version.of(entry)
    old_identity = host.storage.identity(name)
    new_identity = (admission.identity or old_identity or f"code:{artifact.digest}"
                    if STORAGE in admission.extensions else None)

    def readmit(version: _Version, identity: str | None) -> None:
        """Give ``name`` the grants of ``version`` (and hold ``identity``'s storage)."""
        host.storage.release(name)
        host.security.release(name)
        admission = _admit(host, name, version.manifest, entry.trust, version.artifact)
        # Read when the next instance's Store is configured: metered or not, by this version.
        entry.services.call_gate = host._call_gate(name, version.artifact, admission)
        entry.services.send_gate = host._send_gate(name, version.component_id)
        if identity is not None:
            host.storage.adopt(name, identity)

    def restore() -> None:
        old.apply(entry)
        try:
            readmit(old, old_identity)
        except Exception as exc:  # only if the old manifest file changed since it was admitted
            logger.error("rolling back %s: re-admitting its old manifest failed (%s); it runs "
                         "with no grants until it is respawned", name, exc)

    # -- phase 2: swap, inside the actor's loop, between two batches -----------------------------
    async def swap(actor: Actor) -> BaseException | None:
        if not isinstance(actor, ComponentActor):
            raise TypeError(f"actor {name!r} is not a component actor")
        await actor.on_stop()  # the old shutdown, still under the old grants
        try:
            readmit(new, new_identity)
            new.apply(entry)
            await actor.replace_instance()
            return None
        except Exception as exc:
            failure: BaseException = exc
        except BaseException:
            restore()
            raise
        restore()
        try:
            await actor.replace_instance()
        except Exception as exc:
            raise UpgradeFailed(
                f"upgrading {name!r} failed ({failure}) and restarting its old code failed too "
                f"({exc}); the component failed and its supervisor restarts it with the old "
                "code by its restart policy", component=name, rolled_back=False) from failure
        return failure

    system = host._running()
    try:
        failure = await ref.actor.between_batches(swap)
    except UpgradeFailed as exc:
        system.emit(UpgradeEvent(name, _label(old), _label(new), ROLLED_BACK, exc,
                                 system.clock()))
        raise
    if failure is not None:
        system.emit(UpgradeEvent(name, _label(old), _label(new), ROLLED_BACK, failure,
                                 system.clock()))
        raise UpgradeFailed(
            f"the new code of {name!r} failed to start ({type(failure).__name__}: {failure}); "
            f"it was rolled back: the old code ({_label(old)}) runs again in a fresh instance and "
            "no queued message was lost. Fix the new version's init (or its manifest) and "
            "upgrade again", component=name, rolled_back=True) from failure
    _reroute(host, entry, ref)
    system.emit(UpgradeEvent(name, _label(old), _label(new), UPGRADED, None, system.clock()))
    return ref


def _reroute(host: Host, entry: ComponentEntry, ref: ComponentRef) -> None:
    """Point the route at the new component-id and ``max_message`` (same mailbox)."""
    mailbox = ref.actor.mailbox
    host.router.remove(entry.name, mailbox)
    host.router.add(entry.name, mailbox, entry.component_id, entry.limits.max_message_bytes)
    ref.component_id = entry.component_id
