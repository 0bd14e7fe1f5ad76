"""The examples run, the packaged components have one copy, and the README's quick start is
exactly what CI runs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest

from airssys_wasm import demo
from airssys_wasm.benchmarks import guests
from cli_helpers import EXAMPLES, ROOT, WAT, run_example


def test_quickstart_script_runs() -> None:
    result = run_example("quickstart")
    assert result == {"count": 10, "restarts": 1, "trap": "unreachable"}


def test_quickstart_log_lines_are_whole() -> None:
    # Run as a user would: its logging format is the script's own (it once cut at 100 chars).
    proc = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    logs = [line for line in proc.stderr.splitlines() if line.startswith("  (log) ")]
    assert any("actor crasher failed: TrapError(" in line for line in logs), proc.stderr
    for line in logs:  # each ends where the logged exception's repr ends, however long
        assert line.endswith('")') and len(line) > 120, line


@pytest.mark.parametrize("module, name", [(demo, n) for n in demo.NAMES]
                         + [(guests, n) for n in guests.NAMES])
def test_packaged_components_have_one_copy(module: Any, name: str) -> None:
    # The package's file is the only one (examples/wat/build.py --check, run by
    # tests/runtime/test_wit.py, regenerates it); tests and examples load it through demo.path / guests.path.
    assert not (WAT / f"{name}.wat").exists()
    assert module.path(name).is_file()


def test_unknown_packaged_component() -> None:
    with pytest.raises(ValueError, match="choose one of stage"):
        demo.path("nope")
    with pytest.raises(ValueError, match="choose one of echo"):
        guests.path("stage")


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    return commands


def test_ci_runs_the_readme_quick_start_commands_verbatim() -> None:
    demo, tests = _quick_start_commands()
    assert demo.endswith("airssys-wasm demo") and tests.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert demo in ci and tests in ci
    assert ci.index(demo) < ci.index(tests)


def test_the_license_files_match_the_metadata() -> None:
    """pyproject says MIT OR Apache-2.0: both texts ship (scikit-build-core puts LICEN[CS]E*
    into the wheel's dist-info/licenses)."""
    assert 'license = { text = "MIT OR Apache-2.0" }' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "LICENSE-MIT").read_text().startswith("MIT License")
    assert "Apache License" in (ROOT / "LICENSE-APACHE").read_text()[:200]
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_the_metadata_links_only_real_project_urls() -> None:
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls == {"Upstream (Rust airssys-wasm)": "https://github.com/airsstack/airssys"}
