"""Loading from every source form, validation against the world, and hostile input."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airssys_wasm.errors import LoadError, ManifestError, WitError
from airssys_wasm.runtime import (
    ComponentArtifact,
    ComponentId,
    CoreModuleArtifact,
    Engine,
    EngineConfig,
)

from .conftest import example

ECHO_TEXT = example("echo.wat").read_text()
CORE_TEXT = example("core_actor.wat").read_text()
ECHO_BINARY = bytes(wasmtime.wat2wasm(ECHO_TEXT))
CORE_BINARY = bytes(wasmtime.wat2wasm(CORE_TEXT))


def _roundtrip(artifact) -> bytes:
    inst = artifact.instantiate()
    inst.handle_message(ComponentId("tester"), b"\x55payload")
    return inst.execute(b"last")


@pytest.mark.parametrize("source", [
    example("echo.wat"),                 # PathLike to .wat
    str(example("echo.wat")),            # str path
    ECHO_TEXT,                           # WAT text
    ECHO_TEXT.encode(),                  # WAT as bytes
    ECHO_BINARY,                         # binary
    bytearray(ECHO_BINARY),
    memoryview(ECHO_BINARY),
], ids=["pathlike", "strpath", "wat-text", "wat-bytes", "binary", "bytearray", "memoryview"])
def test_component_loads_from_every_source_form(engine: Engine, source) -> None:
    artifact = engine.load(source, name="echo")
    assert isinstance(artifact, ComponentArtifact)
    assert artifact.kind == "component"
    assert _roundtrip(artifact) == b"\x55payload"


def test_binary_file_path(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "actor.wasm"
    path.write_bytes(CORE_BINARY)
    artifact = engine.load(path)
    assert isinstance(artifact, CoreModuleArtifact)
    assert artifact.name == "actor"
    assert _roundtrip(artifact) == b"\x55payload"


def test_core_module_from_text_knows_its_optional_exports(engine: Engine) -> None:
    artifact = engine.load(CORE_TEXT)
    assert artifact.kind == "core"
    assert artifact.exports == {"handle-message", "execute", "init", "health", "shutdown"}


def test_same_bytes_same_digest(engine: Engine) -> None:
    assert engine.load(ECHO_TEXT).digest == engine.load(ECHO_BINARY).digest


@pytest.mark.parametrize("data,needle", [
    (b"", "too short"),
    (b"\0asm\x01\x00", "too short"),
    (b"\x7fELF\x02\x01\x01\x00" + b"\0" * 64, "not WebAssembly"),
    (b"\0asm\x02\x00\x00\x00", "unsupported WebAssembly version"),
    (b"\0asm\x01\x00\x00\x00\xff\xff\xff", "not a valid WebAssembly core"),
    (b"PK\x03\x04 zip archive", "not WebAssembly"),
], ids=["empty", "short-header", "elf", "bad-version", "bad-section", "zip"])
def test_garbage_is_a_load_error(engine: Engine, data: bytes, needle: str) -> None:
    with pytest.raises(LoadError, match=needle):
        engine.load(data)


@pytest.mark.parametrize("binary", [ECHO_BINARY, CORE_BINARY], ids=["component", "core"])
def test_every_truncation_is_a_load_error(engine: Engine, binary: bytes) -> None:
    step = max(1, len(binary) // 97)
    for cut in range(0, len(binary) - 1, step):
        with pytest.raises(LoadError):
            engine.load(binary[:cut])


def test_huge_input_is_refused_before_compiling(tmp_path: Path) -> None:
    small = Engine(EngineConfig(max_source_bytes=1024, epoch_interruption=False))
    with pytest.raises(LoadError, match="exceeds the 1024-byte limit"):
        small.load(ECHO_BINARY)
    path = tmp_path / "big.wasm"
    path.write_bytes(ECHO_BINARY)
    with pytest.raises(LoadError, match="exceeds the 1024-byte limit"):
        small.load(path)
    with pytest.raises(LoadError, match="exceeds"):
        small.load(ECHO_TEXT)


def test_invalid_wat_and_missing_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="invalid WAT"):
        engine.load("(module (func (bogus-instruction)))")
    with pytest.raises(LoadError, match="not a valid WebAssembly core module: .*type mismatch"):
        engine.load("(module (func (result i32) i64.const 1))")
    with pytest.raises(LoadError, match="cannot read"):
        engine.load(tmp_path / "missing.wasm")
    with pytest.raises(LoadError, match="cannot read"):
        engine.load(str(tmp_path / "missing.wat"))
    with pytest.raises(LoadError, match="cannot read"):
        engine.load("bad\0path.wasm")
    with pytest.raises(LoadError, match="cannot read"):
        engine.load(tmp_path)  # a directory
    with pytest.raises(LoadError, match="not valid UTF-8"):
        engine.load(b"(module \xff\xfe)")
    with pytest.raises(LoadError, match="neither WAT"):
        engine.load("garbage\nthat is no path")
    with pytest.raises(TypeError):
        engine.load(12345)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=512))
def test_random_bytes_never_crash(engine: Engine, data: bytes) -> None:
    with pytest.raises(LoadError):
        engine.load(b"\0asm\x01\x00\x00\x00" + data if data[:1] == b"\x01" else data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=8, max_value=len(ECHO_BINARY) - 1), st.integers(0, 255))
def test_corrupted_component_bytes_never_crash(engine: Engine, index: int, value: int) -> None:
    data = bytearray(ECHO_BINARY)
    if data[index] == value:
        value ^= 0xFF
    data[index] = value
    try:
        artifact = engine.load(bytes(data))
    except LoadError:
        return
    # A flip in a custom section or a data byte can still be a valid component: it must run.
    assert artifact.has("handle-message")


def test_missing_handle_message_names_it(engine: Engine) -> None:
    with pytest.raises(LoadError) as info:
        engine.load(example("no-handle-message.wat"))
    text = str(info.value)
    assert "handle-message" in text
    assert "func(sender: component-id, message: list<u8>) -> result<_, component-error>" in text


def test_wrong_signature_names_export_and_expected_type(engine: Engine) -> None:
    with pytest.raises(LoadError) as info:
        engine.load(example("bad-signature.wat"))
    text = str(info.value)
    assert "`handle-message` has the wrong type" in text
    assert "expected: handle-message: func(sender: component-id" in text
    assert "found:    func(sender: string, message: list<u8>) -> result<_, string>" in text


def test_custom_import_loads_and_is_recorded(engine: Engine) -> None:
    # A host decides at spawn (provided? granted?); loading only records it.
    artifact = engine.load(example("foreign-import.wat"))
    assert artifact.custom_imports == frozenset({"evil:pkg/backdoor@1.0.0"})


@pytest.mark.parametrize("name", ["airssys:ext-nope/thing@1.0.0", "plain-name"])
def test_import_that_cannot_be_provided_is_refused(engine: Engine, name: str) -> None:
    text = example("minimal.wat").read_text().rstrip()
    wat = text[:-1] + f'  (import "{name}" (instance))\n)'  # last: no index moves
    with pytest.raises(LoadError, match=f"imports `{name}`, which airssys hosts do not provide"):
        engine.load(wat)


def test_wrongly_typed_host_import_is_refused(engine: Engine) -> None:
    with pytest.raises(LoadError, match="`log` has the wrong type"):
        engine.load(example("bad-host-import.wat"))


def test_component_without_lifecycle_instance(engine: Engine) -> None:
    with pytest.raises(LoadError, match="does not export the instance `airssys:core/component-lifecycle@1.0.0`"):
        engine.load("(component)")


@pytest.mark.parametrize("wat,needle", [
    ("(module (func (export \"handle\") (param i32 i32 i32 i32) (result i32) i32.const 0))",
     "export its linear memory as `memory`"),
    ("(module (memory (export \"memory\") 1)"
     " (func (export \"handle\") (param i32 i32 i32 i32) (result i32) i32.const 0))",
     "lacks the required export `alloc: func(i32) -> i32`"),
    ("(module (memory (export \"memory\") 1)"
     " (func (export \"alloc\") (param i32) (result i32) i32.const 0))",
     "lacks the required export `handle: func(i32, i32, i32, i32) -> i32`"),
    ("(module (memory (export \"memory\") 1)"
     " (func (export \"alloc\") (param i32) (result i32) i32.const 0)"
     " (func (export \"handle\") (param i32 i32) (result i32) i32.const 0))",
     "export `handle` has type `func(i32, i32) -> i32`; expected `func(i32, i32, i32, i32) -> i32`"),
    ("(module (import \"env\" \"f\" (func)) (memory (export \"memory\") 1))",
     "may not import anything, but it imports `env.f`"),
    ("(module (memory (export \"memory\") 1)"
     " (func (export \"alloc\") (param i32) (result i32) i32.const 0)"
     " (func (export \"handle\") (param i32 i32 i32 i32) (result i32) i32.const 0)"
     " (func (export \"health\") (result i64) i64.const 0))",
     "export `health` has type `func() -> i64`; expected `func() -> i32`"),
], ids=["no-memory", "no-alloc", "no-handle", "handle-type", "imports", "optional-type"])
def test_core_abi_validation(engine: Engine, wat: str, needle: str) -> None:
    with pytest.raises(LoadError) as info:
        engine.load(wat)
    assert needle in str(info.value)


def test_minimal_component_reports_only_handle_message(minimal) -> None:
    assert minimal.exports == {"handle-message"}
    assert not minimal.has("health")


def test_load_accepts_os_fspath(engine: Engine) -> None:
    class P(os.PathLike):
        def __fspath__(self) -> str:
            return str(example("minimal.wat"))

    assert engine.load(P()).exports == {"handle-message"}


def test_special_files_are_refused_without_blocking_or_reading_forever(
        engine: Engine, tmp_path: Path) -> None:
    # A FIFO nobody writes to blocked open() for good (and the event loop of a host spawning
    # from that path with it); /dev/zero never ends. Manifests and WIT are read the same way.
    from airssys_wasm.host.interfaces import HostInterface
    from airssys_wasm.security import load_manifest

    fifo = tmp_path / "plugin.wasm"
    os.mkfifo(fifo)
    # Should the refusal ever regress, a writer unblocks the open after 10 s: the test then
    # fails on its assertions instead of hanging the run.
    unblock = threading.Timer(10.0, _open_for_writing, args=(fifo,))
    unblock.daemon = True
    unblock.start()
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device"),
                       (tmp_path, "a directory")):
        with pytest.raises(LoadError, match=f"it is {kind}, not a regular file"):
            engine.load(path)
        with pytest.raises(ManifestError, match=f"it is {kind}, not a regular file"):
            load_manifest(path)
        if path is not tmp_path:  # a folder of WIT files is a valid source
            with pytest.raises(WitError, match=f"it is {kind}, not a regular file"):
                HostInterface(path, object())
    unblock.cancel()


def _open_for_writing(fifo: Path) -> None:
    """Open and close ``fifo``'s write end: a reader blocked in open() then sees end of file."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # ENXIO: nobody is reading, nothing to unblock
        pass
