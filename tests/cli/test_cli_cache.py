"""The CLI compiles through one default cache: `inspect` and `validate` fill it, and `run`'s
host (same engine settings) finds the compiled code there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from airssys_wasm.cli.system import check_system
from airssys_wasm.runtime import Engine, EngineConfig
from airssys_wasm.runtime.cache import CACHE_DIR_ENV, default_cache_dir
from cli_helpers import EXAMPLES, invoke
from airssys_wasm.benchmarks import guests


def _artifacts(cache: Path) -> list[Path]:
    return sorted(cache.glob("component-*.cwasm")) + sorted(cache.glob("core-*.cwasm"))


def test_inspect_compiles_into_the_default_cache_once(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    source = shutil.copy(guests.path("echo"), tmp_path / "echo.wat")
    first = invoke("inspect", source)
    assert first.exit_code == 0, first.output
    assert len(_artifacts(cache)) == 1
    second = invoke("inspect", source)
    assert second.output == first.output
    assert len(_artifacts(cache)) == 1
    # A host with the default engine settings (what `run` uses) finds it compiled.
    with Engine(EngineConfig(cache_dir=cache)) as engine:
        engine.load(source)
        assert engine.cache is not None
        assert (engine.cache.stats.hits, engine.cache.stats.misses) == (1, 0)


def test_inspect_core_module_through_the_cache(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    result = invoke("inspect", guests.path("core_actor"))
    assert result.exit_code == 0 and "satisfies the core-ABI lane" in result.output
    assert [p.name.split("-")[0] for p in _artifacts(cache)] == ["core"]


def test_empty_cache_variable_disables_the_cache(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() is None
    assert invoke("inspect", guests.path("minimal")).exit_code == 0
    assert not (tmp_path / "xdg").exists()
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert default_cache_dir() == tmp_path / "xdg" / "airssys-wasm"


def test_validate_system_file_fills_the_cache_run_uses(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    spec, problems = check_system(EXAMPLES / "system" / "pipeline.toml")
    assert not problems and spec is not None
    assert spec.host.engine.cache_dir == cache
    compiled = _artifacts(cache)
    assert compiled
    result = invoke("validate", EXAMPLES / "system" / "pipeline.toml")
    assert result.exit_code == 0, result.output
    assert _artifacts(cache) == compiled  # nothing compiled twice


def test_coldstart_suite_without_the_python_guest_says_how_to_build_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from airssys_wasm.benchmarks import suite

    monkeypatch.setenv("AIRSSYS_WASM_PY_GUEST", str(tmp_path / "missing.wasm"))
    rows = suite("coldstart").run(repeat=1, min_seconds=0.001)
    err = capsys.readouterr().err
    assert f"no Python guest at {tmp_path / 'missing.wasm'}: build it with `python -m " \
        "airssys_wasm.benchmarks.coldstart build`" in err
    names = [row.name for row in rows]
    assert names[0] == "cached cold load, fresh process: WAT minimal"
    assert not any("Python" in name for name in names)
    timed = [row for row in rows if row.unit == "ns"]
    assert timed and all(row.ours_ns > 0 for row in timed)
