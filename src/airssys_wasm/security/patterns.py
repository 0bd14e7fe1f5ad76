"""Capability patterns: one compiler per target family, each producing a precompiled matcher.

The Rust seed granted ``/app/data/../../../etc/passwd`` under ``/app/data/*`` and matched
``evilexample.com`` against ``*.example.com``. Both bugs come from matching text the OS would
interpret differently. Here every target is first brought to the form the OS acts on (a resolved
path, a normalised host and port) and only then compared, and patterns are compiled once, at
manifest load, so a check costs one regex match or a few dict look-ups.

Pattern syntax errors raise :class:`PatternError` (rule id + message); the manifest loader turns
them into ``ManifestError`` entries naming the key. Matchers never raise on a bad *target*: a
target that cannot be interpreted simply does not match (deny).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "NAME_CHARS",
    "Endpoint",
    "NameMatcher",
    "NetworkMatcher",
    "PathMatcher",
    "PatternError",
    "compile_interface_pattern",
    "compile_name_pattern",
    "compile_path_pattern",
    "grant_root",
    "parse_endpoint",
    "parse_network_pattern",
    "resolve_target_file",
    "resolve_target_path",
    "target_endpoint",
]

_GLOB_CHARS = frozenset("*?")
# Characters allowed in storage namespaces, component names and their globs.
NAME_CHARS = r"A-Za-z0-9._:/\-"
_NAME_PATTERN_RE = re.compile(rf"[{NAME_CHARS}*?]+")
_HOST_LABEL_RE = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_PORT_RE = re.compile(r"[0-9]{1,5}")
ANY_PORT = None  # marker in port tables: every port
# Bounds that keep regex backtracking polynomial and small: the OS refuses longer paths and
# names anyway (PATH_MAX, NAME_MAX), and more stars per segment add nothing a grant needs.
MAX_PATH = 4096
MAX_NAME = 255
MAX_STARS = 4


class PatternError(ValueError):
    """A capability pattern breaks a syntax rule; ``rule`` is a stable id for tooling."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


# --- filesystem / executables ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """One path pattern after compilation.

    ``literal_prefix`` is the pattern's leading run of glob-free segments exactly as written
    (the guest's view); ``resolved_prefix`` is the same directory after ``realpath`` (the host's
    view, what targets are compared against). ``subtree`` is true when the pattern is exactly
    ``<prefix>/**`` — the only shape a WASI preopen can represent without widening the grant.
    """

    pattern: str
    regex: str
    literal_prefix: str
    resolved_prefix: str
    subtree: bool


def compile_path_pattern(pattern: str, *, follow_symlinks: bool = True) -> CompiledPath:
    """Compile an absolute path glob: ``*``/``?`` stay inside one segment, ``**`` spans any depth.

    The literal prefix is resolved with ``os.path.realpath`` now, because targets are resolved
    before matching: a grant on ``/data`` where ``/data`` is a symlink to ``/srv/data`` must
    match the resolved target ``/srv/data/x``. ``.``/``..`` segments are rejected instead of
    normalised so that a pattern always means what it visibly says.

    With ``follow_symlinks=False`` (filesystem grants) a prefix that goes through a symlink is
    refused instead: whoever can rename a directory on that path could point the grant
    elsewhere at the moment it is resolved (measured: 47 escapes in 300 spawns racing a
    ``renameat2`` swap), so a grant names the real directory, which the host then opens with no
    symlink followed.
    """
    if not pattern:
        raise PatternError("empty-pattern", "an empty pattern grants nothing; remove it or write a path")
    if "\x00" in pattern:
        raise PatternError("bad-pattern", "a path pattern must not contain NUL bytes")
    if not pattern.startswith("/"):
        raise PatternError(
            "relative-path",
            f"path pattern {pattern!r} is relative; write an absolute path such as '/app/data/**'",
        )
    if len(pattern) > MAX_PATH:
        raise PatternError("bad-pattern", f"path pattern is longer than {MAX_PATH} characters")
    segments: list[str] = []
    for seg in pattern.split("/"):
        # "//" and a trailing "/" collapse; "**/**" means the same as "**".
        if seg and not (seg == "**" and segments and segments[-1] == "**"):
            segments.append(seg)
    for seg in segments:
        if seg in (".", ".."):
            raise PatternError(
                "bad-pattern",
                f"path pattern {pattern!r} contains a {seg!r} segment; write the normalised path",
            )
        if "**" in seg and seg != "**":
            raise PatternError(
                "bad-pattern",
                f"path pattern {pattern!r}: '**' must be a whole segment ('/a/**/b'), not part of {seg!r}",
            )
        if seg.count("*") > MAX_STARS:
            raise PatternError(
                "bad-pattern",
                f"path pattern {pattern!r}: at most {MAX_STARS} '*' per segment ({seg!r})",
            )
    first_glob = next((i for i, s in enumerate(segments) if _GLOB_CHARS & set(s)), len(segments))
    literal_prefix = "/" + "/".join(segments[:first_glob])
    try:
        resolved = os.path.realpath(literal_prefix)
    except (OSError, ValueError) as exc:  # e.g. EINVAL when a rename races the resolution
        raise PatternError(
            "unresolvable-path",
            f"path pattern {pattern!r}: {literal_prefix!r} could not be resolved "
            f"({getattr(exc, 'strerror', None) or exc}); is it being renamed? spawn again",
        ) from None
    if not follow_symlinks and resolved != literal_prefix:
        rest = pattern[len(literal_prefix):] if pattern.startswith(literal_prefix) else ""
        raise PatternError(
            "symlinked-grant",
            f"path pattern {pattern!r} goes through a symlink ({literal_prefix!r} is really "
            f"{resolved!r}); write the real path, {resolved.rstrip('/') + rest!r}: a grant's own "
            "path must not follow symlinks, which another process could swap",
        )
    parts = ["" if resolved == "/" else re.escape(resolved)]
    for seg in segments[first_glob:]:
        if seg == "**":
            parts.append("(?:/[^/]+)*")
        elif seg == "*":
            parts.append("/[^/]+")
        else:
            parts.append("/" + "".join(_glob_char(c) for c in seg))
    subtree = first_glob == len(segments) - 1 and segments[-1] == "**"
    return CompiledPath(pattern, "".join(parts), literal_prefix, resolved, subtree)


