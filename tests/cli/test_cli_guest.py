"""`airssys-wasm build` and `new` without building (the build itself runs once per session in
tests/guest): world choice, the typed errors, the skeleton."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke

from airssys_wasm import BuildError
from airssys_wasm.cli.guest import build_guest, choose_world, new_python_project

HEAD = "from airssys_wasm_guest import Component, host\n\n\nclass App(Component):\n"


@pytest.mark.parametrize("body,world", [
    ("    def handle_message(self, sender, message):\n        pass\n", "airssys-handler"),
    ("    def handle_message(self, s, m):\n        pass\n\n    def execute(self, op, rid, caller):\n"
     "        return op\n", "airssys-service"),
    ("    def handle_message(self, s, m):\n        pass\n\n    def health(self):\n        return 'ok'\n",
     "airssys-component"),
    ("    name = 'app'\n\n    def handle_message(self, s, m):\n        pass\n", "airssys-component"),
    ("    def handle_message(self, s, m):\n        host.request('x', 1, print)\n", "airssys-component"),
])
def test_the_smallest_world_covering_the_methods_is_chosen(body: str, world: str) -> None:
    assert choose_world(HEAD + body) == world


@pytest.mark.parametrize("source,message", [
    ("x = 1\n", "exactly one subclass of airssys_wasm_guest.Component (found: none)"),
    ("def f(:\n", "not valid Python"),
])
def test_a_module_that_is_not_a_guest_is_a_build_error(source: str, message: str) -> None:
    with pytest.raises(BuildError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose_world(source)


def test_missing_componentize_py_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "componentize_py", None)  # find_spec then answers None
    guest = tmp_path / "app.py"
    guest.write_text(HEAD + "    def handle_message(self, s, m):\n        pass\n")
    result = invoke("build", guest, "-o", tmp_path / "app.wasm")
    assert result.exit_code == 1
    assert "componentize-py is not installed" in result.output
    assert "pip install 'airssys-wasm[guest]'" in result.output
    assert not (tmp_path / "app.wasm").exists()


def test_build_refuses_a_file_name_that_is_no_module_name(tmp_path: Path) -> None:
    guest = tmp_path / "my-app.py"
    guest.write_text(HEAD + "    def handle_message(self, s, m):\n        pass\n")
    with pytest.raises(BuildError, match="must be a Python module name"):
        build_guest(guest, tmp_path / "x.wasm")


def test_new_writes_a_guest_manifest_and_test(tmp_path: Path) -> None:
    result = invoke("new", "hello-py", "--lang", "python", "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    project = tmp_path / "hello-py"
    assert sorted(p.name for p in project.iterdir()) == ["Component.toml", "hello_py.py",
                                                         "test_hello_py.py"]
    guest = (project / "hello_py.py").read_text()
    assert choose_world(guest) == "airssys-service"  # handle_message + execute
    ast.parse((project / "test_hello_py.py").read_text())
    assert invoke("validate", project / "Component.toml").exit_code == 0
    again = invoke("new", "hello-py", "--dir", tmp_path)
    assert again.exit_code == 1 and "already exists" in again.output


def test_new_refuses_a_bad_name(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not a usable component name"):
        new_python_project("no/slashes", tmp_path)
