"""Compiled-artifact cache: miss, hit, corruption, foreign version and config changes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from airssys_wasm.errors import ConfigError
from airssys_wasm.runtime import ArtifactCache, ComponentId, Engine, EngineConfig, Limits

from .conftest import example

SENDER = ComponentId("tester")


def _engine(cache_dir: Path, **config) -> Engine:
    return Engine(EngineConfig(cache_dir=cache_dir, epoch_interruption=False, **config))


def _works(artifact) -> None:
    inst = artifact.instantiate(Limits(timeout_ms=None))  # these engines have no epoch ticker
    inst.handle_message(SENDER, b"\x55hello")
    if artifact.has("execute"):
        assert inst.execute(b"last") == b"\x55hello"


def _entries(cache_dir: Path, suffix: str) -> list[Path]:
    return sorted(cache_dir.glob(f"*{suffix}"))


@pytest.mark.parametrize("name", ["echo.wat", "core_actor.wat"])
def test_miss_then_hit(tmp_path: Path, name: str) -> None:
    first = _engine(tmp_path)
    _works(first.load(example(name)))
    assert (first.cache.stats.misses, first.cache.stats.hits) == (1, 0)
    assert len(_entries(tmp_path, ".cwasm")) == 1
    # A new engine (as after a process restart) loads from disk without compiling.
    second = _engine(tmp_path)
    artifact = second.load(example(name))
    assert (second.cache.stats.misses, second.cache.stats.hits) == (0, 1)
    _works(artifact)


def test_hit_from_same_engine(tmp_path: Path) -> None:
    eng = _engine(tmp_path)
    eng.load(example("echo.wat"))
    eng.load(example("echo.wat"))
    assert (eng.cache.stats.misses, eng.cache.stats.hits) == (1, 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage-meta", "missing-meta",
                                    "wrong-size"])
def test_corruption_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    _engine(tmp_path).load(example("echo.wat"))
    [payload] = _entries(tmp_path, ".cwasm")
    meta = payload.with_suffix(".json")
    data = bytearray(payload.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
        payload.write_bytes(bytes(data))
    elif damage == "truncate":
        payload.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "empty":
        payload.write_bytes(b"")
    elif damage == "garbage-meta":
        meta.write_text("{not json")
    elif damage == "missing-meta":
        meta.unlink()
    elif damage == "wrong-size":
        info = json.loads(meta.read_text())
        info["size"] += 1
        meta.write_text(json.dumps(info))
    eng = _engine(tmp_path)
    artifact = eng.load(example("echo.wat"))
    assert eng.cache.stats.rebuilt == 1
    assert eng.cache.stats.hits == 0
    _works(artifact)
    # The rebuilt entry is good again.
    again = _engine(tmp_path)
    again.load(example("echo.wat"))
    assert again.cache.stats.hits == 1


def test_valid_checksum_but_invalid_artifact_is_rebuilt(tmp_path: Path) -> None:
    # Someone rewrote payload and checksum consistently with junk: wasmtime must reject it and
    # the cache must rebuild rather than fail the load.
    import hashlib

    _engine(tmp_path).load(example("echo.wat"))
    [payload] = _entries(tmp_path, ".cwasm")
    meta = payload.with_suffix(".json")
    junk = b"\x7fELF" + b"\0" * 4000
    payload.write_bytes(junk)
    info = json.loads(meta.read_text())
    info.update(size=len(junk), sha256=hashlib.sha256(junk).hexdigest())
    meta.write_text(json.dumps(info))
    eng = _engine(tmp_path)
    _works(eng.load(example("echo.wat")))
    assert eng.cache.stats.rebuilt == 1


def test_wasmtime_version_is_part_of_the_key(tmp_path: Path) -> None:
    real = ArtifactCache(tmp_path, wasmtime_version="50.0.1", config_fingerprint="cfg")
    other = ArtifactCache(tmp_path, wasmtime_version="51.0.0", config_fingerprint="cfg")
    assert real.paths("component", "abc") != other.paths("component", "abc")


def test_entry_from_another_wasmtime_version_is_rebuilt(tmp_path: Path) -> None:
    eng = _engine(tmp_path)
    eng.load(example("echo.wat"))
    [payload] = _entries(tmp_path, ".cwasm")
    meta = payload.with_suffix(".json")
    info = json.loads(meta.read_text())
    info["wasmtime"] = "49.0.0"  # as if an older wasmtime had written this entry
    meta.write_text(json.dumps(info))
    again = _engine(tmp_path)
    _works(again.load(example("echo.wat")))
    assert again.cache.stats.rebuilt == 1
    assert json.loads(meta.read_text())["wasmtime"] == again.wasmtime_version


def test_version_change_misses(tmp_path: Path) -> None:
    eng = _engine(tmp_path)
    eng.load(example("echo.wat"))
    # Same directory, same config, pretend a different wasmtime: a separate key, so a miss.
    eng.cache = ArtifactCache(tmp_path, wasmtime_version="99.0.0",
                              config_fingerprint=eng.config.fingerprint())
    _works(eng.load(example("echo.wat")))
    assert (eng.cache.stats.misses, eng.cache.stats.hits) == (1, 0)
    assert len(_entries(tmp_path, ".cwasm")) == 2


def test_engine_config_is_part_of_the_key(tmp_path: Path) -> None:
    _engine(tmp_path).load(example("echo.wat"))
    fuel = _engine(tmp_path, consume_fuel=True)
    _works(fuel.load(example("echo.wat")))
    assert (fuel.cache.stats.misses, fuel.cache.stats.hits) == (1, 0)
    opt = _engine(tmp_path, opt_level="none")
    opt.load(example("echo.wat"))
    assert opt.cache.stats.misses == 1
    assert len(_entries(tmp_path, ".cwasm")) == 3
    # Settings that do not change code do not change the key.
    tick = Engine(EngineConfig(cache_dir=tmp_path, epoch_interruption=False, time_slice_us=1000))
    tick.load(example("echo.wat"))
    assert tick.cache.stats.hits == 1


def test_different_content_different_entry(tmp_path: Path) -> None:
    eng = _engine(tmp_path)
    eng.load(example("echo.wat"))
    eng.load(example("minimal.wat"))
    assert eng.cache.stats.misses == 2
    assert len(list(tmp_path.glob("component-*.json"))) == 2


def test_unwritable_cache_does_not_break_loading(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    eng = _engine(cache_dir)
    cache_dir.rmdir()
    cache_dir.write_text("a file where the cache directory was")  # every write now fails
    _works(eng.load(example("minimal.wat")))
    assert eng.cache.stats.misses == 1


def test_a_cache_directory_others_can_write_to_is_refused(tmp_path: Path) -> None:
    # Whoever can drop a .cwasm in it runs native code in this process.
    shared = tmp_path / "shared"
    shared.mkdir()
    for mode in (0o777, 0o775, 0o1777):
        os.chmod(shared, mode)
        with pytest.raises(ConfigError, match=r"writable by group or others \(mode "
                                              f"{mode:#o}" r"\): anyone who can write"):
            _engine(shared)
    os.chmod(shared, 0o755)
    _works(_engine(shared).load(example("echo.wat")))  # read-only for others is fine
    made = tmp_path / "new" / "cache"
    _engine(made)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user's takes root")
def test_a_cache_directory_or_entry_of_another_user_is_not_trusted(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 4242, 4242)
    with pytest.raises(ConfigError, match="is owned by uid 4242, not by this process's uid 0"):
        _engine(theirs)
    # An entry file someone else could have written is rebuilt, never handed to wasmtime.
    _engine(tmp_path / "c").load(example("echo.wat"))
    [payload] = _entries(tmp_path / "c", ".cwasm")
    for tamper in (lambda p: os.chown(p, 4242, 4242), lambda p: os.chmod(p, 0o666)):
        tamper(payload)
        again = _engine(tmp_path / "c")
        _works(again.load(example("echo.wat")))
        assert again.cache is not None and again.cache.stats.rebuilt == 1
        [payload] = _entries(tmp_path / "c", ".cwasm")
        assert payload.stat().st_uid == 0 and stat.S_IMODE(payload.stat().st_mode) == 0o600