def _glob_char(c: str) -> str:
    if c == "*":
        return "[^/]*"
    if c == "?":
        return "[^/]"
    return re.escape(c)


# Linux: open the target with O_PATH (follows every symlink in one syscall, opens nothing for
# I/O) and read the kernel's name for the descriptor back from /proc. Three syscalls instead of
# os.path.realpath's one lstat per path component, so several times faster; realpath stays the
# fallback (and the reference in the tests) for targets that do not exist yet.
_O_PATH = getattr(os, "O_PATH", 0)
_PROC_FD = "/proc/self/fd/"
_HAVE_PROC_FD = bool(_O_PATH) and os.path.isdir(_PROC_FD)


def _kernel_path(path: str) -> str | None:
    try:
        fd = os.open(path, _O_PATH | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        resolved = os.readlink(_PROC_FD + str(fd))
    except OSError:
        return None
    finally:
        os.close(fd)
    # "(deleted)" (raced with an unlink) or "(unreachable)": let realpath decide instead.
    if not resolved.startswith("/") or resolved.endswith(")"):
        return None
    return resolved


def _kernel_path_of_new_entry(path: str) -> str | None:
    """Resolve a target that does not exist yet (a file about to be created) via its parent.

    Only when *nothing* is at the final name: a dangling symlink there would make an
    ``O_CREAT`` open land wherever the link points, so that case goes to ``realpath``.
    """
    head, _, name = path.rpartition("/")
    if name in ("", ".", ".."):
        return None
    parent = _kernel_path(head or "/")
    if parent is None:
        return None
    joined = parent.rstrip("/") + "/" + name
    try:
        os.lstat(joined)
    except FileNotFoundError:
        return joined
    except OSError:
        return None
    return None


def resolve_target_path(target: object) -> str | None:
    """The path the OS would act on, or None when the target cannot be a local absolute path.

    Resolution collapses ``//``, ``/./`` and ``..`` and follows every symlink, so the result is
    where an open() would land *now* (the host should open this resolved path to avoid a race
    with a symlink swapped in later). Percent escapes are not decoded: ``%2e%2e`` is a file
    name, exactly as the kernel sees it.
    """
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str):
        raise TypeError(f"a filesystem target must be str or os.PathLike, not {type(target).__name__}")
    if not target.startswith("/") or "\x00" in target or len(target) > MAX_PATH:
        return None
    resolved = None
    if _HAVE_PROC_FD:
        resolved = _kernel_path(target) or _kernel_path_of_new_entry(target)
    if resolved is None:
        try:
            resolved = os.path.realpath(target)
        except (OSError, ValueError):
            return None
    return resolved if len(resolved) <= MAX_PATH else None


