"""`airssys-wasm build` and `new` without building (the build itself runs once per session in
tests/guest): world choice, the typed errors, the skeleton."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke

from airssys_wasm import BuildError
from airssys_wasm.cli.guest import build_guest, choose_world, new_python_project
from airssys_wasm.runtime.world import WORLDS

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
    (HEAD + "    def execute(self, op, rid, caller):\n        return op\n",
     "class App defines no handle_message; every component must"),
])
def test_a_module_that_is_not_a_guest_is_a_build_error(source: str, message: str) -> None:
    with pytest.raises(BuildError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose_world(source)


def test_a_component_without_handle_message_cannot_be_instantiated() -> None:
    # A mixin may still provide it (the build lets such a class through): the base refuses
    # instances of any class that ends up without one.
    from airssys_wasm_guest import Component

    class NoHandler(Component):
        pass

    class Mixin:
        def handle_message(self, sender: str, message: bytes) -> None:
            pass

    class Mixed(Mixin, Component):
        pass

    with pytest.raises(TypeError, match="handle_message"):
        NoHandler()
    assert choose_world(HEAD.replace("(Component)", "(Mixin, Component)")
                        + "    pass\n") == "airssys-handler"
    Mixed()


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


def test_progress_is_a_spinner_on_a_terminal_and_plain_lines_otherwise(monkeypatch) -> None:
    import io

    from rich.console import Console

    from airssys_wasm.cli.progress import interactive, step

    monkeypatch.delenv("CI", raising=False)
    assert interactive(Console(file=io.StringIO(), force_terminal=True))
    assert not interactive(Console(file=io.StringIO(), force_terminal=False))
    monkeypatch.setenv("CI", "true")
    assert not interactive(Console(file=io.StringIO(), force_terminal=True))
    out = io.StringIO()
    with step(Console(file=out, force_terminal=False, width=200), "componentize app.py"):
        pass
    first, second = out.getvalue().splitlines()
    assert first == "componentize app.py..."
    assert second.startswith("componentize app.py: done in ") and second.endswith(" s")


def test_only_a_big_source_gets_a_first_compile_line(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from airssys_wasm.cli.progress import BIG_SOURCE_BYTES, first_compile

    small, big = tmp_path / "small.wasm", tmp_path / "big.wasm"
    small.write_bytes(b"\0" * 100)
    big.write_bytes(b"\0" * BIG_SOURCE_BYTES)
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    for path in (small, big, tmp_path / "missing.wasm"):
        with first_compile(console, path):
            pass
    assert out.getvalue().splitlines()[0] == f"loading big.wasm ({BIG_SOURCE_BYTES / 1e6:.1f} MB: the first load compiles it)..."
    assert len(out.getvalue().splitlines()) == 2


def test_an_explicit_world_too_small_for_the_guest_is_refused(tmp_path: Path) -> None:
    guest = tmp_path / "app.py"
    guest.write_text(HEAD + "    def handle_message(self, s, m):\n        pass\n\n"
                     "    def execute(self, op, rid, caller):\n        return op\n")
    result = invoke("build", guest, "--world", "airssys-handler")
    assert result.exit_code == 1
    assert "needs execute, which the world airssys-handler does not export" in result.output
    assert "--world airssys-service" in result.output


@pytest.mark.parametrize("world", ["airssys-handler", "airssys-service", "airssys-component"])
def test_wit_writes_a_world_that_wasm_tools_reads(tmp_path: Path, world: str) -> None:
    out = tmp_path / "wit"
    result = invoke("wit", out, "--world", world, "--import", "airssys:ext-storage/storage@1.0.0")
    assert result.exit_code == 0, result.output
    assert f"world {world} + airssys:ext-storage/storage@1.0.0" in result.output
    done = subprocess.run(["wasm-tools", "component", "wit", str(out), "--json"],
                          capture_output=True, text=True, check=True)
    resolved = json.loads(done.stdout)
    [target] = [w for w in resolved["worlds"] if w["name"] == world]
    [lifecycle] = [i for i in resolved["interfaces"] if i["name"] == "component-lifecycle"]
    assert sorted(lifecycle["functions"]) == sorted(WORLDS[world])
    imported = {resolved["interfaces"][item["interface"]["id"]]["name"]
                for item in target["imports"].values() if "interface" in item}
    assert {"host-services", "storage"} <= imported


def test_wit_refuses_an_unknown_interface(tmp_path: Path) -> None:
    result = invoke("wit", tmp_path / "w", "--import", "acme:x/y@1.0.0")
    assert result.exit_code == 2
    assert "acme:x/y@1.0.0: not a shipped extension interface; choose from " \
           "airssys:ext-filesystem/filesystem@1.0.0" in result.output
    assert not (tmp_path / "w").exists()
