"""The cache's source index and payload identities: an unchanged file is neither read nor
hashed, and every way a file can change (rewritten in place, replaced, truncated, copied) is
noticed; damaged index entries and concurrent writers never break a load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import wasmtime

from airssys_wasm.errors import LoadError
from airssys_wasm.runtime import ComponentId, Engine, EngineConfig, HealthStatus, Limits
from airssys_wasm.runtime import loader
from airssys_wasm.runtime.cache import ArtifactCache, FileIdentity

from .conftest import example


def _core(health: int, pad: int = 0) -> bytes:
    """A core-ABI module whose ``health`` answers ``health``; the same size for every value
    below 64 (one LEB128 byte), so two versions can replace each other byte for byte."""
    return bytes(wasmtime.wat2wasm(f"""
      (module
        (memory (export "memory") 1)
        (func (export "alloc") (param i32) (result i32) (i32.const 1024))
        (func (export "handle") (param i32 i32 i32 i32) (result i32) (i32.const 0))
        (func (export "health") (result i32) (i32.const {health}))
        (data (i32.const 64) "{'x' * pad}"))"""))


def _engine(cache_dir: Path, window_ns: int = 0) -> Engine:
    eng = Engine(EngineConfig(cache_dir=cache_dir, epoch_interruption=False))
    assert eng.cache is not None
    eng.cache.racy_window_ns = window_ns  # 0: trust identities at once (files here are new)
    return eng


def _health(eng: Engine, path: Path) -> HealthStatus:
    inst = eng.load(path).instantiate(Limits(timeout_ms=None))
    try:
        result = inst.health()
        assert isinstance(result, HealthStatus)
        return result
    finally:
        inst.close()


def _rewrite_in_place(path: Path, data: bytes, keep_mtime: bool = True) -> None:
    """Overwrite ``path``'s bytes without a new inode, and put the old mtime back (as a copy
    tool preserving timestamps would): only ctime can tell the versions apart."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.write(data)
        fh.truncate()
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def test_unchanged_file_is_loaded_from_the_index_without_reading_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(0))
    first = _engine(tmp_path / "cache")
    assert _health(first, src) is HealthStatus.HEALTHY
    assert first.cache is not None and first.cache.stats.indexed == 0
    assert len(list((tmp_path / "cache").glob("source-*.json"))) == 1
    second = _engine(tmp_path / "cache")  # a new process, as far as the cache can tell

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the loader opened {args[0]}")

    monkeypatch.setattr(loader, "open_regular", refuse)
    artifact = second.load(src)
    monkeypatch.undo()
    with pytest.raises(AssertionError, match="opened"):  # the probe works: new files are read
        monkeypatch.setattr(loader, "open_regular", refuse)
        second.load(_copy(src, tmp_path / "new.wasm"))
    assert second.cache is not None
    # The source was not opened; the artifact, new to this cache, was checked once.
    assert (second.cache.stats.indexed, second.cache.stats.hits, second.cache.stats.verified) \
        == (1, 1, 1)
    assert artifact.name == "guest" and artifact.kind == "core"


def test_wat_source_is_indexed_too(tmp_path: Path) -> None:
    _engine(tmp_path).load(example("echo.wat"))
    again = _engine(tmp_path)
    inst = again.load(example("echo.wat")).instantiate(Limits(timeout_ms=None))
    inst.handle_message(ComponentId("t"), b"\x55hi")
    assert inst.execute(b"last") == b"\x55hi"
    assert again.cache is not None and again.cache.stats.indexed == 1


def test_a_fresh_file_is_hashed_until_its_timestamps_can_be_trusted(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(0))
    eng = _engine(tmp_path / "cache", window_ns=ArtifactCache.racy_window_ns)
    _health(eng, src)
    _health(eng, src)
    assert eng.cache is not None and eng.cache.stats.indexed == 0
    assert not list((tmp_path / "cache").glob("source-*.json"))
    identity = FileIdentity.of(src.stat())
    assert not identity.settled(ArtifactCache.racy_window_ns)
    assert identity.settled(0)


def test_rewritten_in_place_with_same_size_and_mtime_is_noticed(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    healthy, degraded = _core(0), _core(1)
    assert len(healthy) == len(degraded)
    src.write_bytes(healthy)
    assert _health(_engine(tmp_path / "cache"), src) is HealthStatus.HEALTHY
    before = src.stat()
    time.sleep(0.02)  # past the kernel's timestamp tick, so ctime moves
    _rewrite_in_place(src, degraded)
    after = src.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)
    eng = _engine(tmp_path / "cache")
    assert _health(eng, src) is HealthStatus.DEGRADED
    assert eng.cache is not None and eng.cache.stats.indexed == 0


def test_path_replaced_by_another_file_is_noticed(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(0))
    assert _health(_engine(tmp_path / "cache"), src) is HealthStatus.HEALTHY
    other = tmp_path / "other.wasm"
    other.write_bytes(_core(2))
    os.utime(other, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns))
    os.replace(other, src)
    assert _health(_engine(tmp_path / "cache"), src) is HealthStatus.UNHEALTHY


