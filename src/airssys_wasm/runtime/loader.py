"""Reading WebAssembly from paths, bytes or WAT text, compiling it (through the cache) and
validating it against the world.

Untrusted input never reaches wasmtime unchecked in ways that could hurt: sizes are bounded
before reading, the binary header is checked (magic and layer), and every compile error
becomes a LoadError naming the source.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, Union

import wasmtime
from wasmtime import component as wc

from airssys_wasm.errors import LoadError
from airssys_wasm.runtime.artifact import Artifact, ComponentArtifact, CoreModuleArtifact
from airssys_wasm.runtime.cache import Kind
from airssys_wasm.runtime.world import validate_component, validate_core_module

if TYPE_CHECKING:
    from airssys_wasm.runtime.engine import Engine

__all__ = ["Source", "load", "read_source"]

T = TypeVar("T")
Source = Union[str, bytes, bytearray, memoryview, "os.PathLike[str]"]
"""What ``load`` accepts: a path (``str`` or path-like) to a ``.wasm`` / ``.wat`` file, wasm
bytes, or WAT text. One type for every entry point, so a test can pass text where
production passes a path."""

MAGIC = b"\0asm"
CORE_VERSION = b"\x01\x00\x00\x00"
COMPONENT_VERSION = b"\x0d\x00\x01\x00"


def _looks_like_wat(head: bytes) -> bool:
    """WAT text starts (after whitespace) with a form or a comment."""
    return head.lstrip()[:1] in (b"(", b";")


def _wat_to_wasm(text: str, label: str) -> bytes:
    try:
        return bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError as exc:
        # The parser only gets the text, so its caret display says `--> <anon>:1:10`.
        detail = str(exc).replace("<anon>", label)
        raise LoadError(f"{label}: invalid WAT text: {detail}".rstrip()) from None


def _read_path(path: Path, max_bytes: int) -> tuple[bytes, str]:
    label = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"{label}: {size} bytes exceeds the {max_bytes}-byte limit; raise "
                            "EngineConfig.max_source_bytes if this input is trusted")
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: e.g. a NUL byte in the path
        raise LoadError(f"cannot read {label!r}: {getattr(exc, 'strerror', None) or exc}; "
                        "check the path") from None
    if not data or (data[:1].isspace() and not data.strip()):  # "empty" is the whole story
        what = "empty (0 bytes)" if not data else f"only whitespace ({len(data)} bytes)"
        raise LoadError(f"{label}: the file is {what}; expected a WebAssembly binary (.wasm) or "
                        "WAT text (.wat): rebuild it, or check it was written completely")
    if path.suffix == ".wat" or (not data.startswith(MAGIC) and _looks_like_wat(data[:4096])):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LoadError(f"{label}: WAT file is not UTF-8 text") from None
        return _wat_to_wasm(text, label), label
    return data, label


def read_source(source: Source, max_bytes: int) -> tuple[bytes, str]:
    """(wasm binary, label for messages) from any accepted source form."""
    if isinstance(source, os.PathLike):
        return _read_path(Path(source), max_bytes)
    if isinstance(source, str):
        if _looks_like_wat(source[:4096].encode("utf-8", "replace")):
            if len(source) > max_bytes:
                raise LoadError(f"WAT text of {len(source)} characters exceeds the {max_bytes} limit")
            return _wat_to_wasm(source, "<wat text>"), "<wat text>"
        if "\n" in source or len(source) > 4096:
            raise LoadError("string source is neither WAT text (it must start with '(') nor a path")
        return _read_path(Path(source), max_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise LoadError(f"input of {len(data)} bytes exceeds the {max_bytes}-byte limit; raise "
                            "EngineConfig.max_source_bytes if this input is trusted")
        if not data.startswith(MAGIC) and _looks_like_wat(data[:4096]):
            try:
                return _wat_to_wasm(data.decode("utf-8"), "<wat bytes>"), "<wat bytes>"
            except UnicodeDecodeError:
                raise LoadError("<bytes>: WAT text is not valid UTF-8") from None
        return data, "<bytes>"
    raise TypeError(f"source must be a path, bytes or WAT text, not {type(source).__name__}")


def _kind(data: bytes, label: str) -> Kind:
    if len(data) < 8:
        raise LoadError(f"{label}: {len(data)} bytes is too short for a WebAssembly header "
                        "(truncated file?); expected at least 8 bytes starting with \\0asm")
    if data[:4] != MAGIC:
        raise LoadError(f"{label}: not WebAssembly (starts with {data[:4]!r}, expected b'\\x00asm'); "
                        "pass a .wasm binary, a .wat file or WAT text")
    version = data[4:8]
    if version == CORE_VERSION:
        return "core"
    if version == COMPONENT_VERSION:
        return "component"
    raise LoadError(f"{label}: unsupported WebAssembly version/layer {version.hex()}; expected a core "
                    "module (01000000) or a component (0d000100)")


def load(engine: Engine, source: Source, *, name: str | None = None) -> Artifact:
    data, label = read_source(source, engine.config.max_source_bytes)
    kind = _kind(data, label)
    digest = hashlib.sha256(data).hexdigest()
    if name is None:
        name = Path(label).stem if not label.startswith("<") else f"wasm-{digest[:12]}"
    who = f"{name} ({label})" if label != name else name
    wasm = engine.wasm_engine
    try:
        if kind == "component":
            component = _compile(engine, "component", digest,
                                 lambda: wc.Component(wasm, data),
                                 lambda path: wc.Component.deserialize_file(wasm, path),
                                 lambda c: bytes(c.serialize()))
            shape = validate_component(component, wasm, who)
            return ComponentArtifact(engine, name, digest, component, shape)
        module = _compile(engine, "core", digest,
                          lambda: wasmtime.Module(wasm, data),
                          lambda path: wasmtime.Module.deserialize_file(wasm, path),
                          lambda m: bytes(m.serialize()))
        return CoreModuleArtifact(engine, name, digest, module, validate_core_module(module, who))
    except wasmtime.WasmtimeError as exc:
        detail = str(exc).strip().replace("\n", " ")
        raise LoadError(f"{who}: not a valid WebAssembly {kind}: {detail}") from None
    except TypeError as exc:  # wasmtime-py cannot describe a type (e.g. a newer item kind)
        raise LoadError(f"{who}: uses a type this runtime cannot inspect ({exc}); build it "
                        "against the airssys:core@1.0.0 WIT") from None


def _compile(engine: Engine, kind: Kind, digest: str, compile: Callable[[], T],
             deserialize_file: Callable[[str], T], serialize: Callable[[T], bytes]) -> T:
    if engine.cache is None:
        return compile()
    return engine.cache.get_or_build(kind, digest, compile=compile, serialize=serialize,
                                     deserialize_file=deserialize_file)
