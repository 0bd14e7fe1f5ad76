"""ext-storage end to end: the ``ext-store`` guest calls ``airssys:ext-storage`` on a real Host.

Grants are namespaces (``[capabilities.storage] read/write``), namespaces are shared between the
components granted them, and stored bytes count against the writer's ``[quota] storage_bytes``.
"""

from __future__ import annotations

import logging
import os
import stat
import struct
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.errors import QuotaExceeded
from airssys_wasm.host.ext_storage import DB_NAME, MAX_KEY_BYTES
from airssys_wasm.security import MemoryAuditSink

from security_helpers import denials, err, manifest, ok
from airssys_wasm.benchmarks import guests

EXT_STORE = guests.path("ext-store")
DENIED, EXHAUSTED, INVALID_KEY = 0, 1, 2  # storage-error case indices (ext-storage.wit)


def store_manifest(name: str, read: str = '["app"]', write: str | None = '["app"]',
                   quota: str = "") -> str:
    grants = f"[capabilities.storage]\nread = {read}\n" + (f"write = {write}\n" if write else "")
    return manifest(name, grants, quota)


def at(namespace: str, key: str) -> bytes:
    raw = key.encode()
    return bytes([len(namespace)]) + namespace.encode() + struct.pack("<H", len(raw)) + raw


async def put(host: Host, who: str, namespace: str, key: str, value: bytes) -> bytes:
    return await host.request(who, b"s" + at(namespace, key) + value)


async def get(host: Host, who: str, namespace: str, key: str) -> bytes:
    return await host.request(who, b"g" + at(namespace, key))


async def delete(host: Host, who: str, namespace: str, key: str) -> bytes:
    return await host.request(who, b"d" + at(namespace, key))


async def keys(host: Host, who: str, namespace: str) -> bytes:
    return await host.request(who, b"l" + bytes([len(namespace)]) + namespace.encode())


def used(host: Host, name: str) -> int:
    return host.security.policy.grant(name).quota.storage_used


async def test_set_get_list_delete_round_trip(host) -> None:
    await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv"))
    assert ok(await get(host, "kv", "app", "missing")) == b"\x00"  # none
    assert ok(await put(host, "kv", "app", "b", b"two")) == b""
    assert ok(await put(host, "kv", "app", "a", b"\x00one\xff")) == b""
    assert ok(await get(host, "kv", "app", "a")) == b"\x01\x00one\xff"  # some(value), binary-safe
    assert ok(await keys(host, "kv", "app")) == b"a\nb\n"
    assert ok(await put(host, "kv", "app", "a", b"")) == b""  # empty value is a value, not none
    assert ok(await get(host, "kv", "app", "a")) == b"\x01"
    assert ok(await delete(host, "kv", "app", "a")) == b"\x01"
    assert ok(await delete(host, "kv", "app", "a")) == b"\x00"  # already gone
    assert ok(await keys(host, "kv", "app")) == b"b\n"
    assert used(host, "kv") == len("b") + len("two")


async def test_ungranted_namespace_is_denied_and_audited(host, audit) -> None:
    await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv"))
    for reply in (await put(host, "kv", "other", "k", b"v"), await get(host, "kv", "other", "k"),
                  await delete(host, "kv", "other", "k"), await keys(host, "kv", "other"),
                  await put(host, "kv", "app2", "k", b"v")):  # no prefix matching of namespaces
        case, text = err(reply)
        assert case == DENIED and "Component.toml" in text
    assert [r.target for r in denials(audit, "storage.write")] == ["other", "other", "app2"]
    assert [r.target for r in denials(audit, "storage.read")] == ["other", "other"]
    assert all(r.component == "kv" for r in audit.records if r.kind.startswith("storage."))


async def test_read_only_grant_cannot_write_or_delete(host, audit) -> None:
    await host.spawn("writer", EXT_STORE, manifest=store_manifest("writer"))
    await host.spawn("reader", EXT_STORE, manifest=store_manifest("reader", write=None))
    assert ok(await put(host, "writer", "app", "k", b"v")) == b""
    assert ok(await get(host, "reader", "app", "k")) == b"\x01v"
    assert err(await put(host, "reader", "app", "k", b"mine"))[0] == DENIED
    assert err(await delete(host, "reader", "app", "k"))[0] == DENIED
    assert ok(await get(host, "writer", "app", "k")) == b"\x01v"
    assert [r.component for r in denials(audit, "storage.write")] == ["reader", "reader"]


async def test_write_only_grant_links_the_interface_but_cannot_read(host) -> None:
    await host.spawn("w", EXT_STORE, manifest=manifest(
        "w", '[capabilities.storage]\nwrite = ["app"]'))
    assert ok(await put(host, "w", "app", "k", b"v")) == b""
    assert err(await get(host, "w", "app", "k"))[0] == DENIED
    assert err(await keys(host, "w", "app"))[0] == DENIED


