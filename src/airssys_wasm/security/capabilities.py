"""What a component may touch: the ``[capabilities]`` grants, compiled into matchers.

A ``Capabilities`` object is built once per manifest and then only answers
``allows(kind, target)``. Everything not granted is denied: an absent kind has no patterns and
matches nothing, and an unknown kind is a programming error (``ValueError``), never "allow".
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from airssys_wasm.errors import ManifestError
from airssys_wasm.security.patterns import (
    CompiledPath,
    Endpoint,
    NameMatcher,
    NetworkMatcher,
    PathMatcher,
    PatternError,
    compile_interface_pattern,
    compile_name_pattern,
    compile_path_pattern,
    parse_network_pattern,
)

__all__ = ["Capabilities", "CapabilityKind", "check_pattern"]


class CapabilityKind(enum.StrEnum):
    """The capability kinds of SPEC.md; values are the manifest keys under ``[capabilities]``."""

    FILESYSTEM_READ = "filesystem.read"
    FILESYSTEM_WRITE = "filesystem.write"
    FILESYSTEM_DELETE = "filesystem.delete"
    FILESYSTEM_LIST = "filesystem.list"
    NETWORK_CONNECT = "network.connect"
    NETWORK_BIND = "network.bind"
    STORAGE_READ = "storage.read"
    STORAGE_WRITE = "storage.write"
    PROCESS_SPAWN = "process.spawn"
    MESSAGING_SEND = "messaging.send"
    #: Custom interfaces an embedder provides (``[capabilities] interfaces = ["acme:billing/*"]``);
    #: targets are interface names, optionally with ``#function``.
    INTERFACES = "interfaces"


_PATH_KINDS = frozenset(
    {
        CapabilityKind.FILESYSTEM_READ,
        CapabilityKind.FILESYSTEM_WRITE,
        CapabilityKind.FILESYSTEM_DELETE,
        CapabilityKind.FILESYSTEM_LIST,
        CapabilityKind.PROCESS_SPAWN,
    }
)
_NETWORK_KINDS = frozenset({CapabilityKind.NETWORK_CONNECT, CapabilityKind.NETWORK_BIND})
_KIND_VALUES = frozenset(k.value for k in CapabilityKind)
_INTERFACES = CapabilityKind.INTERFACES.value


def _compile(kind: CapabilityKind, pattern: str) -> CompiledPath | Endpoint | str:
    if kind in _PATH_KINDS:
        # An executable grant may go through a symlink (what runs is pinned by its inode);
        # a filesystem grant names the real directory the host opens with no symlink followed.
        return compile_path_pattern(pattern,
                                    follow_symlinks=kind is CapabilityKind.PROCESS_SPAWN)
    if kind in _NETWORK_KINDS:
        return parse_network_pattern(pattern)
    if kind is CapabilityKind.INTERFACES:
        return compile_interface_pattern(pattern)
    return compile_name_pattern(pattern)


def check_pattern(kind: CapabilityKind, pattern: str) -> None:
    """Raise :class:`PatternError` if ``pattern`` is not a valid grant for ``kind``."""
    _compile(kind, pattern)


def _kind(kind: object) -> CapabilityKind:
    if isinstance(kind, str) and kind in _KIND_VALUES:
        return CapabilityKind(kind)
    raise ValueError(f"unknown capability kind {kind!r}; use one of: {', '.join(sorted(_KIND_VALUES))}")


def _matcher(kind: CapabilityKind, compiled: list[Any]) -> Callable[[object], bool]:
    if kind in _PATH_KINDS:
        return PathMatcher(compiled)
    if kind in _NETWORK_KINDS:
        return NetworkMatcher(compiled)
    return NameMatcher(compiled)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Granted patterns per kind, with one precompiled matcher per kind.

    Build from a mapping ``{kind: [patterns]}``; kinds left out grant nothing. Invalid patterns
    or an explicitly empty list raise ``ManifestError`` (the manifest loader reports them with
    their TOML key instead). ``Capabilities()`` grants nothing at all.
    """

    grants: Mapping[CapabilityKind, tuple[str, ...]] = field(default_factory=dict)
    _matchers: Mapping[str, Callable[[object], bool]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grants: dict[CapabilityKind, tuple[str, ...]] = {}
        compiled: dict[CapabilityKind, list[Any]] = {k: [] for k in CapabilityKind}
        problems: list[str] = []
        for raw_kind, patterns in dict(self.grants).items():
            kind = _kind(raw_kind)
            if isinstance(patterns, str) or not isinstance(patterns, Iterable):
                raise TypeError(f"capabilities.{kind}: expected a list of patterns, not {patterns!r:.60}")
            patterns = tuple(patterns)
            if not patterns:
                problems.append(f"capabilities.{kind}: an empty list grants nothing; remove the key")
            for i, pattern in enumerate(patterns):
                if not isinstance(pattern, str):
                    problems.append(f"capabilities.{kind}[{i}]: a pattern must be a string")
                    continue
                try:
                    compiled[kind].append(_compile(kind, pattern))
                except PatternError as exc:
                    problems.append(f"capabilities.{kind}[{i}]: {exc.message} [{exc.rule}]")
            grants[kind] = patterns
        if problems:
            raise ManifestError("invalid capabilities:\n  " + "\n  ".join(problems))
        # Hash-keyed by the plain string so StrEnum members and str both hit the same entry.
        matchers = {k.value: _matcher(k, compiled[k]) for k in CapabilityKind}
        object.__setattr__(self, "grants", MappingProxyType(grants))
        object.__setattr__(self, "_matchers", MappingProxyType(matchers))

    def __hash__(self) -> int:
        return hash(frozenset(self.grants.items()))

    def allows(self, kind: str, target: object) -> bool:
        """True when ``target`` matches a grant of ``kind``.

        Targets: filesystem/process — an absolute path (resolved with ``realpath`` first);
        network — ``"host:port"``, ``"[ipv6]:port"`` or a ``(host, port)`` tuple; storage — a
        namespace; messaging — a component name; interfaces — an interface name, optionally
        followed by ``#function`` (the grant names interfaces, so the function part is ignored). A target of the wrong type is a programming
        error (``TypeError``); a target that cannot be interpreted is denied.
        """
        try:
            matcher = self._matchers[kind]
        except (KeyError, TypeError):
            _kind(kind)  # raises the ValueError with the list of valid kinds
            raise
        if kind == _INTERFACES and type(target) is str:
            target = target.partition("#")[0]
        return matcher(target)

    def allows_address(self, kind: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                       port: int) -> bool:
        """For a network kind: does a grant name ``address`` (or a CIDR range holding it) with
        ``port`` literally? Host names are not consulted — this decides whether an address in a
        deny-by-default range (loopback, private, link-local, ...) that a name resolved to may be
        used anyway."""
        matcher = self._matchers[_kind(kind).value]
        if not isinstance(matcher, NetworkMatcher):
            raise ValueError(f"{kind} is not a network capability")
        return matcher.allows_address(address, port)

    def allows_resolved(self, kind: str, resolved: str) -> bool:
        """Like ``allows`` for a filesystem/process kind, on a path that is already the output
        of ``resolve_target_path`` (so a caller that resolves once can check and then open the
        very same path)."""
        matcher = self._matchers[_kind(kind).value]
        if not isinstance(matcher, PathMatcher):
            raise ValueError(f"{kind} is not a path capability")
        return matcher.matches_resolved(resolved)

    def grant_root(self, kind: str, resolved: str) -> str | None:
        """The directory an allowed ``resolved`` path of ``kind`` is opened beneath (the
        deepest resolved literal prefix of the patterns granting it); None when none does."""
        matcher = self._matchers[_kind(kind).value]
        if not isinstance(matcher, PathMatcher):
            raise ValueError(f"{kind} is not a path capability")
        return matcher.root_of(resolved)

    def path_patterns(self, kind: str) -> tuple[CompiledPath, ...]:
        """Compiled path patterns of a filesystem/process kind (used to derive WASI preopens)."""
        matcher = self._matchers[_kind(kind).value]
        if not isinstance(matcher, PathMatcher):
            raise ValueError(f"{kind} is not a path capability")
        return matcher.compiled
