"""On-disk cache of compiled artifacts (``.cwasm``), so a restart or a new host skips Cranelift.

An entry is keyed by the SHA-256 of the wasm bytes, the wasmtime version and the engine's codegen
fingerprint (fuel and epoch instrumentation change the machine code), because wasmtime refuses -
or worse, mis-runs - artifacts from another version or configuration. Deserializing is unsafe
by nature (it maps machine code), so each entry carries a SHA-256 of its payload in a sidecar
file, checked before wasmtime sees the bytes; a corrupt, truncated or foreign entry is deleted
and rebuilt. Writes go to a temporary file and are renamed into place, so readers never see a
half-written entry. Anyone who can write to the cache directory can run code in this process:
keep it private to the service user.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

__all__ = ["ArtifactCache", "CacheStats"]

log = logging.getLogger("airssys_wasm.runtime.cache")

Kind = Literal["component", "core"]
T = TypeVar("T")


@dataclass(slots=True)
class CacheStats:
    """What a cache did since its engine started: ``hits`` (loaded compiled code from disk),
    ``misses`` (compiled and stored), ``rebuilt`` (an entry was damaged or foreign and was
    compiled again). Tests and operators read it to check the cache works."""

    hits: int = 0
    misses: int = 0
    rebuilt: int = 0


class ArtifactCache:
    """Compiled-artifact cache in ``directory`` for one (wasmtime version, engine config)."""

    def __init__(self, directory: str | os.PathLike[str], *, wasmtime_version: str,
                 config_fingerprint: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
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

    def get_or_build(self, kind: Kind, source_digest: str, *, compile: Callable[[], T],
                     serialize: Callable[[T], bytes], deserialize_file: Callable[[str], T]) -> T:
        """The cached artifact, or ``compile()`` it and store it."""
        payload, meta = self.paths(kind, source_digest)
        if payload.exists() or meta.exists():
            artifact = self._load(kind, source_digest, payload, meta, deserialize_file)
            if artifact is not None:
                self.stats.hits += 1
                return artifact
            self.stats.rebuilt += 1
            for path in (payload, meta):
                path.unlink(missing_ok=True)
        else:
            self.stats.misses += 1
        artifact = compile()
        self._store(kind, source_digest, payload, meta, serialize(artifact))
        return artifact

    def _load(self, kind: Kind, source_digest: str, payload: Path, meta: Path,
              deserialize_file: Callable[[str], T]) -> T | None:
        try:
            info = json.loads(meta.read_text())
            data = payload.read_bytes()
        except (OSError, ValueError) as exc:
            log.warning("cache entry %s unreadable (%s); rebuilding", payload.name, exc)
            return None
        expected = {"kind": kind, "source": source_digest, "wasmtime": self.wasmtime_version,
                    "config": self.config_fingerprint, "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()}
        if not isinstance(info, dict) or any(info.get(k) != v for k, v in expected.items()):
            log.warning("cache entry %s is corrupt or from another wasmtime/config; rebuilding",
                        payload.name)
            return None
        try:
            return deserialize_file(str(payload))
        except Exception as exc:  # wasmtime rejects it: treat exactly like corruption
            log.warning("wasmtime rejected cache entry %s (%s); rebuilding", payload.name, exc)
            return None

    def _store(self, kind: Kind, source_digest: str, payload: Path, meta: Path, data: bytes) -> None:
        info = {"kind": kind, "source": source_digest, "wasmtime": self.wasmtime_version,
                "config": self.config_fingerprint, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        try:
            self._atomic_write(payload, data)
            self._atomic_write(meta, json.dumps(info, sort_keys=True).encode())
        except OSError as exc:  # a read-only or full disk must not stop the component loading
            log.warning("could not write cache entry %s (%s); continuing uncached", payload.name, exc)

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