def resolve_target_file(target: object) -> tuple[str | None, tuple[int, int] | None]:
    """``(resolved path, (st_dev, st_ino))`` of the file ``target`` names now.

    For kinds whose target is an existing file the host will act on (``process.spawn``): the
    path and the identity come from ONE ``O_PATH`` descriptor, so they describe the same file
    even while someone renames things around it. The host later opens the path again and acts
    only if that descriptor has this identity (what it executes is what was checked). The
    identity is None when no file is there (the path is then what ``resolve_target_path``
    gives, and the host's open fails with not-found) or on a system without ``O_PATH``/``/proc``.
    """
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str):
        raise TypeError(f"a filesystem target must be str or os.PathLike, not {type(target).__name__}")
    if _HAVE_PROC_FD and target.startswith("/") and "\x00" not in target \
            and len(target) <= MAX_PATH:
        try:
            fd = os.open(target, _O_PATH | os.O_CLOEXEC)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                resolved = os.readlink(_PROC_FD + str(fd))
                st = os.fstat(fd)
            except OSError:
                resolved = ""
            finally:
                os.close(fd)
            if resolved.startswith("/") and not resolved.endswith(")") \
                    and len(resolved) <= MAX_PATH:
                return resolved, (st.st_dev, st.st_ino)
    return resolve_target_path(target), None


def grant_root(compiled: CompiledPath, resolved: str) -> str:
    """The directory the host opens ``resolved`` beneath when ``compiled`` granted it: the
    pattern's resolved literal prefix, or its parent when the target *is* that prefix (a
    literal file or directory grant), so the root is always a directory above the target."""
    prefix = compiled.resolved_prefix
    if resolved != prefix and resolved.startswith(prefix.rstrip("/") + "/"):
        return prefix
    return os.path.dirname(prefix) or "/"


class PathMatcher:
    """All path patterns of one capability kind, joined into one anchored regex."""

    __slots__ = ("_each", "_match", "compiled")

    def __init__(self, compiled: Iterable[CompiledPath]) -> None:
        self.compiled = tuple(compiled)
        self._match: Callable[[str], re.Match[str] | None] | None
        if self.compiled:
            self._match = re.compile("|".join(f"(?:{c.regex})" for c in self.compiled)).fullmatch
        else:
            self._match = None
        # Per pattern, for root_of: only asked after the joined regex allowed a target.
        self._each = tuple((c, re.compile(c.regex).fullmatch) for c in self.compiled)

    def root_of(self, resolved: str) -> str | None:
        """The grant root of an allowed ``resolved`` path (see :func:`grant_root`): of the
        patterns that match it, the one with the deepest root, so the host's open starts as
        close to the target as the grants allow. None when no pattern matches."""
        target = "" if resolved == "/" else resolved
        best: str | None = None
        for compiled, match in self._each:
            if match(target) is not None:
                root = grant_root(compiled, resolved)
                if best is None or len(root) > len(best):
                    best = root
        return best

    def __call__(self, target: object) -> bool:
        resolved = resolve_target_path(target)
        if resolved is None or self._match is None:
            return False
        return self.matches_resolved(resolved)

    def matches_resolved(self, resolved: str) -> bool:
        """Match a path that is already the output of ``realpath`` (skips the syscalls)."""
        if self._match is None:
            return False
        return self._match("" if resolved == "/" else resolved) is not None


