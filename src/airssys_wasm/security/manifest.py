"""``Component.toml``: the one manifest schema, parsed with ``tomllib`` into frozen dataclasses.

The Rust seed had four parsers that disagreed; this is the only one. It is strict on purpose:
an unknown key is far more often a typo of a real key (``filesytem``) than a feature, and a
typo that silently grants or limits nothing is a security bug. Validation collects every
problem before failing so ``airssys-wasm validate`` can print them all at once.

Input rule (``load_manifest``/``validate_manifest``): an ``os.PathLike`` (``pathlib.Path``) is a
file; ``bytes`` are UTF-8 TOML text; a ``str`` containing a newline is TOML text and a ``str``
without one is a file path. (A one-line TOML document therefore has to be passed as bytes or
with a trailing newline.)
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from airssys_wasm._files import open_regular
from airssys_wasm.errors import ConfigError, ManifestError
from airssys_wasm.runtime.limits import Limits, parse_size
from airssys_wasm.security.capabilities import Capabilities, CapabilityKind, check_pattern
from airssys_wasm.security.patterns import PatternError

__all__ = [
    "ComponentInfo",
    "Manifest",
    "ManifestLimits",
    "ManifestProblem",
    "Quota",
    "limits_from_section",
    "load_manifest",
    "manifest_from_dict",
    "parse_size",
    "validate_manifest",
]

MAX_MANIFEST_BYTES = 1 << 20
_N = TypeVar("_N", int, float)

# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
_SEMVER_RE = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)
_SCHEMA: dict[str, Any] = {
    "component": {"name", "version", "description", "authors"},
    "limits": {"memory", "fuel", "timeout_ms", "stack", "slice_us", "max_message"},
    "capabilities": {
        "filesystem": {"read", "write", "delete", "list"},
        "network": {"connect", "bind"},
        "storage": {"read", "write"},
        "process": {"spawn"},
        "messaging": {"send"},
        # Not a family of operations: a list of interface globs directly under [capabilities].
        "interfaces": set(),
    },
    "quota": {"messages_per_second", "message_burst", "storage_bytes", "network_bytes_per_second",
              "interface_calls_per_second"},
}

# Ranges: (low, high) inclusive. Memory is bounded by wasm32's 4 GiB address space; the rest
# are generous ceilings that still catch unit mistakes (a timeout in microseconds, say).
_RANGES = {
    "limits.memory": (64 << 10, 4 << 30),
    "limits.stack": (4 << 10, 1 << 30),
    "limits.fuel": (1, 2**63 - 1),
    "limits.timeout_ms": (1, 86_400_000),
    "limits.slice_us": (50, 10_000_000),
    "limits.max_message": (16, 1 << 30),
    "quota.messages_per_second": (1e-6, 1e9),
    "quota.message_burst": (1, 10**9),
    "quota.storage_bytes": (1, 2**63 - 1),
    "quota.network_bytes_per_second": (1, 2**63 - 1),
    "quota.interface_calls_per_second": (1e-6, 1e9),
}


@dataclass(frozen=True, slots=True)
class ManifestProblem:
    """One broken rule: ``key`` is the dotted TOML path ("" for the whole file), ``rule`` a stable id."""

    key: str
    rule: str
    message: str

    def __str__(self) -> str:
        where = self.key or "<manifest>"
        return f"{where}: {self.message} [{self.rule}]"


@dataclass(frozen=True, slots=True)
class ComponentInfo:
    """The ``[component]`` table: ``name`` (also the storage identity), ``version`` (goes into the
    component-id), optional ``description`` and ``authors``."""

    name: str
    version: str
    description: str | None = None
    authors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ManifestLimits:
    """The ``[limits]`` section in plain units (bytes, fuel units, milliseconds).

    In a manifest, None = "not set, use the trust level's default"; in effective limits (after
    ``TrustPolicy.limits_for``) None = "unbounded / engine default", as in the runtime layer.
    """

    memory: int | None = None
    fuel: int | None = None
    timeout_ms: int | None = None
    stack: int | None = None
    #: Time slice (µs): how long the guest computes before it yields to other actors.
    slice_us: int | None = None
    #: Largest message (bytes) the component accepts or sends.
    max_message: int | None = None

    def as_runtime_kwargs(self) -> dict[str, int]:
        """Keyword arguments for the runtime layer's ``Limits.replace`` (its field names).

        Only fields that are set: ``runtime.Limits().replace(**limits.as_runtime_kwargs())``.
        """
        names = {"memory": "memory_bytes", "fuel": "fuel", "timeout_ms": "timeout_ms",
                 "stack": "stack_bytes", "slice_us": "slice_us", "max_message": "max_message_bytes"}
        return {
            names[k]: v
            for k, v in (
                ("memory", self.memory),
                ("fuel", self.fuel),
                ("timeout_ms", self.timeout_ms),
                ("stack", self.stack),
                ("slice_us", self.slice_us),
                ("max_message", self.max_message),
            )
            if v is not None
        }


@dataclass(frozen=True, slots=True)
class Quota:
    """Rates and budgets; None = unlimited. ``message_burst`` defaults to one second of rate."""

    messages_per_second: float | None = None
    message_burst: int | None = None
    storage_bytes: int | None = None
    network_bytes_per_second: int | None = None
    #: Calls per second into custom interfaces (``Host.provide``), all of them together; the
    #: burst is one second of rate. Every metered call is a security decision (audited).
    interface_calls_per_second: float | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed ``Component.toml``: ``component``, ``limits``, ``capabilities``, ``quota``, and the
    ``source`` file it came from (for messages).

    Typed and frozen: it is parsed once at spawn and the same object backs every later check,
    so what was validated is what is enforced."""

    component: ComponentInfo
    limits: ManifestLimits = field(default_factory=ManifestLimits)
    capabilities: Capabilities = field(default_factory=Capabilities)
    quota: Quota = field(default_factory=Quota)
    source: str | None = None  # file path it came from, for messages; None for text


