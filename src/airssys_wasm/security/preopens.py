"""WASI p2 preopens derived from filesystem grants, never wider than the grants.

wasmtime-py 50 offers ``WasiConfig.preopen_dir(host_path, guest_path, fs_mutable)``: a whole
directory, either read-only (read files, list entries) or mutable (also create, write, rename,
delete). Grants are finer than that, so a preopen is produced only where it is *covered*:

- only subtree grants of the form ``<dir>/**`` can become preopens (``/app/*.txt`` or a single
  file cannot: WASI would expose the whole directory);
- read-only needs ``filesystem.read`` on ``<dir>/**`` (WASI reading includes listing entries,
  so grant read on a subtree only where listing it is acceptable);
- mutable needs ``read``, ``write`` and ``delete`` on ``<dir>/**`` (a mutable WASI directory
  can do all three);
- anything else is reported in ``skipped`` with the reason, so the operator sees why a grant
  is reachable through the ext-filesystem interface but not through WASI.

``host_path`` is the resolved directory (symlinks followed at manifest load), ``guest_path`` is
the directory as the manifest wrote it, so the guest sees the paths its manifest names.
"""

from __future__ import annotations

from dataclasses import dataclass

from airssys_wasm.security.capabilities import Capabilities, CapabilityKind

__all__ = ["Preopen", "PreopenPlan", "SkippedGrant", "derive_preopens"]

_FS_KINDS = (
    CapabilityKind.FILESYSTEM_READ,
    CapabilityKind.FILESYSTEM_WRITE,
    CapabilityKind.FILESYSTEM_DELETE,
    CapabilityKind.FILESYSTEM_LIST,
)


@dataclass(frozen=True, slots=True)
class Preopen:
    """A directory a WASI guest sees: ``host_path`` mounted at ``guest_path``, writable only when
    ``mutable``. Derived from ``<dir>/**`` filesystem grants, so WASI and ext-filesystem agree."""

    host_path: str
    guest_path: str
    mutable: bool

    @property
    def read_only(self) -> bool:
        """True when only read (or list) was granted: the preopen refuses writes in wasmtime
        itself."""
        return not self.mutable


@dataclass(frozen=True, slots=True)
class SkippedGrant:
    """A filesystem grant that could not become a preopen (not a whole directory), with the reason;
    reported so a WASI guest missing a directory can find out why."""

    kind: CapabilityKind
    pattern: str
    reason: str


@dataclass(frozen=True, slots=True)
class PreopenPlan:
    """The preopens of a component and the grants left out (see ``derive_preopens``)."""

    preopens: tuple[Preopen, ...]
    skipped: tuple[SkippedGrant, ...]


def derive_preopens(capabilities: Capabilities) -> PreopenPlan:
    """The preopens for a component's WASI config, sorted by guest path, plus what was left out."""
    # (host_path, guest_path) -> set of kinds granting the whole subtree
    subtrees: dict[tuple[str, str], set[CapabilityKind]] = {}
    skipped: list[SkippedGrant] = []
    for kind in _FS_KINDS:
        for compiled in capabilities.path_patterns(kind):
            if compiled.subtree:
                subtrees.setdefault((compiled.resolved_prefix, compiled.literal_prefix), set()).add(kind)
            else:
                skipped.append(SkippedGrant(kind, compiled.pattern,
                    "WASI preopens are whole directories; only '<dir>/**' grants become preopens "
                    "(the ext-filesystem interface still honours this grant)"))  # fmt: skip
    preopens = []
    for (host, guest), kinds in subtrees.items():
        if CapabilityKind.FILESYSTEM_READ not in kinds:
            for kind in sorted(kinds):
                skipped.append(SkippedGrant(kind, _subtree(guest),
                    "a WASI directory always allows reading; add filesystem.read on this subtree "
                    "to expose it through WASI"))  # fmt: skip
            continue
        mutable = {CapabilityKind.FILESYSTEM_WRITE, CapabilityKind.FILESYSTEM_DELETE} <= kinds
        if not mutable and CapabilityKind.FILESYSTEM_WRITE in kinds:
            skipped.append(SkippedGrant(CapabilityKind.FILESYSTEM_WRITE, _subtree(guest),
                "a writable WASI directory also allows deleting; without filesystem.delete on this "
                "subtree it is preopened read-only"))  # fmt: skip
        preopens.append(Preopen(host, guest, mutable))
    preopens.sort(key=lambda p: (p.guest_path, p.host_path))
    return PreopenPlan(tuple(preopens), tuple(skipped))


def _subtree(guest: str) -> str:
    return "/**" if guest == "/" else guest + "/**"