# --- network -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A normalised ``host:port``.

    ``kind`` is ``"ip"`` (``host`` is the compressed address text; IPv4-mapped IPv6 becomes
    IPv4 because that is where a socket would connect), ``"name"`` (lower case, no trailing
    dot), ``"wildcard"`` (patterns only; ``host`` is the parent domain) or ``"cidr"`` (patterns
    only; ``host`` is the network, ``10.0.0.0/8``). ``port`` None = ``*``.
    """

    kind: str
    host: str
    port: int | None


def _parse_port(text: str, *, pattern: bool) -> int | None:
    if pattern and text == "*":
        return ANY_PORT
    if not _PORT_RE.fullmatch(text):
        raise PatternError("bad-port", f"port {text!r} is not a number{' or *' if pattern else ''}")
    port = int(text)
    low = 1 if pattern else 0
    if not low <= port <= 65535:
        raise PatternError("bad-port", f"port {port} is outside {low}..65535")
    return port


def _parse_ipv4(text: str) -> str | None:
    # Strict dotted quad only (no "127.1", no leading zeros): anything inet_aton would read
    # differently is refused by _check_hostname instead.
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _check_hostname(host: str) -> str:
    if host.endswith("."):
        host = host[:-1]
    if not host.isascii():
        # Lower-casing non-ASCII can turn it into different ASCII (KELVIN SIGN -> 'k'); the
        # resolver would IDNA-encode it differently again. Internationalised names are written
        # in their punycode form ("xn--...").
        raise PatternError(
            "bad-host", f"{host!r}: write internationalised host names as punycode ('xn--...')"
        )
    host = host.lower()
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_HOST_LABEL_RE.fullmatch(lb) for lb in labels):
        raise PatternError(
            "bad-host",
            f"{host!r} is not a valid host name (labels of letters, digits, '-' or '_', 1-63 chars)",
        )
    if labels[-1].isdigit():
        # 127.1 or 10.0.0.1.5 would be read as an IP by inet_aton: refuse the ambiguity.
        raise PatternError("bad-host", f"{host!r} looks numeric but is not a valid IPv4 address")
    return host


def parse_endpoint(text: str, *, pattern: bool = False) -> Endpoint:
    """Parse ``host:port``, ``[ipv6]:port`` or (patterns only) ``*.domain:port`` / ``host:*``."""
    if not text:
        raise PatternError("empty-pattern", "an empty pattern grants nothing; write 'host:port'")
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or text[close + 1 : close + 2] != ":":
            raise PatternError("bad-host", f"{text!r}: write bracketed IPv6 as '[::1]:8080'")
        port = _parse_port(text[close + 2 :], pattern=pattern)
        inner = text[1:close]
        if "%" in inner:
            raise PatternError("bad-host", f"{text!r}: IPv6 zone ids ('%eth0') are not supported")
        if "/" in inner:
            if not pattern:
                raise PatternError("bad-host", f"{text!r}: a range is not an address to connect to")
            return Endpoint("cidr", _parse_cidr(inner, 6), port)
        try:
            addr = ipaddress.IPv6Address(inner)
        except ValueError:
            raise PatternError("bad-host", f"{inner!r} inside brackets is not an IPv6 address") from None
        mapped = addr.ipv4_mapped
        return Endpoint("ip", str(mapped if mapped is not None else addr), port)
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise PatternError("bad-port", f"{text!r} has no port; write 'host:443' or 'host:*'")
    if ":" in host:
        raise PatternError("bad-host", f"{text!r}: IPv6 addresses go in brackets: '[::1]:443'")
    port = _parse_port(port_text, pattern=pattern)
    if pattern and host.startswith("*."):
        return Endpoint("wildcard", _check_hostname(host[2:]), port)
    if "*" in host:
        raise PatternError(
            "bad-host",
            f"{text!r}: the only host wildcard is a leading '*.' ('*.example.com:443')",
        )
    if pattern and "/" in host:
        return Endpoint("cidr", _parse_cidr(host, 4), port)
    ip = _parse_ipv4(host)
    if ip is not None:
        return Endpoint("ip", ip, port)
    return Endpoint("name", _check_hostname(host), port)


def _parse_cidr(text: str, version: int) -> str:
    """A grant of an address range (``10.0.0.0/8``, ``[fd00::/8]``), strictly: the network
    address as written must be the range's first address, so a typo never widens a grant."""
    address, _, prefix = text.partition("/")
    limit = 32 if version == 4 else 128
    if not prefix.isdigit() or not 0 <= int(prefix) <= limit:
        raise PatternError("bad-cidr", f"{text!r}: the prefix length after '/' must be a number "
                           f"0..{limit}")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        hint = "IPv6 ranges go in brackets: '[fd00::/8]:443'" if version == 4 and ":" in text \
            else f"write an IPv{version} network such as " \
            + ("'10.0.0.0/8'" if version == 4 else "'[fd00::/8]'")
        raise PatternError("bad-cidr", f"{address!r} in {text!r} is not an IPv{version} address; "
                           f"{hint}") from None
    if net.version != version:  # only an IPv4 range inside brackets gets here
        raise PatternError("bad-cidr", f"[{text}] is not an IPv6 address range; write IPv4 "
                           f"ranges without brackets: '{text}:443'")
    if int(prefix) == 0:
        raise PatternError("bad-cidr", f"{text!r} would grant every address, including loopback "
                           "and private networks; list the ranges the component needs")
    if str(net.network_address) != str(ipaddress.ip_address(address)):
        raise PatternError("bad-cidr", f"{text!r} has bits set after the prefix; write the "
                           f"network address: '{net}'")
    if version == 6 and net.subnet_of(_MAPPED_NET):  # type: ignore[arg-type]
        raise PatternError("bad-cidr", f"{text!r}: write ranges of IPv4-mapped addresses in IPv4 "
                           "form ('10.0.0.0/8'); targets are compared as IPv4")
    return str(net)


