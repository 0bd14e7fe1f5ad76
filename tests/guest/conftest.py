"""The example Python guest, built ONCE per test session through the CLI (`airssys-wasm build`,
30-50 s on a busy CI box, most of it componentize-py) into a session temp directory, with its
compile cache next to it; every guest test reuses both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from airssys_wasm.cli import main

ROOT = Path(__file__).resolve().parents[2]
GUEST_DIR = ROOT / "examples" / "python_guest"
WAT = ROOT / "examples" / "wat"


@dataclass(frozen=True)
class BuiltGuest:
    wasm: Path
    cache_dir: Path
    output: str  # what `airssys-wasm build` printed


@pytest.fixture(scope="session")
def tally(tmp_path_factory: pytest.TempPathFactory) -> BuiltGuest:
    out = tmp_path_factory.mktemp("python-guest")
    wasm, cache = out / "tally.wasm", out / "cache"
    result = CliRunner().invoke(main, ["build", str(GUEST_DIR / "tally.py"), "-o", str(wasm),
                                       "--cache-dir", str(cache)], env={"CI": "true"})
    assert result.exit_code == 0, result.output
    return BuiltGuest(wasm=wasm, cache_dir=cache, output=result.output)