async def test_components_granted_one_namespace_share_it(host) -> None:
    await host.spawn("a", EXT_STORE, manifest=store_manifest("a", '["shared", "a-*"]',
                                                             '["shared", "a-*"]'))
    await host.spawn("b", EXT_STORE, manifest=store_manifest("b", '["shared"]', '["shared"]'))
    assert ok(await put(host, "a", "shared", "from-a", b"1")) == b""
    assert ok(await put(host, "b", "shared", "from-b", b"22")) == b""
    assert ok(await put(host, "a", "a-private", "k", b"x")) == b""
    assert ok(await get(host, "b", "shared", "from-a")) == b"\x011"
    assert ok(await get(host, "a", "shared", "from-b")) == b"\x0122"
    assert ok(await keys(host, "b", "shared")) == b"from-a\nfrom-b\n"
    assert err(await get(host, "b", "a-private", "k"))[0] == DENIED
    # each pays for what it wrote; b overwriting a's entry moves the charge from a to b
    assert (used(host, "a"), used(host, "b")) == (7 + 2, 8)
    assert ok(await put(host, "b", "shared", "from-a", b"333")) == b""
    assert (used(host, "a"), used(host, "b")) == (2, 8 + 9)
    assert ok(await delete(host, "a", "shared", "from-b")) == b"\x01"  # a deletes: b is refunded
    assert (used(host, "a"), used(host, "b")) == (2, 9)


async def test_storage_quota_is_enforced_and_freed(host, audit) -> None:
    # Trusted, with a 2 MiB max_message: the oversized value below must reach the host.
    await host.spawn("kv", EXT_STORE, trust="trusted", manifest=store_manifest(
        "kv", quota="storage_bytes = 20") + '\n[limits]\nmax_message = "2MiB"\n')
    assert ok(await put(host, "kv", "app", "k1", b"x" * 10)) == b""   # 12 bytes
    case, text = err(await put(host, "kv", "app", "k2", b"y" * 7))   # 12 + 9 > 20
    assert case == EXHAUSTED and "storage_bytes" in text
    assert ok(await get(host, "kv", "app", "k2")) == b"\x00"  # nothing stored
    [line] = denials(audit, "storage.write")
    assert line.component == "kv" and line.target == "app" and "quota" in line.reason
    # overwriting with a smaller value frees the difference
    assert ok(await put(host, "kv", "app", "k1", b"x" * 2)) == b""   # 4 bytes
    assert used(host, "kv") == 4
    assert ok(await put(host, "kv", "app", "k2", b"y" * 7)) == b""   # 4 + 9 = 13
    assert err(await put(host, "kv", "app", "k3", b"z" * 6))[0] == EXHAUSTED  # 13 + 8 > 20
    assert ok(await delete(host, "kv", "app", "k2")) == b"\x01"
    assert ok(await put(host, "kv", "app", "k3", b"z" * 6)) == b""   # 4 + 8 = 12
    assert used(host, "kv") == 12
    # a single value over the per-host limit is refused before anything is charged
    case, text = err(await put(host, "kv", "app", "big", b"b" * ((1 << 20) + 1)))
    assert case == EXHAUSTED and "at most" in text
    assert used(host, "kv") == 12


async def test_storage_quota_survives_a_restart_and_a_respawn(host) -> None:
    await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv", quota="storage_bytes = 20"))
    assert ok(await put(host, "kv", "app", "k", b"v" * 15)) == b""   # 16 bytes
    with pytest.raises(aw.TrapError):
        await host.request("kv", b"?")  # unknown command: unreachable, the actor restarts
    assert used(host, "kv") == 16   # counters live until the component is unregistered
    assert err(await put(host, "kv", "app", "k2", b"v" * 5))[0] == EXHAUSTED
    assert host.ref("kv").stats.restarts == 1  # that answer came from the new instance
    # stopping unregisters the grant; the data stays and is charged again when it comes back
    await host.stop("kv")
    await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv", quota="storage_bytes = 20"))
    assert used(host, "kv") == 16
    assert err(await put(host, "kv", "app", "k2", b"v" * 5))[0] == EXHAUSTED
    await host.stop("kv")
    with pytest.raises(QuotaExceeded, match="already holds 16 bytes"):
        await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv", quota="storage_bytes = 10"))
    assert host.names() == [] and host.security.policy.grant("kv") is None


async def test_storage_persists_across_hosts(engine, tmp_path: Path) -> None:
    config = HostConfig(health=None, audit=MemoryAuditSink(), storage_dir=tmp_path / "store")
    quota = "storage_bytes = 100"
    async with Host(config, engine=engine) as first:
        await first.spawn("kv", EXT_STORE, manifest=store_manifest("kv", quota=quota))
        assert ok(await put(first, "kv", "app", "k", b"kept")) == b""
        assert ok(await put(first, "kv", "app", "gone", b"x")) == b""
        assert ok(await put(first, "kv", "app", "k", b"kept!")) == b""  # overwrite persisted
        assert ok(await delete(first, "kv", "app", "gone")) == b"\x01"  # delete persisted
    assert (tmp_path / "store" / DB_NAME).is_file()
    async with Host(config, engine=engine) as second:
        await second.spawn("kv", EXT_STORE, manifest=store_manifest("kv", quota=quota))
        assert ok(await get(second, "kv", "app", "k")) == b"\x01kept!"
        assert ok(await keys(second, "kv", "app")) == b"k\n"
        assert used(second, "kv") == 1 + 5  # the new host charged what kv still holds
    async with Host(HostConfig(health=None, audit=MemoryAuditSink()), engine=engine) as memory:
        await memory.spawn("kv", EXT_STORE, manifest=store_manifest("kv", quota=quota))
        assert ok(await get(memory, "kv", "app", "k")) == b"\x00"  # default store: in memory


