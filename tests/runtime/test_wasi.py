"""WASI p2 settings on the Store: nothing by default, exactly the given preopens otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from airssys_wasm.errors import ConfigError
from airssys_wasm.runtime import Preopen, WasiSettings

from .conftest import example


@pytest.fixture(scope="module")
def probe(engine):
    return engine.load(example("wasi-probe.wat"))


def listing(reply: bytes) -> list[tuple[int, str]]:
    assert reply[:1] == b"\x00"
    body, out = reply[1:], []
    while body:
        out.append((body[0], body[2:2 + body[1]].decode()))
        body = body[2 + body[1]:]
    return out


def test_wasi_imports_are_detected(probe, echo) -> None:
    assert probe.imports_wasi and not echo.imports_wasi


def test_default_sandbox_has_no_directories(probe) -> None:
    assert listing(probe.instantiate().execute(b"p")) == []


def test_preopens_are_exactly_the_given_ones_and_survive_fresh(probe, tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "rw").mkdir()
    (tmp_path / "ro" / "f.txt").write_bytes(b"data")
    wasi = WasiSettings((Preopen(str(tmp_path / "ro"), "/ro"),
                         Preopen(str(tmp_path / "rw"), "/rw", mutable=True)))
    inst = probe.instantiate(wasi=wasi)
    [(ro_flags, ro), (rw_flags, rw)] = listing(inst.execute(b"p"))
    assert (ro, rw) == ("/ro", "/rw")
    assert ro_flags == 0x01 and rw_flags & 0x20  # read only / read + mutate-directory
    assert inst.execute(b"r\x00f.txt") == b"\x00data"
    assert inst.execute(b"r\x00../")[:1] == b"\x01"  # '..' never leaves a preopen
    assert listing(inst.fresh().execute(b"p")) == [(0x01, "/ro"), (rw_flags, "/rw")]


def test_preopen_must_be_an_existing_absolute_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an existing absolute directory"):
        WasiSettings((Preopen(str(tmp_path / "missing"), "/x"),))
    with pytest.raises(ConfigError, match="not an existing absolute directory"):
        WasiSettings((Preopen("relative", "/x"),))
