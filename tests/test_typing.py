"""The package and the examples type-check (DEVELOPERS.md: type hints everywhere, and
`py.typed` ships, so users' code written like examples/quickstart.py is checked against it)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors_in_the_package_and_the_examples() -> None:
    # Settings live in pyproject.toml ([tool.mypy]); the Cython modules have .pyi stubs.
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert {"src/airssys_wasm", "examples"} <= set(files)
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