def test_source_turned_bad_after_indexing_is_a_load_error(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(0))
    _engine(tmp_path / "cache").load(src)
    time.sleep(0.02)
    _rewrite_in_place(src, b"\0asm\x01\0\0\0\xff\xff")
    with pytest.raises(LoadError, match="not a valid WebAssembly core module"):
        _engine(tmp_path / "cache").load(src)
    src.write_bytes(b"")
    with pytest.raises(LoadError, match="empty"):
        _engine(tmp_path / "cache").load(src)


@pytest.mark.parametrize("damage", ["garbage", "empty", "other-identity", "bad-kind",
                                    "missing-artifact"])
def test_damaged_index_entry_falls_back_to_reading(tmp_path: Path, damage: str) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(3))
    cache = tmp_path / "cache"
    _engine(cache).load(src)
    [entry] = cache.glob("source-*.json")
    info = json.loads(entry.read_text())
    if damage == "garbage":
        entry.write_text("{not json")
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "other-identity":
        info["identity"][1] += 1
        entry.write_text(json.dumps(info))
    elif damage == "bad-kind":
        info["kind"] = "elf"
        entry.write_text(json.dumps(info))
    else:
        for path in cache.glob("core-*"):
            path.unlink()
    eng = _engine(cache)
    assert _health(eng, src) is HealthStatus.UNKNOWN
    assert eng.cache is not None
    if damage == "missing-artifact":
        assert (eng.cache.stats.indexed, eng.cache.stats.misses) == (1, 1)
    else:
        assert (eng.cache.stats.indexed, eng.cache.stats.hits) == (0, 1)
    # The entry is whole again: the next load uses it.
    again = _engine(cache)
    again.load(src)
    assert again.cache is not None and again.cache.stats.indexed == 1


def test_payload_is_verified_once_per_file_identity(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(0, pad=40))
    cache = tmp_path / "cache"
    _engine(cache).load(src)  # compiled and stored
    first = _engine(cache)
    first.load(src)
    assert first.cache is not None and first.cache.stats.verified == 1  # a new payload: hashed
    second = _engine(cache)
    second.load(src)
    assert second.cache is not None and second.cache.stats.verified == 0  # identity recorded
    # A copied cache has new inodes: every payload is checked again, once.
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in cache.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    copied = _engine(copy)
    copied.load(src)
    assert copied.cache is not None
    assert (copied.cache.stats.hits, copied.cache.stats.verified) == (1, 1)


def test_payload_damaged_after_its_identity_was_recorded_is_rebuilt(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(1))
    cache = tmp_path / "cache"
    _engine(cache).load(src)
    _engine(cache).load(src)  # records the payload's identity
    [payload] = cache.glob("core-*.cwasm")
    assert "identity" in json.loads(payload.with_suffix(".json").read_text())
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0x10
    time.sleep(0.02)
    _rewrite_in_place(payload, bytes(data))
    eng = _engine(cache)
    assert _health(eng, src) is HealthStatus.DEGRADED
    assert eng.cache is not None and eng.cache.stats.rebuilt == 1


_CONCURRENT = """
import sys
from airssys_wasm.runtime import Engine, EngineConfig
engine = Engine(EngineConfig(cache_dir=sys.argv[1], epoch_interruption=False))
engine.cache.racy_window_ns = 0
for _ in range(3):
    engine.load(sys.argv[2])
print(engine.cache.stats.misses + engine.cache.stats.hits)
"""


def test_concurrent_processes_share_one_cache(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(2, pad=10))
    cache = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(cache), str(src)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert all(out.strip() == "3" for out, _ in outputs), outputs
    assert len(list(cache.glob("core-*.cwasm"))) == 1
    assert len(list(cache.glob("source-*.json"))) == 1
    assert not list(cache.glob(".tmp-*"))  # every write was renamed into place
    eng = _engine(cache)
    assert _health(eng, src) is HealthStatus.UNHEALTHY
    assert eng.cache is not None
    assert (eng.cache.stats.indexed, eng.cache.stats.hits, eng.cache.stats.verified) == (1, 1, 0)


def test_other_engine_config_uses_the_index_but_its_own_artifact(tmp_path: Path) -> None:
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(0))
    _engine(tmp_path).load(src)
    fuel = Engine(EngineConfig(cache_dir=tmp_path, epoch_interruption=False, consume_fuel=True))
    assert fuel.cache is not None
    fuel.cache.racy_window_ns = 0
    fuel.load(src)
    # The digest comes from the index, the code is compiled for this configuration.
    assert (fuel.cache.stats.indexed, fuel.cache.stats.misses, fuel.cache.stats.hits) == (1, 1, 0)
    assert len(list(tmp_path.glob("core-*.cwasm"))) == 2


def test_rewrite_within_the_timestamp_granularity_is_never_missed(tmp_path: Path) -> None:
    # Two same-size versions written back to back, likely within one timestamp tick, with the
    # mtime put back: their identities may be equal, so the fresh one must not be indexed.
    src = tmp_path / "guest.wasm"
    src.write_bytes(_core(0))
    eng = _engine(tmp_path / "cache", window_ns=ArtifactCache.racy_window_ns)
    assert _health(eng, src) is HealthStatus.HEALTHY
    _rewrite_in_place(src, _core(1))
    assert _health(eng, src) is HealthStatus.DEGRADED
    _rewrite_in_place(src, _core(0))
    assert _health(_engine(tmp_path / "cache", ArtifactCache.racy_window_ns), src) \
        is HealthStatus.HEALTHY
    assert eng.cache is not None and eng.cache.stats.indexed == 0
