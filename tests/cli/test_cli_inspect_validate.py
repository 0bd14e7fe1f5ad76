"""`airssys-wasm inspect` (what a file is, does it fit the world) and `validate` (manifests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import wasmtime

from airssys_wasm import demo
from airssys_wasm.benchmarks import guests
from cli_helpers import EXAMPLES, ROOT, WAT, invoke


def test_inspect_component_shows_wit_typed_imports_and_exports() -> None:
    result = invoke("inspect", demo.path("stage"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "component," in out and "imports (2)" in out and "exports (1)" in out
    assert "send-message: func(target: component-id, message: list<u8>) -> " \
           "result<_, messaging-error>" in out
    assert "handle-message: func(sender: component-id, message: list<u8>) -> " \
           "result<_, component-error>" in out
    assert "type component-id = record { namespace: string, name: string, version: string }" in out
    assert "satisfies the airssys-component world" in out


def test_inspect_binary_wasm_and_optional_exports(tmp_path: Path) -> None:
    binary = tmp_path / "minimal.wasm"
    binary.write_bytes(wasmtime.wat2wasm(guests.text("minimal")))
    result = invoke("inspect", binary)
    assert result.exit_code == 0, result.output
    assert "note: optional export `init` not provided" in result.output
    assert "satisfies the airssys-component world" in result.output


def test_inspect_core_module_lane() -> None:
    result = invoke("inspect", WAT / "core_actor.wat")
    assert result.exit_code == 0, result.output
    assert "core module" in result.output and "func(i32, i32, i32, i32) -> i32" in result.output
    assert "satisfies the core-ABI lane" in result.output


def test_inspect_core_module_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wat"
    bad.write_text('(module (import "env" "f" (func)) (func (export "handle") (param i32)))')
    result = invoke("inspect", bad)
    assert result.exit_code == 1
    out = result.output
    assert "import `env.f`: core-ABI modules may not import anything" in out
    assert "missing export: the linear memory as `memory`" in out
    assert "missing export: `alloc: func(i32) -> i32`" in out
    assert "wrong type for export `handle`: expected func(i32, i32, i32, i32) -> i32, found " \
           "func(i32)" in out
    assert "does not satisfy the core-ABI lane (4 problem(s))" in out


@pytest.mark.parametrize("name, expected", [
    ("bad-signature", "wrong type for export `handle-message`:\n    expected handle-message: "
                      "func(sender: component-id, message: list<u8>) -> result<_, component-error>"
                      "\n    found    func(sender: string"),
    ("no-handle-message", "missing export: `handle-message: func(sender: component-id"),
    ("bad-host-import", "wrong type for import `log`:\n    expected log: func(level: log-level"),
])
def test_inspect_components_that_do_not_fit(name: str, expected: str) -> None:
    result = invoke("inspect", WAT / f"{name}.wat")
    assert result.exit_code == 1
    assert expected in result.output
    assert "does not satisfy the airssys-component world" in result.output


@pytest.mark.parametrize("content, message", [
    (b"# just text\n", "not a WebAssembly module or component"),
    (b"(module (func (export \"x\") (result i32)))", "not a valid WebAssembly core module"),
    (b"(module (oops))", "invalid WAT"),
    (b"\0asm\x01\0\0\0\x05", "not a valid WebAssembly core module"),
])
def test_inspect_bad_files_exit_1(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / ("f.wat" if content.startswith(b"(") else "f.wasm")
    path.write_bytes(content)
    result = invoke("inspect", path)
    assert result.exit_code == 1 and message in result.output


def test_inspect_missing_file_and_usage() -> None:
    result = invoke("inspect", "no/such.wasm")
    assert result.exit_code == 1 and "cannot read" in result.output
    assert invoke("inspect").exit_code == 2
    assert invoke("inspect", ROOT).exit_code == 2  # a directory is a usage error


@pytest.mark.parametrize("manifest", sorted(WAT.glob("*.toml"))
                         + sorted((EXAMPLES / "manifests" / "valid").glob("*.toml")),
                         ids=lambda p: p.name)
def test_validate_valid_manifests(manifest: Path) -> None:
    result = invoke("validate", manifest)
    assert result.exit_code == 0, result.output
    assert ": valid - " in result.output


@pytest.mark.parametrize("manifest", sorted((EXAMPLES / "manifests" / "invalid").glob("*.toml")),
                         ids=lambda p: p.name)
def test_validate_reports_every_problem_at_once(manifest: Path) -> None:
    expected = re.findall(r"#\s*expect:\s*(\S+)\s+(\S+)", manifest.read_text())
    assert expected  # the file documents its problems
    result = invoke("validate", manifest)
    assert result.exit_code == 1
    assert f"{len(expected)} problem(s)" in result.output
    for key, rule in expected:
        assert re.search(rf"{re.escape(key)}: .*\[{re.escape(rule)}\]", result.output), (key, rule)


def test_validate_bad_files(tmp_path: Path) -> None:
    result = invoke("validate", tmp_path / "missing.toml")
    assert result.exit_code == 1 and "no such file" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[component\n")
    result = invoke("validate", broken)
    assert result.exit_code == 1 and "[toml-syntax]" in result.output
    assert invoke("validate").exit_code == 2