class _Collector:
    """Walks the parsed TOML once, appending problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[ManifestProblem] = []

    def add(self, key: str, rule: str, message: str) -> None:
        self.problems.append(ManifestProblem(key, rule, message))

    def table(self, value: object, key: str, allowed: set[str] | dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.add(key, "wrong-type", f"expected a table, got {_type_name(value)}")
            return {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            sub = f"{key}.{k}" if key else str(k)
            if not isinstance(k, str) or k not in allowed:
                self.add(sub, "unknown-key", f"unknown key; allowed here: {', '.join(sorted(allowed))}")
            else:
                out[k] = v
        return out

    def string(self, value: object, key: str) -> str | None:
        if not isinstance(value, str):
            self.add(key, "wrong-type", f"expected a string, got {_type_name(value)}")
            return None
        return value

    def integer(self, value: object, key: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(key, "wrong-type", f"expected an integer, got {_type_name(value)}")
            return None
        return self.ranged(value, key)

    def number(self, value: object, key: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.add(key, "wrong-type", f"expected a finite number, got {_type_name(value)}")
            return None
        return self.ranged(value, key)

    def size(self, value: object, key: str) -> int | None:
        try:
            n = parse_size(value)
        except TypeError as exc:
            self.add(key, "wrong-type", str(exc))
            return None
        except ValueError as exc:
            self.add(key, "bad-size", str(exc))
            return None
        return self.ranged(n, key)

    def ranged(self, n: _N, key: str) -> _N | None:
        low, high = _RANGES[key]
        if not low <= n <= high:
            self.add(key, "out-of-range", f"{n} is outside the allowed range {low}..{high}")
            return None
        return n

    def string_list(self, value: object, key: str) -> list[tuple[int, str]]:
        if not isinstance(value, list):
            self.add(key, "wrong-type", f"expected a list of strings, got {_type_name(value)}")
            return []
        if not value:
            self.add(
                key, "empty-list", "an empty list grants nothing and is never 'allow all'; remove the key"
            )
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append((i, item))
            else:
                self.add(f"{key}[{i}]", "wrong-type", f"expected a string, got {_type_name(item)}")
        return out


def _type_name(value: object) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _component(c: _Collector, raw: object) -> ComponentInfo | None:
    t = c.table(raw, "component", _SCHEMA["component"])
    for required in ("name", "version"):
        if isinstance(raw, Mapping) and required not in t:
            c.add(f"component.{required}", "missing-key", "required; add it under [component]")
    name = version = description = None
    if "name" in t and (name := c.string(t["name"], "component.name")) is not None:
        if not _NAME_RE.fullmatch(name):
            c.add(
                "component.name",
                "bad-name",
                f"{name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
            name = None
    if "version" in t and (version := c.string(t["version"], "component.version")) is not None:
        if not _SEMVER_RE.fullmatch(version):
            c.add(
                "component.version",
                "bad-semver",
                f"{version!r} is not semantic versioning; write MAJOR.MINOR.PATCH like '1.2.0'",
            )
            version = None
    if "description" in t:
        description = c.string(t["description"], "component.description")
    authors: list[str] = []
    if "authors" in t:
        for i, author in c.string_list(t["authors"], "component.authors"):
            if author.strip():
                authors.append(author)
            else:
                c.add(f"component.authors[{i}]", "empty-pattern", "an author must not be blank")
    if name is None or version is None:
        return None
    return ComponentInfo(name, version, description, tuple(authors))


def _limits(c: _Collector, raw: object) -> ManifestLimits:
    t = c.table(raw, "limits", _SCHEMA["limits"])
    memory = c.size(t["memory"], "limits.memory") if "memory" in t else None
    stack = c.size(t["stack"], "limits.stack") if "stack" in t else None
    fuel = c.integer(t["fuel"], "limits.fuel") if "fuel" in t else None
    timeout = c.integer(t["timeout_ms"], "limits.timeout_ms") if "timeout_ms" in t else None
    slice_us = c.integer(t["slice_us"], "limits.slice_us") if "slice_us" in t else None
    max_message = c.size(t["max_message"], "limits.max_message") if "max_message" in t else None
    return ManifestLimits(memory=memory, fuel=fuel, timeout_ms=timeout, stack=stack,
                          slice_us=slice_us, max_message=max_message)


def _quota(c: _Collector, raw: object) -> Quota:
    t = c.table(raw, "quota", _SCHEMA["quota"])
    rate = burst = storage = bandwidth = calls = None
    if "messages_per_second" in t:
        rate = c.number(t["messages_per_second"], "quota.messages_per_second")
    if "message_burst" in t:
        burst = c.integer(t["message_burst"], "quota.message_burst")
        if "messages_per_second" not in t:
            c.add("quota.message_burst", "missing-key", "a burst needs quota.messages_per_second too")
    if "storage_bytes" in t:
        storage = c.size(t["storage_bytes"], "quota.storage_bytes")
    if "network_bytes_per_second" in t:
        bandwidth = c.size(t["network_bytes_per_second"], "quota.network_bytes_per_second")
    if "interface_calls_per_second" in t:
        calls = c.number(t["interface_calls_per_second"], "quota.interface_calls_per_second")
    return Quota(rate, burst, storage, bandwidth, calls)


def _capabilities(c: _Collector, raw: object) -> dict[CapabilityKind, tuple[str, ...]]:
    schema: dict[str, set[str]] = _SCHEMA["capabilities"]
    grants: dict[CapabilityKind, tuple[str, ...]] = {}
    for family, sub in c.table(raw, "capabilities", schema).items():
        if family == "interfaces":
            grants[CapabilityKind.INTERFACES] = _patterns(c, CapabilityKind.INTERFACES, sub)
            continue
        for op, value in c.table(sub, f"capabilities.{family}", schema[family]).items():
            kind = CapabilityKind(f"{family}.{op}")
            grants[kind] = _patterns(c, kind, value)
    return grants


def _patterns(c: _Collector, kind: CapabilityKind, value: object) -> tuple[str, ...]:
    key = f"capabilities.{kind}"
    patterns = []
    for i, pattern in c.string_list(value, key):
        try:
            check_pattern(kind, pattern)
        except PatternError as exc:
            c.add(f"{key}[{i}]", exc.rule, exc.message)
        else:
            patterns.append(pattern)
    return tuple(patterns)


def _build(data: object, source: str | None) -> tuple[Manifest | None, list[ManifestProblem]]:
    c = _Collector()
    top = c.table(data, "", _SCHEMA)
    if isinstance(data, Mapping) and "component" not in top:
        c.add("component", "missing-key", "a [component] table with name and version is required")
    info = _component(c, top["component"]) if "component" in top else None
    limits = _limits(c, top["limits"]) if "limits" in top else ManifestLimits()
    quota = _quota(c, top["quota"]) if "quota" in top else Quota()
    grants = _capabilities(c, top["capabilities"]) if "capabilities" in top else {}
    if c.problems or info is None:
        return None, c.problems
    return Manifest(info, limits, Capabilities(grants), quota, source), []


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unreadable(
            "bad-encoding", f"manifest text is not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None


def _source_of(path_or_text: object) -> str | None:
    """The file path the input rule picks, or None when the input is TOML text."""
    if isinstance(path_or_text, str):
        return None if "\n" in path_or_text else path_or_text
    if isinstance(path_or_text, os.PathLike):
        return os.fsdecode(os.fspath(path_or_text))
    if isinstance(path_or_text, bytes | bytearray | memoryview):
        return None
    raise TypeError(
        "load_manifest takes a path (str without newline, or os.PathLike) or TOML text "
        f"(str with a newline, or bytes), not {type(path_or_text).__name__}"
    )


def _read(path_or_text: object, source: str | None) -> str:
    if source is None:
        if isinstance(path_or_text, str):
            return path_or_text
        return _decode(bytes(cast("bytes | bytearray | memoryview", path_or_text)))
    try:
        with open_regular(source) as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _Unreadable(
            "unreadable",
            f"cannot read manifest file {source!r}: {reason}. Pass an existing file, or TOML text "
            "(a str with a newline, or bytes)",
        ) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise _Unreadable("too-large", f"manifest file {source!r} is over {MAX_MANIFEST_BYTES} bytes")
    return _decode(raw)


class _Unreadable(Exception):
    def __init__(self, rule: str, message: str) -> None:
        self.problem = ManifestProblem("", rule, message)


def _problems(path_or_text: object, source: str | None) -> tuple[Manifest | None, list[ManifestProblem]]:
    try:
        text = _read(path_or_text, source)
    except _Unreadable as exc:
        return None, [exc.problem]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [ManifestProblem("", "toml-syntax", f"not valid TOML: {exc}")]
    return _build(data, source)


def _raise(problems: list[ManifestProblem], source: str | None) -> ManifestError:
    where = f" {source}" if source else ""
    lines = "\n".join(f"  - {p}" for p in problems)
    err = ManifestError(
        f"manifest{where} has {len(problems)} problem{'s' if len(problems) != 1 else ''} "
        f"(fix each and reload):\n{lines}"
    )
    err.problems = tuple(problems)  # type: ignore[attr-defined]
    return err


def validate_manifest(path_or_text: str | bytes | os.PathLike[str]) -> list[ManifestProblem]:
    """Every problem of a manifest at once (empty list = valid); never raises ManifestError."""
    return _problems(path_or_text, _source_of(path_or_text))[1]


def load_manifest(path_or_text: str | bytes | os.PathLike[str]) -> Manifest:
    """Parse and validate; raises ``ManifestError`` listing all problems (also in ``.problems``)."""
    source = _source_of(path_or_text)
    manifest, problems = _problems(path_or_text, source)
    if manifest is None:
        raise _raise(problems, source)
    return manifest


def manifest_from_dict(data: Mapping[str, Any], *, source: str | None = None) -> Manifest:
    """Build from an already-parsed TOML-shaped mapping (same rules as ``load_manifest``)."""
    manifest, problems = _build(data, source)
    if manifest is None:
        raise _raise(problems, source)
    return manifest


def limits_from_section(section: object, base: Limits | None = None) -> Limits:
    """Runtime ``Limits`` from a bare ``[limits]`` table (e.g. one inside a system file),
    validated by the same rules as a Component.toml's, applied over ``base`` (default: the
    runtime defaults). ``ManifestError`` lists every problem with its ``limits.<key>``."""
    collector = _Collector()
    parsed = _limits(collector, section)
    if collector.problems:
        raise _raise(collector.problems, None)
    try:
        return (base or Limits()).replace(**parsed.as_runtime_kwargs())
    except ConfigError as exc:
        raise ManifestError(f"[limits] does not fit the runtime: {exc}") from None
