"""ext-storage ownership by identity: entries and their quota charge belong to the manifest's
``[component] name`` (or, without a manifest, the wasm's digest), not to the spawn name.
Real ``ext-store`` guests on real Hosts; persistence and migration with ``storage_dir``.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.host.ext_storage import DB_NAME, INTERFACE as STORAGE, SCHEMA_VERSION
from airssys_wasm.security import HostSecurity, MemoryAuditSink

from security_helpers import err, ok
from test_security_storage import EXHAUSTED, delete, get, keys, put, store_manifest, used
from airssys_wasm.benchmarks import guests

EXT_STORE = guests.path("ext-store")
QUOTA = "storage_bytes = 20"


def tenant(identity: str) -> str:
    """A storage manifest whose [component] name (the identity) is ``identity``."""
    return store_manifest(identity, quota=QUOTA)


async def test_a_reused_name_with_another_identity_owns_nothing(host: Host) -> None:
    await host.spawn("kv", EXT_STORE, manifest=tenant("tenant-a"))
    assert ok(await put(host, "kv", "app", "k", b"a" * 15)) == b""  # 16 bytes
    assert used(host, "kv") == 16
    await host.stop("kv")
    await host.spawn("kv", EXT_STORE, manifest=tenant("tenant-b"))
    assert host.storage.identity("kv") == "manifest:tenant-b"
    assert used(host, "kv") == 0  # not charged for tenant-a's bytes
    assert ok(await put(host, "kv", "app", "b", b"b" * 15)) == b""  # 16 of its own 20 fit
    # the namespace is shared (that is the grant), but a's entry is not b's: replacing it
    # costs b its full size (16 + 5 > 20), not the difference (which would free 11)
    assert err(await put(host, "kv", "app", "k", b"x" * 4))[0] == EXHAUSTED
    assert ok(await delete(host, "kv", "app", "b")) == b"\x01"
    assert used(host, "kv") == 0
    assert ok(await put(host, "kv", "app", "k", b"x" * 3)) == b""  # takes k over: 4 bytes
    assert used(host, "kv") == 4
    await host.stop("kv")
    # tenant-a comes back: it no longer owns k (tenant-b replaced it), so it holds nothing
    await host.spawn("kv", EXT_STORE, manifest=tenant("tenant-a"))
    assert used(host, "kv") == 0
    assert ok(await get(host, "kv", "app", "k")) == b"\x01xxx"


async def test_the_same_identity_keeps_its_data_and_charge_under_any_name(host: Host) -> None:
    await host.spawn("kv-1", EXT_STORE, manifest=tenant("tenant-a"))
    assert ok(await put(host, "kv-1", "app", "k", b"v" * 15)) == b""
    await host.stop("kv-1")
    await host.spawn("kv-2", EXT_STORE, manifest=tenant("tenant-a"))
    assert used(host, "kv-2") == 16
    assert err(await put(host, "kv-2", "app", "k2", b"v" * 5))[0] == EXHAUSTED
    assert ok(await put(host, "kv-2", "app", "k", b"v")) == b""  # its own entry: the difference
    assert used(host, "kv-2") == 2


async def test_an_identity_runs_once_per_host(host: Host) -> None:
    await host.spawn("x", EXT_STORE, manifest=tenant("tenant-a"))
    with pytest.raises(aw.ConfigError, match="already held by running component 'x'.*"
                                             r"own \[component\] name"):
        await host.spawn("y", EXT_STORE, manifest=tenant("tenant-a"))
    assert host.names() == ["x"] and host.security.policy.grant("y") is None
    assert ok(await put(host, "x", "app", "k", b"v")) == b""  # x keeps serving
    await host.stop("x")
    await host.spawn("y", EXT_STORE, manifest=tenant("tenant-a"))
    assert used(host, "y") == 2


async def test_an_overwrite_refunds_the_running_holder_of_the_identity(host: Host) -> None:
    await host.spawn("a", EXT_STORE, manifest=tenant("tenant-a"))
    await host.spawn("b", EXT_STORE, manifest=tenant("tenant-b"))
    assert ok(await put(host, "a", "app", "k", b"v" * 9)) == b""
    assert (used(host, "a"), used(host, "b")) == (10, 0)
    assert ok(await put(host, "b", "app", "k", b"w")) == b""
    assert (used(host, "a"), used(host, "b")) == (0, 2)


async def test_identities_persist_across_hosts(engine, tmp_path: Path) -> None:
    config = HostConfig(health=None, audit=MemoryAuditSink(), storage_dir=tmp_path)
    async with Host(config, engine=engine) as first:
        await first.spawn("kv", EXT_STORE, manifest=tenant("tenant-a"))
        assert ok(await put(first, "kv", "app", "k", b"v" * 9)) == b""
    async with Host(config, engine=engine) as second:
        await second.spawn("kv", EXT_STORE, manifest=tenant("tenant-b"))
        assert used(second, "kv") == 0
        assert ok(await put(second, "kv", "app", "b", b"w")) == b""
        await second.stop("kv")
        await second.spawn("kv", EXT_STORE, manifest=tenant("tenant-a"))
        assert used(second, "kv") == 10
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert sorted(db.execute("SELECT key, owner FROM entries")) == \
            [("b", "manifest:tenant-b"), ("k", "manifest:tenant-a")]


# The schema the previous release wrote (owner = spawn name, user_version 0), verbatim.
OLD_SCHEMA = ("CREATE TABLE IF NOT EXISTS entries (namespace TEXT NOT NULL, key TEXT NOT NULL, "
              "owner TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (namespace, key))")


async def test_an_old_database_migrates_and_its_names_are_claimed_once(engine,
                                                                      tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(OLD_SCHEMA)
    db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?)", [
        ("app", "k1", "kv", b"x" * 5), ("app", "k2", "kv", b"y" * 3), ("app", "o", "other", b"z")])
    db.commit()
    db.close()
    config = HostConfig(health=None, audit=MemoryAuditSink(), storage_dir=tmp_path)
    async with Host(config, engine=engine) as first:
        await first.spawn("kv", EXT_STORE, manifest=tenant("tenant-a"))
        assert used(first, "kv") == 7 + 5  # the first spawn under "kv" claimed kv's entries
        assert ok(await keys(first, "kv", "app")) == b"k1\nk2\no\n"
        assert ok(await get(first, "kv", "app", "k1")) == b"\x01xxxxx"
    with sqlite3.connect(tmp_path / DB_NAME) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert dict(check.execute("SELECT key, owner FROM entries")) == {
            "k1": "manifest:tenant-a", "k2": "manifest:tenant-a", "o": "legacy-name:other"}
    async with Host(config, engine=engine) as second:
        await second.spawn("kv", EXT_STORE, manifest=tenant("tenant-b"))
        assert used(second, "kv") == 0  # the claim was made once, by tenant-a
        await second.spawn("other", EXT_STORE, manifest=tenant("tenant-c"))
        assert used(second, "other") == 2


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(aw.ConfigError, match="newer than this airssys-wasm"):
        Host(HostConfig(storage_dir=tmp_path))


class StorageWithoutManifest:
    """A provider that grants ext-storage to trusted components without a manifest (the
    built-in ones never do): the case where the code digest is the identity."""

    def __init__(self) -> None:
        self.inner = HostSecurity.allow_all()
        self.check = self.inner.check
        self.check_resolved = self.inner.check_resolved
        self.performed = self.inner.performed

    def admit(self, name, manifest, *, trust, base_limits, wasi=False):  # type: ignore[no-untyped-def]
        admission = self.inner.admit(name, manifest, trust=trust, base_limits=base_limits,
                                     wasi=wasi)
        return dataclasses.replace(admission, extensions=admission.extensions | {STORAGE})

    def release(self, name: str) -> None:
        self.inner.release(name)


async def test_without_a_manifest_the_code_is_the_identity(engine) -> None:
    config = HostConfig(health=None, security=StorageWithoutManifest())
    async with Host(config, engine=engine) as host:
        await host.spawn("kv", EXT_STORE, trust="trusted")
        digest = host.load(EXT_STORE).digest
        assert host.storage.identity("kv") == f"code:{digest}"
        assert ok(await put(host, "kv", "app", "k", b"v")) == b""
        with pytest.raises(aw.ConfigError, match="already held"):  # same code, same identity
            await host.spawn("kv-2", EXT_STORE, trust="trusted")
        await host.stop("kv")
        await host.spawn("kv-2", EXT_STORE, trust="trusted")
        assert host.storage.identity("kv-2") == f"code:{digest}"
        assert ok(await get(host, "kv-2", "app", "k")) == b"\x01v"