_MAPPED_NET = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_network_pattern(text: str) -> Endpoint:
    return parse_endpoint(text, pattern=True)


@functools.lru_cache(maxsize=4096)
def _parse_target(text: str) -> Endpoint | None:
    # Pure function of the string, so caching is safe; the bound keeps a hostile guest from
    # growing it without limit.
    try:
        return parse_endpoint(text, pattern=False)
    except PatternError:
        return None


def target_endpoint(target: object) -> Endpoint | None:
    """A network target (``"host:port"``, ``"[v6]:port"`` or ``(host, port)``) normalised, or
    None when it cannot be one (``TypeError`` for a target of the wrong type)."""
    return _parse_target(_target_text(target))


def _target_text(target: object) -> str:
    if isinstance(target, str):
        return target
    if isinstance(target, tuple) and len(target) == 2:
        host, port = target
        if isinstance(host, str) and isinstance(port, int) and not isinstance(port, bool):
            return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    raise TypeError(f"a network target must be 'host:port' or a (host, port) tuple, not {target!r:.80}")


class NetworkMatcher:
    """Endpoint patterns grouped into hash tables: exact names, IPs, and wildcard parents;
    address ranges (CIDR grants) in a short list of integer intervals.

    Ports per host are merged; ``None`` in a table means any port.
    """

    __slots__ = ("_ips", "_names", "_parents", "_ranges", "endpoints")

    def __init__(self, endpoints: Iterable[Endpoint]) -> None:
        self.endpoints = tuple(endpoints)
        tables: dict[str, dict[str, frozenset[int] | None]] = {
            "name": {}, "ip": {}, "wildcard": {}, "cidr": {}}
        for ep in self.endpoints:
            table = tables[ep.kind]
            if ep.host in table and table[ep.host] is None:
                continue
            if ep.port is None:
                table[ep.host] = None
            else:
                table[ep.host] = (table.get(ep.host) or frozenset()) | {ep.port}
        self._names = tables["name"]
        self._ips = tables["ip"]
        self._parents = tables["wildcard"]
        ranges = []
        for text, ports in tables["cidr"].items():
            net = ipaddress.ip_network(text)
            ranges.append((net.version, int(net.network_address), int(net.broadcast_address),
                           ports))
        self._ranges: tuple[tuple[int, int, int, frozenset[int] | None], ...] = tuple(ranges)

    def allows_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                       port: int) -> bool:
        """True when a grant names ``address`` itself (``"127.0.0.1:8080"``) or a range holding
        it (``"10.0.0.0/8:*"``) with ``port``. Names never count here: this is the question
        for addresses a name resolved to that lie in a deny-by-default range. ``address``
        should be canonical (IPv4-mapped IPv6 as IPv4, see ``addresses.canonical_ip``)."""
        if _port_ok(self._ips, str(address), port):
            return True
        if self._ranges:
            value, version = int(address), address.version
            for v, low, high, ports in self._ranges:
                if v == version and low <= value <= high and (ports is None or port in ports):
                    return True
        return False

    def __call__(self, target: object) -> bool:
        ep = _parse_target(_target_text(target))
        if ep is None:
            return False
        port = ep.port
        if ep.kind == "ip":
            if _port_ok(self._ips, ep.host, port):
                return True
            return bool(self._ranges) and port is not None and \
                self.allows_address(ipaddress.ip_address(ep.host), port)
        host = ep.host
        if _port_ok(self._names, host, port):
            return True
        if self._parents:
            # "*.example.com" is stored under "example.com"; try every proper parent of the
            # target, so the target itself ("example.com") and look-alikes never qualify.
            dot = host.find(".")
            while dot >= 0:
                if _port_ok(self._parents, host[dot + 1 :], port):
                    return True
                dot = host.find(".", dot + 1)
        return False


