"""On-disk cache of compiled artifacts (``.cwasm``), so a restart or a new host skips Cranelift.

An entry is keyed by the SHA-256 of the wasm bytes, the wasmtime version and the engine's codegen
fingerprint (fuel and epoch instrumentation change the machine code), because wasmtime refuses -
or worse, mis-runs - artifacts from another version or configuration. Writes go to a temporary
file and are renamed into place, so readers (other processes included) never see a half-written
entry. Anyone who can write to the cache directory can run code in this process, so the cache
refuses a directory that is not its user's alone (another owner, or group/other write), makes
new ones 0700, and rebuilds any entry file another user could have written.

Two costs would dominate a cached load of a big guest (an 18 MB componentize-py component has a
35 MB artifact) if every load paid them: hashing and reading the source, and hashing and reading
the artifact. Both are paid once per *file identity* instead - device, inode, size, mtime and
ctime, as ``git`` and ``ccache`` key their stat caches:

* a **source index** entry maps a source file's identity to the digest of its wasm bytes, so a
  load of an unchanged file opens it, ``fstat``s it and goes straight to the artifact; a file
  rewritten (in place or by rename), a path replaced by another file, a restored backup all
  change the identity and are read and hashed again;
* each artifact's sidecar records the SHA-256 of its payload *and* the payload file's identity
  when it was checked; while the identity is unchanged the payload is handed to wasmtime
  (``deserialize_file`` maps it) without reading it, any other identity (a copied cache, an
  edited or truncated payload) means a full SHA-256 check first.

Timestamps have a coarse granularity (a kernel tick; whole seconds on ext3 or HFS+, two
seconds on FAT), so a file written twice within one tick with the same size could keep its
identity. Like git's "racily clean" rule, an identity is only recorded once the file's last
change is at least ``racy_window_ns`` (2 s) old; until then it is hashed on every load. A corrupt, truncated or foreign entry is deleted and rebuilt; a damaged
index entry is ignored (the source is read and hashed instead).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from airssys_wasm._files import directory_not_private, not_private
from airssys_wasm.errors import ConfigError

__all__ = ["ArtifactCache", "CacheStats", "FileIdentity", "default_cache_dir"]

log = logging.getLogger("airssys_wasm.runtime.cache")

Kind = Literal["component", "core"]
T = TypeVar("T")

#: Environment variable naming the CLI's cache directory (empty: no cache).
CACHE_DIR_ENV = "AIRSSYS_WASM_CACHE_DIR"
_INDEX_FORMAT = "1"


def default_cache_dir() -> Path | None:
    """The compile cache the CLI uses (``inspect``, ``validate``, ``run``): ``$AIRSSYS_WASM_CACHE_DIR``
    if set (set it empty to disable caching), else ``$XDG_CACHE_HOME/airssys-wasm`` or
    ``~/.cache/airssys-wasm``. A library user chooses ``EngineConfig.cache_dir`` explicitly."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "airssys-wasm"


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What ``stat`` says about one version of a file. Equal identities mean the same bytes,
    unless the file changed within the timestamp granularity (see :meth:`settled`)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        """The identity of a ``stat``/``fstat`` result."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def settled(self, window_ns: int) -> bool:
        """True once the last change is ``window_ns`` in the past: a later rewrite will then
        move mtime/ctime, so the identity can stand for the content."""
        return time.time_ns() - max(self.mtime_ns, self.ctime_ns) >= window_ns

    def as_list(self) -> list[int]:
        """The JSON form stored in index entries and sidecars."""
        return list(astuple(self))


@dataclass(slots=True)
class CacheStats:
    """What a cache did since its engine started: ``hits`` (loaded compiled code from disk),
    ``misses`` (compiled and stored), ``rebuilt`` (an entry was damaged or foreign and was
    compiled again), ``indexed`` (a source file's digest came from the source index, so the
    file was not read), ``verified`` (an artifact's payload was read and hashed because its
    file identity was new). Tests and operators read it to check the cache works."""

    hits: int = 0
    misses: int = 0
    rebuilt: int = 0
    indexed: int = 0
    verified: int = 0


class ArtifactCache:
    """Compiled-artifact cache in ``directory`` for one (wasmtime version, engine config)."""

    #: How old a file's last change must be before its identity is recorded (see module doc).
    racy_window_ns: int = 2_000_000_000

    def __init__(self, directory: str | os.PathLike[str], *, wasmtime_version: str,
                 config_fingerprint: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(self.directory)
        self.wasmtime_version = wasmtime_version
        self.config_fingerprint = config_fingerprint
        self.stats = CacheStats()

    def key(self, kind: Kind, source_digest: str) -> str:
        """The entry name for ``source_digest``: it also hashes the wasmtime version and the engine
        settings, so code compiled by another version or configuration is never loaded."""
        material = "\0".join((kind, source_digest, self.wasmtime_version, self.config_fingerprint))
        return hashlib.sha256(material.encode()).hexdigest()[:48]

    def paths(self, kind: Kind, source_digest: str) -> tuple[Path, Path]:
        """The compiled code (``.cwasm``) and metadata (``.json``) files of one entry."""
        stem = self.directory / f"{kind}-{self.key(kind, source_digest)}"
        return stem.with_suffix(".cwasm"), stem.with_suffix(".json")

    # -- the source index ------------------------------------------------------------------

    def _index_path(self, identity: FileIdentity) -> Path:
        # The wasmtime version is in the key because WAT sources are converted by wasmtime.
        material = "\0".join([_INDEX_FORMAT, self.wasmtime_version,
                              *map(str, identity.as_list())])
        return self.directory / f"source-{hashlib.sha256(material.encode()).hexdigest()[:40]}.json"

    def lookup_source(self, identity: FileIdentity) -> tuple[Kind, str, int] | None:
        """``(kind, digest, wasm size)`` recorded for a source file with this identity, or None
        (never seen, or the entry is unreadable: the caller reads and hashes the file)."""
        path = self._index_path(identity)
        try:
            if not _owned(path):  # it could point the source at another artifact
                return None
            info = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or info.get("identity") != identity.as_list():
            return None
        kind, digest, size = info.get("kind"), info.get("source"), info.get("size")
        if kind not in ("component", "core") or not isinstance(digest, str) \
                or not isinstance(size, int):
            return None
        self.stats.indexed += 1
        return kind, digest, size

    def remember_source(self, identity: FileIdentity, kind: Kind, digest: str, size: int) -> bool:
        """Record that the file with ``identity`` holds wasm with ``digest`` (``size`` bytes).
        Refused (False) while the file is too fresh to trust its timestamps."""
        if not identity.settled(self.racy_window_ns):
            return False
        info = {"identity": identity.as_list(), "kind": kind, "source": digest, "size": size}
        return self._write_quietly(self._index_path(identity), info)

    # -- artifacts -------------------------------------------------------------------------

    def get(self, kind: Kind, source_digest: str, deserialize_file: Callable[[str], T]) -> T | None:
        """The cached artifact, or None when there is none (or it was damaged: then it is
        deleted and counted in ``rebuilt``)."""
        found, _ = self._fetch(kind, source_digest, deserialize_file)
        return found

    def get_or_build(self, kind: Kind, source_digest: str, *, compile: Callable[[], T],
                     serialize: Callable[[T], bytes], deserialize_file: Callable[[str], T]) -> T:
        """The cached artifact, or ``compile()`` it and store it."""
        artifact, existed = self._fetch(kind, source_digest, deserialize_file)
        if artifact is not None:
            return artifact
        if not existed:
            self.stats.misses += 1
        artifact = compile()
        self._store(kind, source_digest, serialize(artifact))
        return artifact

    def _fetch(self, kind: Kind, source_digest: str,
               deserialize_file: Callable[[str], T]) -> tuple[T | None, bool]:
        payload, meta = self.paths(kind, source_digest)
        if not (payload.exists() or meta.exists()):
            return None, False
        artifact = self._load(kind, source_digest, payload, meta, deserialize_file)
        if artifact is not None:
            self.stats.hits += 1
            return artifact, True
        self.stats.rebuilt += 1
        for path in (payload, meta):
            path.unlink(missing_ok=True)
        return None, True

    def _header(self, kind: Kind, source_digest: str) -> dict[str, Any]:
        return {"kind": kind, "source": source_digest, "wasmtime": self.wasmtime_version,
                "config": self.config_fingerprint}

    def _load(self, kind: Kind, source_digest: str, payload: Path, meta: Path,
              deserialize_file: Callable[[str], T]) -> T | None:
        try:
            if not (_owned(payload) and _owned(meta)):
                log.warning("cache entry %s is not this user's alone (another owner, or "
                            "writable by group/others); rebuilding", payload.name)
                return None
            info = json.loads(meta.read_bytes())
            identity = FileIdentity.of(os.stat(payload))
        except (OSError, ValueError) as exc:
            log.warning("cache entry %s unreadable (%s); rebuilding", payload.name, exc)
            return None
        expected = self._header(kind, source_digest)
        if not isinstance(info, dict) or any(info.get(k) != v for k, v in expected.items()) \
                or info.get("size") != identity.size:
            log.warning("cache entry %s is corrupt or from another wasmtime/config; rebuilding",
                        payload.name)
            return None
        if info.get("identity") != identity.as_list():  # new to us: check every byte once
            try:
                data = payload.read_bytes()
            except OSError as exc:
                log.warning("cache entry %s unreadable (%s); rebuilding", payload.name, exc)
                return None
            if len(data) != identity.size or hashlib.sha256(data).hexdigest() != info.get("sha256"):
                log.warning("cache entry %s does not match its checksum; rebuilding", payload.name)
                return None
            self.stats.verified += 1
            if identity.settled(self.racy_window_ns):
                self._write_quietly(meta, {**info, "identity": identity.as_list()})
        try:
            return deserialize_file(str(payload))
        except Exception as exc:  # wasmtime rejects it: treat exactly like corruption
            log.warning("wasmtime rejected cache entry %s (%s); rebuilding", payload.name, exc)
            return None

    def _store(self, kind: Kind, source_digest: str, data: bytes) -> None:
        payload, meta = self.paths(kind, source_digest)
        info = {**self._header(kind, source_digest), "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        try:
            self._atomic_write(payload, data)
        except OSError as exc:  # a read-only or full disk must not stop the component loading
            log.warning("could not write cache entry %s (%s); continuing uncached", payload.name, exc)
            return
        self._write_quietly(meta, info)

    def _write_quietly(self, path: Path, info: dict[str, Any]) -> bool:
        """Write a small JSON file atomically; False (logged) when the disk refuses."""
        try:
            self._atomic_write(path, json.dumps(info, sort_keys=True).encode())
            return True
        except OSError as exc:
            log.warning("could not write cache file %s (%s); continuing", path.name, exc)
            return False

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _owned(path: Path) -> bool:
    """Whether only this process's user can have written ``path``."""
    return not_private(os.stat(path)) is None


def _check_private(directory: Path) -> None:
    """ConfigError unless ``directory`` is a directory only this user can write: whoever can
    put a file in it runs native code in every process that uses the cache."""
    problem = directory_not_private(directory)
    if problem is not None:
        raise ConfigError(f"cache directory {str(directory)!r} {problem}: anyone who can write "
                          "to it can run code in this process; chmod 700 it (owned by this user) "
                          "or pick another EngineConfig.cache_dir")
