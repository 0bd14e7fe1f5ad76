"""Host side of ``airssys:ext-storage/storage@1.0.0``: key-value storage in granted namespaces.

A namespace is shared: every component granted it (``[capabilities] storage.read/write``) sees
the same keys — that is what granting the same namespace to two components means. The bytes
are nevertheless charged to whoever wrote them: each entry remembers its owner, ``set``
charges the writer ``len(key) + len(value)`` (less what it replaces of its own), and
``delete`` or an overwrite by someone else hands the old entry's bytes back to its owner. All of
it goes through the one entry point ``security.check(component, "storage.write", namespace,
amount=...)``, so every charge and refund is decided by the quota counters and audited.

Entries belong to an *identity*, not to a spawn name. A spawn name is only the slot a
component runs in — anyone may spawn something else under it once it stopped — so owning by
name let a later, different component inherit the earlier one's entries and quota charge. The
identity (``Admission.identity``, decided at admission) is:

- ``"manifest:<[component] name>"`` for a component with a Component.toml. The version is left
  out on purpose, so an upgrade keeps its data; the name is what the manifest's author declares
  the component to be, and the operator who spawns it with that manifest vouches for the claim.
- ``"code:<sha256 of the wasm binary>"`` without a manifest (only possible where a provider
  grants storage without one, e.g. ``HostSecurity.allow_all()``): the code is the only identity
  there is, so the same binary keeps its data and any other binary starts with nothing.

An identity is held by at most one running component per host (:meth:`Storage.adopt` refuses a
second one): its charges and refunds then always land on that one component's quota. A
component spawned again — under any spawn name, after a stop or in a new host with
``storage_dir`` — re-adopts the bytes its identity owns; a different identity under a reused
name owns nothing and is charged nothing. Ownership decides accounting only: which components
may *read* a namespace is still its grants (a namespace is shared by everyone granted it).

Persistence is one sqlite3 database (stdlib; every change is one statement in its own
transaction, so a crash leaves either the old or the new entry). Reads are served from memory.
The database is its user's alone: a ``storage_dir`` another user owns or could write to is
refused (whoever replaces the database rewrites the data and who owns it), a new one is made
0700 and the database 0600.
Schema version 1 (``PRAGMA user_version``) stores the identity in ``entries.owner``. A version 0
database (written before identities, ``owner`` = the spawn name) is migrated when it is opened:
its owners become ``"legacy-name:<spawn name>"``, and the first component spawned under that
name afterwards claims them for its identity (persisted then) — the trust the old schema placed
in the name, used once; from then on the entries belong to that identity.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airssys_wasm._files import directory_not_private, not_private
from airssys_wasm.errors import ConfigError, QuotaExceeded
from airssys_wasm.host.deadlines import budget
from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
from airssys_wasm.host.policy import RESOURCE_EXHAUSTED, Decision, SecurityProvider
from airssys_wasm.runtime import HostServices

if TYPE_CHECKING:
    import sqlite3

__all__ = ["DB_NAME", "INTERFACE", "MAX_KEY_BYTES", "MAX_VALUE_BYTES", "SCHEMA_VERSION",
           "Storage"]

logger = logging.getLogger("airssys_wasm.host")

INTERFACE = "airssys:ext-storage/storage@1.0.0"
MAX_KEY_BYTES = 256
#: Largest value ``set`` accepts: list<u8> crosses the component ABI one value per byte.
MAX_VALUE_BYTES = 1 << 20
#: File name of the database inside ``HostConfig.storage_dir``.
DB_NAME = "storage.sqlite3"

_READ, _WRITE = "storage.read", "storage.write"
#: Longest wait for a database locked by another process when the call has no deadline.
_MAX_BUSY_MS = 5000
#: ``PRAGMA user_version`` of the database: 1 = ``owner`` is an identity (module docstring).
SCHEMA_VERSION = 1
#: Owner of an entry migrated from a version 0 database, until its spawn name claims it.
_LEGACY = "legacy-name:"
_CREATE = ("CREATE TABLE IF NOT EXISTS entries (namespace TEXT NOT NULL, key TEXT NOT NULL, "
           "owner TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (namespace, key))")


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


def _check_private(directory: Path) -> None:
    """ConfigError unless only this user can write ``directory``: whoever can replace the
    database rewrites every component's data and who owns (and is charged for) it. Readable
    by others is allowed but warned about: a new directory is made 0700."""
    problem = directory_not_private(directory)
    if problem is not None:
        raise ConfigError(f"HostConfig.storage_dir {str(directory)!r} {problem}: whoever can "
                          "write to it can rewrite the components' stored data; chmod 700 it "
                          "(owned by this user) or pick another storage_dir")
    mode = stat.S_IMODE(os.stat(directory).st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("storage_dir %s is readable by group or others (mode %#o): they can read "
                       "every component's stored data; chmod 700 it", directory, mode)


def _create_private(path: Path) -> None:
    """Make the database file 0600 if it is new (sqlite gives its journal the same mode), and
    refuse one another user could have written, or a symlink (``O_NOFOLLOW``: OSError)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    problem = "is not a regular file" if not stat.S_ISREG(st.st_mode) else not_private(st)
    if problem is not None:
        raise ConfigError(f"the storage database {str(path)!r} {problem}: its entries cannot be "
                          "trusted; remove it or pick another storage_dir")


