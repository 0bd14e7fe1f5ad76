"""Host side of ``airssys:ext-storage/storage@1.0.0``: key-value storage in granted namespaces.

A namespace is shared: every component granted it (``[capabilities] storage.read/write``) sees
the same keys — that is what granting the same namespace to two components means. The bytes
are nevertheless charged to whoever wrote them: each entry remembers its owner, ``set``
charges the writer ``len(key) + len(value)`` (less what it replaces of its own), and
``delete`` or an overwrite by someone else hands the old entry's bytes back to its owner. All of
it goes through the one entry point ``security.check(component, "storage.write", namespace,
amount=...)``, so every charge and refund is decided by the quota counters and audited.

Because entries outlive an instance (and, with ``storage_dir``, the host), a component that is
spawned again re-adopts the bytes it still owns (:meth:`Storage.adopt`); otherwise stopping and
respawning would reset its quota while its data stayed.

Persistence is one sqlite3 database (stdlib; every change is one statement in its own
transaction, so a crash leaves either the old or the new entry). Reads are served from memory.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airssys_wasm.errors import ConfigError, QuotaExceeded
from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
from airssys_wasm.host.policy import RESOURCE_EXHAUSTED, Decision, SecurityProvider
from airssys_wasm.runtime import HostServices

__all__ = ["DB_NAME", "INTERFACE", "MAX_KEY_BYTES", "MAX_VALUE_BYTES", "Storage"]

INTERFACE = "airssys:ext-storage/storage@1.0.0"
MAX_KEY_BYTES = 256
#: Largest value ``set`` accepts: list<u8> crosses the component ABI one value per byte.
MAX_VALUE_BYTES = 1 << 20
#: File name of the database inside ``HostConfig.storage_dir``.
DB_NAME = "storage.sqlite3"

_READ, _WRITE = "storage.read", "storage.write"
#: Longest wait for a database locked by another process when the call has no deadline.
_MAX_BUSY_MS = 5000


class _Entry:
    __slots__ = ("owner", "value")

    def __init__(self, value: bytes, owner: str) -> None:
        self.value = value
        self.owner = owner


def _size(key: str, value: bytes) -> int:
    return len(key.encode()) + len(value)


def _key_error(key: object) -> GuestErr | None:
    if not isinstance(key, str) or not key:
        return GuestErr("invalid-key", "a key must be a non-empty string")
    n = len(key.encode())
    if n > MAX_KEY_BYTES:
        return GuestErr("invalid-key", f"a key is at most {MAX_KEY_BYTES} bytes of UTF-8, this one "
                                       f"is {n}; hash or shorten it")
    return None


def _denied(kind: str, namespace: str, decision: Decision) -> GuestErr:
    if decision.error == RESOURCE_EXHAUSTED:
        return GuestErr("resource-exhausted", f"{kind} {namespace!r}: {decision.reason}; delete "
                        "keys or raise [quota] storage_bytes in the component's Component.toml")
    return GuestErr("permission-denied", f"{kind} {namespace!r} denied: {decision.reason}; grant "
                    f"it in the component's Component.toml [capabilities] {kind}")


class Storage:
    """The key-value store of one host: ``namespace -> key -> entry`` (value + owner)."""

    def __init__(self, security: SecurityProvider, directory: str | os.PathLike[str] | None = None
                 ) -> None:
        self._check = security.check
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, _Entry]] = {}
        self._db: sqlite3.Connection | None = None
        if directory is not None:
            self._open(Path(directory))

    def _open(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(directory / DB_NAME, isolation_level=None,
                                 check_same_thread=False)
            db.execute("CREATE TABLE IF NOT EXISTS entries (namespace TEXT NOT NULL, key TEXT NOT "
                       "NULL, owner TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (namespace, "
                       "key))")
            rows = db.execute("SELECT namespace, key, owner, value FROM entries").fetchall()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"HostConfig.storage_dir {str(directory)!r} is not a usable storage "
                              f"database: {exc}; point it at a writable directory") from None
        for namespace, key, owner, value in rows:
            self._data.setdefault(namespace, {})[key] = _Entry(bytes(value), owner)
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _persist(self, sql: str, args: tuple[Any, ...]) -> str | None:
        """Run one change in its own transaction; the error text when it failed.

        A database another process holds locked is waited for at most until the guest's call
        deadline (sqlite's busy timeout, set per change), then the change fails: the guest gets
        a ``storage-error`` instead of the host stalling.
        """
        if self._db is None:
            return None
        wait_ms = int(budget() * 1000)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {min(wait_ms, _MAX_BUSY_MS)}")
            self._db.execute(sql, args)  # autocommit: one statement, one atomic transaction
        except sqlite3.Error as exc:
            return str(exc)
        return None

    def _refund(self, owner: str, namespace: str, nbytes: int) -> None:
        if nbytes:
            self._check(owner, _WRITE, namespace, amount=-nbytes)

    def adopt(self, component: str) -> None:
        """Charge ``component`` (being spawned) for the bytes it still owns from an earlier
        incarnation or host. Over its quota: QuotaExceeded, the spawn is refused. In a namespace
        it is no longer granted the bytes are not charged (it cannot reach them either)."""
        with self._lock:
            held: dict[str, int] = {}
            for namespace, entries in self._data.items():
                for key, entry in entries.items():
                    if entry.owner == component:
                        held[namespace] = held.get(namespace, 0) + _size(key, entry.value)
            for namespace, nbytes in sorted(held.items()):
                decision = self._check(component, _WRITE, namespace, amount=nbytes)
                if not decision.allowed and decision.error == RESOURCE_EXHAUSTED:
                    raise QuotaExceeded(
                        f"component {component!r} already holds {nbytes} bytes in storage "
                        f"namespace {namespace!r}, over its quota ({decision.reason}); raise "
                        "[quota] storage_bytes in its Component.toml or delete that data first")

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The interface's functions, each ``fn(services, *wit_args)`` (see ``define_imports``)."""
        check, lock, data = self._check, self._lock, self._data

        def get(services: HostServices, namespace: str, key: str) -> bytes | None | GuestErr:
            error = _key_error(key)
            if error is not None:
                return error
            decision = check(services.component.name, _READ, namespace)
            if not decision.allowed:
                return _denied(_READ, namespace, decision)
            entry = data.get(namespace, {}).get(key)
            return None if entry is None else entry.value

        def set_(services: HostServices, namespace: str, key: str, value: bytes) -> Any:
            error = _key_error(key)
            if error is not None:
                return error
            value = bytes(value)
            if len(value) > MAX_VALUE_BYTES:
                return GuestErr("resource-exhausted", f"a value is at most {MAX_VALUE_BYTES} bytes, "
                                                      f"this one is {len(value)}; split it")
            if self._db is not None:  # sqlite may wait on a lock: off the loop
                return blocking(f"storage set of {key!r}", stored, services.component.name,
                                namespace, key, value)
            return stored(services.component.name, namespace, key, value)

        def stored(me: str, namespace: str, key: str, value: bytes) -> GuestErr | None:
            size = _size(key, value)
            with lock:
                old = data.get(namespace, {}).get(key)
                mine = old is not None and old.owner == me
                charge = size - _size(key, old.value) if mine and old is not None else size
                decision = check(me, _WRITE, namespace, amount=charge)
                if not decision.allowed:
                    return _denied(_WRITE, namespace, decision)
                failed = self._persist(
                    "INSERT OR REPLACE INTO entries (namespace, key, owner, value) "
                    "VALUES (?, ?, ?, ?)", (namespace, key, me, value))
                if failed is not None:
                    self._refund(me, namespace, charge)
                    return GuestErr("io-error", f"could not store {key!r}: {failed}; try again "
                                    "later")
                data.setdefault(namespace, {})[key] = _Entry(value, me)
                if old is not None and not mine:
                    self._refund(old.owner, namespace, _size(key, old.value))
            return None

        def delete(services: HostServices, namespace: str, key: str) -> Any:
            error = _key_error(key)
            if error is not None:
                return error
            if self._db is not None:
                return blocking(f"storage delete of {key!r}", deleted, services.component.name,
                                namespace, key)
            return deleted(services.component.name, namespace, key)

        def deleted(me: str, namespace: str, key: str) -> bool | GuestErr:
            with lock:
                entries = data.get(namespace)
                old = entries.get(key) if entries is not None else None
                mine = old is not None and old.owner == me
                freed = -_size(key, old.value) if mine and old is not None else None
                decision = check(me, _WRITE, namespace, amount=freed)
                if not decision.allowed:
                    return _denied(_WRITE, namespace, decision)
                if old is None or entries is None:
                    return False
                failed = self._persist("DELETE FROM entries WHERE namespace = ? AND key = ?",
                                       (namespace, key))
                if failed is not None:
                    if freed is not None:  # give the freed bytes back: the entry is still there
                        check(me, _WRITE, namespace, amount=-freed)
                    return GuestErr("io-error", f"could not delete {key!r}: {failed}")
                del entries[key]
                if not entries:
                    del data[namespace]
                if not mine:
                    self._refund(old.owner, namespace, _size(key, old.value))
            return True

        def list_keys(services: HostServices, namespace: str) -> list[str] | GuestErr:
            decision = check(services.component.name, _READ, namespace)
            if not decision.allowed:
                return _denied(_READ, namespace, decision)
            # No lock (a writer may hold it while sqlite waits): list() of a dict is atomic.
            return sorted(list(data.get(namespace, {})))

        return {"get": wit_result(get), "set": suspending(wit_result(set_)),
                "delete": suspending(wit_result(delete)), "list-keys": wit_result(list_keys)}