async def test_invalid_keys_are_refused(host, audit) -> None:
    await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv"))
    too_long = "é" * (MAX_KEY_BYTES // 2 + 1)  # 129 characters, 258 bytes of UTF-8
    for reply in (await put(host, "kv", "app", "", b"v"), await get(host, "kv", "app", ""),
                  await delete(host, "kv", "app", ""), await put(host, "kv", "app", too_long, b"v")):
        assert err(reply)[0] == INVALID_KEY
    assert "256 bytes" in err(await get(host, "kv", "app", too_long))[1]
    longest = "k" * MAX_KEY_BYTES
    assert ok(await put(host, "kv", "app", longest, b"v")) == b""
    assert ok(await get(host, "kv", "app", longest)) == b"\x01v"
    assert used(host, "kv") == MAX_KEY_BYTES + 1


async def test_storage_import_needs_a_storage_grant(host) -> None:
    for bad in (None, manifest("kv", '[capabilities.network]\nconnect = ["127.0.0.1:1"]')):
        with pytest.raises(aw.PermissionDenied) as refused:
            await host.spawn("kv", EXT_STORE, manifest=bad)
        message = str(refused.value)
        assert "airssys:ext-storage/storage@1.0.0" in message and "storage.read" in message
    assert host.names() == []


def test_storage_dir_must_be_a_path() -> None:
    with pytest.raises(aw.ConfigError, match="storage_dir"):
        HostConfig(storage_dir=42)  # type: ignore[arg-type]


# --- who else can reach the database ------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_a_new_storage_dir_and_its_database_are_this_users_alone(engine, tmp_path) -> None:
    store = tmp_path / "fresh" / "store"
    config = HostConfig(health=None, audit=MemoryAuditSink(), storage_dir=store)
    async with Host(config, engine=engine) as host:
        await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv"))
        assert ok(await put(host, "kv", "app", "k", b"secret")) == b""
    assert mode(store) == 0o700 and mode(store / DB_NAME) == 0o600
    assert sorted(p.name for p in store.iterdir()) == [DB_NAME]  # no journal left behind


@pytest.mark.parametrize("bits", [0o770, 0o707, 0o777], ids=["group", "others", "both"])
def test_a_storage_dir_others_can_write_to_is_refused(tmp_path, bits) -> None:
    store = tmp_path / "store"
    store.mkdir()
    store.chmod(bits)
    with pytest.raises(aw.ConfigError, match="writable by group or others.*chmod 700"):
        Host(HostConfig(storage_dir=store))
    assert not (store / DB_NAME).exists()  # refused before anything was created in it


def test_a_database_others_could_have_written_or_a_symlink_is_refused(tmp_path) -> None:
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    db = store / DB_NAME
    db.write_bytes(b"")
    db.chmod(0o666)
    with pytest.raises(aw.ConfigError, match="storage database .* writable by group or others"):
        Host(HostConfig(storage_dir=store))
    db.unlink()
    elsewhere = tmp_path / "elsewhere.sqlite3"
    db.symlink_to(elsewhere)  # a link the operator (or anyone before the chmod) left there
    with pytest.raises(aw.ConfigError, match="not a usable storage database"):
        Host(HostConfig(storage_dir=store))
    assert not elsewhere.exists()  # the link was not followed


@pytest.mark.skipif(os.geteuid() != 0, reason="making a directory another user's takes root")
def test_a_storage_dir_or_database_of_another_user_is_refused(tmp_path) -> None:
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    os.chown(store, 4242, 4242)
    with pytest.raises(aw.ConfigError, match="owned by uid 4242"):
        Host(HostConfig(storage_dir=store))
    os.chown(store, 0, 0)
    (store / DB_NAME).write_bytes(b"")
    os.chown(store / DB_NAME, 4242, 4242)
    with pytest.raises(aw.ConfigError, match="storage database .* owned by uid 4242"):
        Host(HostConfig(storage_dir=store))


async def test_a_storage_dir_others_can_read_works_with_a_warning(engine, tmp_path,
                                                                   caplog) -> None:
    store = tmp_path / "store"
    store.mkdir(mode=0o755)
    store.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="airssys_wasm.host"):
        async with Host(HostConfig(health=None, storage_dir=store), engine=engine) as host:
            await host.spawn("kv", EXT_STORE, manifest=store_manifest("kv"))
            assert ok(await put(host, "kv", "app", "k", b"v")) == b""
    assert any("readable by group or others (mode 0o755)" in r.getMessage()
               for r in caplog.records)
    assert mode(store / DB_NAME) == 0o600  # the database itself is still private