class Storage:
    """The key-value store of one host: ``namespace -> key -> entry`` (value + owner)."""

    def __init__(self, security: SecurityProvider, directory: str | os.PathLike[str] | None = None
                 ) -> None:
        self._check = security.check
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, _Entry]] = {}
        #: Running components that adopted storage: spawn name -> identity, and back.
        self._identity: dict[str, str] = {}
        self._holder: dict[str, str] = {}
        self._db: sqlite3.Connection | None = None
        if directory is not None:
            self._open(Path(directory))

    def _open(self, directory: Path) -> None:
        import sqlite3  # here: a host without a storage_dir never loads sqlite

        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            _check_private(directory)
            _create_private(directory / DB_NAME)
            db = sqlite3.connect(directory / DB_NAME, isolation_level=None,
                                 check_same_thread=False)
            self._migrate(db, directory)
            rows = db.execute("SELECT namespace, key, owner, value FROM entries").fetchall()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"HostConfig.storage_dir {str(directory)!r} is not a usable storage "
                              f"database: {exc}; point it at a writable directory") from None
        for namespace, key, owner, value in rows:
            self._data.setdefault(namespace, {})[key] = _Entry(bytes(value), owner)
        self._db = db

    @staticmethod
    def _migrate(db: sqlite3.Connection, directory: Path) -> None:
        """Bring the database to :data:`SCHEMA_VERSION` in one transaction (a crash leaves the
        old schema, migrated again next time)."""
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise ConfigError(f"the storage database in {str(directory)!r} has schema version "
                              f"{version}, newer than this airssys-wasm understands "
                              f"({SCHEMA_VERSION}); upgrade airssys-wasm or use another storage_dir")
        db.execute("BEGIN IMMEDIATE")
        try:
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                                "'entries'").fetchone()
            if exists:  # version 0: owner was the spawn name
                db.execute("UPDATE entries SET owner = ? || owner", (_LEGACY,))
            else:
                db.execute(_CREATE)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _persist(self, sql: str, args: tuple[Any, ...]) -> str | None:
        """Run one change in its own transaction; the error text when it failed.

        A database another process holds locked is waited for at most four fifths of the time
        left to the guest's call deadline (sqlite's busy timeout, set per change), then the
        change fails: the guest gets a ``storage-error`` in time to answer, and the host never
        stalls.
        """
        if self._db is None:
            return None
        import sqlite3  # loaded by _open already

        # Four fifths of what is left: the error must reach the guest, and the guest finish,
        # before its deadline traps it (waiting the whole budget lost that race under load).
        wait_ms = int(budget() * 800)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {min(wait_ms, _MAX_BUSY_MS)}")
            self._db.execute(sql, args)  # autocommit: one statement, one atomic transaction
        except sqlite3.Error as exc:
            return str(exc)
        return None

    def _refund(self, owner: str, namespace: str, nbytes: int) -> None:
        """Hand ``nbytes`` back to the running component holding identity ``owner`` (none
        running: nobody is charged for them, and its next adopt counts what is left)."""
        holder = self._holder.get(owner)
        if nbytes and holder is not None:
            self._check(holder, _WRITE, namespace, amount=-nbytes)

    def identity(self, component: str) -> str | None:
        """The storage identity running component ``component`` adopted (None: not adopted)."""
        return self._identity.get(component)

    def adopt(self, component: str, identity: str) -> None:
        """Make ``component`` (being spawned) the holder of ``identity`` and charge it for the
        bytes that identity owns from an earlier spawn or host. Another running component
        holding the identity: ConfigError. Over its quota: QuotaExceeded. Either way the spawn
        is refused and nothing is registered. In a namespace it is no longer granted the bytes
        are not charged (it cannot reach them either). Entries migrated from a version 0
        database under the spawn name ``component`` are claimed for ``identity`` first."""
        if not isinstance(identity, str) or not identity:
            raise ConfigError(f"component {component!r} needs a non-empty storage identity")
        with self._lock:
            other = self._holder.get(identity)
            if other is not None and other != component:
                raise ConfigError(
                    f"storage identity {identity!r} is already held by running component "
                    f"{other!r}; an identity's entries and quota belong to one component at a "
                    f"time: stop {other!r} first, or give this one its own [component] name in "
                    "its Component.toml")
            self._claim_legacy(component, identity)
            held: dict[str, int] = {}
            for namespace, entries in self._data.items():
                for key, entry in entries.items():
                    if entry.owner == identity:
                        held[namespace] = held.get(namespace, 0) + _size(key, entry.value)
            for namespace, nbytes in sorted(held.items()):
                decision = self._check(component, _WRITE, namespace, amount=nbytes)
                if not decision.allowed and decision.error == RESOURCE_EXHAUSTED:
                    raise QuotaExceeded(
                        f"component {component!r} ({identity}) already holds {nbytes} bytes in "
                        f"storage namespace {namespace!r}, over its quota ({decision.reason}); "
                        "raise [quota] storage_bytes in its Component.toml or delete that data "
                        "first")
            self._identity[component] = identity
            self._holder[identity] = component

    def _claim_legacy(self, component: str, identity: str) -> None:
        """Give the version 0 entries written under spawn name ``component`` to ``identity``
        (persisted first: a failure refuses the spawn and changes nothing)."""
        legacy = _LEGACY + component
        claimed = [entry for entries in self._data.values() for entry in entries.values()
                   if entry.owner == legacy]
        if not claimed:
            return
        failed = self._persist("UPDATE entries SET owner = ? WHERE owner = ?", (identity, legacy))
        if failed is not None:
            raise ConfigError(f"could not record that {component!r} ({identity}) owns the "
                              f"entries it stored before the identity schema: {failed}; make the "
                              "storage_dir database writable and spawn it again")
        for entry in claimed:
            entry.owner = identity

    def release(self, component: str) -> None:
        """``component`` stopped for good (or its spawn failed): it no longer holds its
        identity. Its entries stay, charged to nobody until the identity is adopted again."""
        with self._lock:
            identity = self._identity.pop(component, None)
            if identity is not None and self._holder.get(identity) == component:
                del self._holder[identity]

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The interface's functions, each ``fn(services, *wit_args)`` (see ``define_imports``)."""
        check, lock, data, identities = self._check, self._lock, self._data, self._identity

        def owner(services: HostServices) -> str | GuestErr:
            me = identities.get(services.component.name)
            if me is None:  # the host adopts at spawn; only a bypassed spawn gets here
                return GuestErr("permission-denied", f"component {services.component.name!r} "
                                "has no storage identity (it was not admitted to storage at "
                                "spawn); spawn it through Host.spawn with a storage grant")
            return me

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
            me = owner(services)
            if isinstance(me, GuestErr):
                return me
            if self._db is not None:  # sqlite may wait on a lock: off the loop
                return blocking(f"storage set of {key!r}", stored, services.component.name, me,
                                namespace, key, value)
            return stored(services.component.name, me, namespace, key, value)

        def stored(name: str, me: str, namespace: str, key: str, value: bytes) -> GuestErr | None:
            """``name`` (holding identity ``me``) stores: charged to ``name``, owned by ``me``."""
            size = _size(key, value)
            with lock:
                old = data.get(namespace, {}).get(key)
                mine = old is not None and old.owner == me
                charge = size - _size(key, old.value) if mine and old is not None else size
                decision = check(name, _WRITE, namespace, amount=charge)
                if not decision.allowed:
                    return _denied(_WRITE, namespace, decision)
                failed = self._persist(
                    "INSERT OR REPLACE INTO entries (namespace, key, owner, value) "
                    "VALUES (?, ?, ?, ?)", (namespace, key, me, value))
                if failed is not None:
                    if charge:
                        check(name, _WRITE, namespace, amount=-charge)
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
            me = owner(services)
            if isinstance(me, GuestErr):
                return me
            if self._db is not None:
                return blocking(f"storage delete of {key!r}", deleted, services.component.name,
                                me, namespace, key)
            return deleted(services.component.name, me, namespace, key)

        def deleted(name: str, me: str, namespace: str, key: str) -> bool | GuestErr:
            with lock:
                entries = data.get(namespace)
                old = entries.get(key) if entries is not None else None
                mine = old is not None and old.owner == me
                freed = -_size(key, old.value) if mine and old is not None else None
                decision = check(name, _WRITE, namespace, amount=freed)
                if not decision.allowed:
                    return _denied(_WRITE, namespace, decision)
                if old is None or entries is None:
                    return False
                failed = self._persist("DELETE FROM entries WHERE namespace = ? AND key = ?",
                                       (namespace, key))
                if failed is not None:
                    if freed is not None:  # give the freed bytes back: the entry is still there
                        check(name, _WRITE, namespace, amount=-freed)
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
