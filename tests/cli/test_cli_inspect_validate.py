"""`airssys-wasm inspect` (what a file is, does it fit the world) and `validate` (manifests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import wasmtime

from airssys_wasm import demo
from airssys_wasm.benchmarks import guests
from cli_helpers import (
    BROKEN_COMPONENT,
    EXAMPLES,
    ROOT,
    WAT,
    broken_component_problem,
    empty_file_message,
    invoke,
)


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
    result = invoke("inspect", guests.path("core_actor"))
    assert result.exit_code == 0, result.output
    assert "core module" in result.output and "func(i32, i32, i32, i32) -> i32" in result.output
    assert "satisfies the core-ABI lane" in result.output


def test_inspect_never_breaks_a_long_path_or_its_kind_across_lines(tmp_path: Path) -> None:
    # The header names the file; a deep install path (site-packages in a CI checkout) must not
    # push "core module" onto the next line: only the terminal may wrap, never our output.
    deep = tmp_path.joinpath(*(["a-rather-long-directory-name"] * 4))
    deep.mkdir(parents=True)
    module = deep / "core_actor.wat"
    module.write_text(guests.text("core_actor"))
    result = invoke("inspect", module)
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0]
    assert header.startswith(str(module)) and header.endswith("bytes"), header
    assert ": core module, " in header


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


@pytest.mark.parametrize("name, content, what", [
    ("empty.wasm", b"", "empty (0 bytes)"),
    ("empty.wat", b"", "empty (0 bytes)"),
    ("blank.wat", b" \n\t\n", "only whitespace (4 bytes)"),
])
def test_inspect_empty_file_says_it_is_empty(tmp_path: Path, name: str, content: bytes,
                                              what: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = invoke("inspect", path)
    assert result.exit_code == 1
    assert result.output == (f"Error: {path}: the file is {what}; expected a WebAssembly binary "
                             "(.wasm) or WAT text (.wat): rebuild it, or check it was written "
                             "completely\n")


def test_inspect_wat_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "typo.wat"
    path.write_text("(module (oops))")
    result = invoke("inspect", path)
    assert result.exit_code == 1
    assert result.output == (f"Error: {path}: invalid WAT text: expected valid module field\n"
                             f"     --> {path}:1:10\n"
                             "      |\n"
                             "    1 | (module (oops))\n"
                             "      |          ^\n")


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


def test_validate_recognises_a_system_file() -> None:
    system = EXAMPLES / "system" / "pipeline.toml"
    result = invoke("validate", system)
    assert result.exit_code == 0, result.output
    assert result.output == (f"{system}: valid system - host sensors; 4 component(s), "
                             "1 supervisor(s), 17 initial message(s)\n")


def test_validate_system_file_lists_every_problem_at_once(tmp_path: Path) -> None:
    (tmp_path / "broken.wat").write_text(BROKEN_COMPONENT)
    (tmp_path / "empty.wasm").write_bytes(b"")
    (tmp_path / "core.wat").write_text('(module (func (export "x")))')
    (tmp_path / "c.toml").write_text('[component]\nname = "c"\nversion = "one"\n')
    system = tmp_path / "s.toml"
    system.write_text(
        '[host]\nname = "t"\nbogus = 1\n'
        '[supervisors.p]\nstrategy = "one_for_none"\n'
        '[[component]]\nname = "ok"\nsource = "builtin:counter"\nmanifest = "c.toml"\n'
        '[[component]]\nname = "broken"\nsource = "broken.wat"\nsupervisor = "q"\n'
        '[[component]]\nname = "empty"\nsource = "empty.wasm"\n'
        '[[component]]\nname = "core"\nsource = "core.wat"\n'
        '[[component]]\nname = "gone"\nsource = "gone.wat"\n'
        '[[message]]\nto = "nobody"\ntext = "hi"\n')
    result = invoke("validate", system)
    assert result.exit_code == 1
    assert result.output == "\n".join([
        f"{system}: 9 problem(s)",
        "  - host.bogus: unknown key (allowed: capacity, health_interval, max_restarts, name, "
        "within)",
        "  - supervisors.p.strategy: must be one of one_for_one, one_for_all, rest_for_one, got "
        "'one_for_none'",
        "  - component[0].manifest (c.toml): component.version: 'one' is not semantic "
        "versioning; write MAJOR.MINOR.PATCH like '1.2.0' [bad-semver]",
        "  - component[1].supervisor: no supervisor 'q' in [supervisors] (defined: p)",
        f"  - component[4].source: file '{tmp_path / 'gone.wat'}' not found",
        "  - message[0].to: no component named 'nobody'",
        *broken_component_problem("component[1]", tmp_path / "broken.wat"),
        f"  - component[2].source: {empty_file_message(tmp_path / 'empty.wasm')}",
        f"  - component[3].source: core ({tmp_path / 'core.wat'}): core-ABI module must export "
        "its linear memory as `memory`",
        ""])


def test_validate_tells_manifests_and_system_files_apart(tmp_path: Path) -> None:
    # One [component] table is a manifest, even with a key that a system file would have.
    manifest = tmp_path / "Component.toml"
    manifest.write_text('[component]\nname = "c"\nversion = "1.0.0"\n')
    assert invoke("validate", manifest).output.endswith(": valid - c 1.0.0; capabilities: none\n")
    manifest.write_text('[component]\nname = "c"\nversion = "1.0.0"\n[host]\n')
    result = invoke("validate", manifest)
    assert result.exit_code == 1 and "component: must be a table" not in result.output
    assert "define at least one [[component]]" in result.output  # [host]: a system file