def _port_ok(table: dict[str, frozenset[int] | None], host: str, port: int | None) -> bool:
    if host not in table:
        return False
    ports = table[host]
    return ports is None or port in ports


# --- names: storage namespaces, component names -------------------------------------------------


#: Interface names add the version part: ``acme:billing/ledger@1.0.0``.
INTERFACE_CHARS = NAME_CHARS + "@+"
_INTERFACE_PATTERN_RE = re.compile(rf"[{INTERFACE_CHARS}*?]+")


def compile_interface_pattern(pattern: str) -> str:
    """A glob over interface names (``acme:billing/*``, ``acme:*/ledger@1.*``): the name glob
    syntax, where names may also hold ``@`` and ``+`` (the version)."""
    if not pattern or len(pattern) > MAX_NAME or pattern.count("*") > MAX_STARS:
        compile_name_pattern(pattern)  # the same empty/too-long errors as every name pattern
    if not _INTERFACE_PATTERN_RE.fullmatch(pattern) or "/" not in pattern and "*" not in pattern:
        raise PatternError(
            "bad-pattern",
            f"interface pattern {pattern!r}: write ns:package/interface[@version], with the "
            "globs '*' and '?' (e.g. \"acme:billing/*\")",
        )
    return "".join(
        f"[{INTERFACE_CHARS}]*" if c == "*" else f"[{INTERFACE_CHARS}]" if c == "?" else re.escape(c)
        for c in pattern
    )


def compile_name_pattern(pattern: str) -> str:
    """A name glob (``*`` any run of name characters, ``?`` one) as a regex fragment."""
    if not pattern:
        raise PatternError("empty-pattern", "an empty pattern grants nothing; remove it or write a name")
    if len(pattern) > MAX_NAME or pattern.count("*") > MAX_STARS:
        raise PatternError(
            "bad-pattern",
            f"name pattern {pattern[:40]!r}: at most {MAX_NAME} characters and {MAX_STARS} '*'",
        )
    if not _NAME_PATTERN_RE.fullmatch(pattern):
        raise PatternError(
            "bad-pattern",
            f"name pattern {pattern!r} may only use letters, digits, '.', '_', ':', '/', '-' "
            "and the globs '*', '?'",
        )
    return "".join(
        f"[{NAME_CHARS}]*" if c == "*" else f"[{NAME_CHARS}]" if c == "?" else re.escape(c) for c in pattern
    )


class NameMatcher:
    """Name globs of one kind (as fragments from ``compile_name_pattern``) in one anchored regex."""

    __slots__ = ("_match",)

    def __init__(self, fragments: Iterable[str]) -> None:
        fragments = tuple(fragments)
        self._match: Callable[[str], re.Match[str] | None] | None
        if fragments:
            self._match = re.compile("|".join(f"(?:{f})" for f in fragments)).fullmatch
        else:
            self._match = None

    def __call__(self, target: object) -> bool:
        if not isinstance(target, str):
            raise TypeError(f"a name target must be str, not {type(target).__name__}")
        return self._match is not None and len(target) <= MAX_NAME and self._match(target) is not None
