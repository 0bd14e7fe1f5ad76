"""Reading WebAssembly from paths, bytes or WAT text, compiling it (through the cache) and
validating it against the world.

Untrusted input never reaches wasmtime unchecked in ways that could hurt: sizes are bounded
before reading, the binary header is checked (magic and layer), and every compile error
becomes a LoadError naming the source.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union

import wasmtime
from wasmtime import component as wc

from airssys_wasm._files import open_regular
from airssys_wasm.errors import LoadError
from airssys_wasm.runtime.artifact import Artifact, ComponentArtifact, CoreModuleArtifact
from airssys_wasm.runtime.cache import ArtifactCache, FileIdentity, Kind
from airssys_wasm.runtime.world import validate_component, validate_core_module

if TYPE_CHECKING:
    from airssys_wasm.runtime.engine import Engine

__all__ = ["CompiledSource", "Source", "compile_source", "load", "read_source"]

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


def _read_path(path: Path, max_bytes: int) -> tuple[bytes, str, FileIdentity | None]:
    """The file's wasm, its label, and its identity when the bytes read are certainly that
    version of the file (a regular file that did not change while it was read)."""
    label = str(path)
    try:
        with open_regular(path) as fh:
            before = os.fstat(fh.fileno())
            size = before.st_size
            if size > max_bytes:
                raise LoadError(f"{label}: {size} bytes exceeds the {max_bytes}-byte limit; raise "
                                "EngineConfig.max_source_bytes if this input is trusted")
            data = fh.read(max_bytes + 1)
            after = os.fstat(fh.fileno())
    except (OSError, ValueError) as exc:  # ValueError: e.g. a NUL byte in the path
        raise LoadError(f"cannot read {label!r}: {getattr(exc, 'strerror', None) or exc}; "
                        "check the path") from None
    if len(data) > max_bytes:  # it grew while being read (or is not a regular file)
        raise LoadError(f"{label}: more than {max_bytes} bytes; raise "
                        "EngineConfig.max_source_bytes if this input is trusted")
    identity: FileIdentity | None = FileIdentity.of(before)
    if not stat.S_ISREG(before.st_mode) or FileIdentity.of(after) != identity \
            or identity.size != len(data):
        identity = None
    if not data or (data[:1].isspace() and not data.strip()):  # "empty" is the whole story
        what = "empty (0 bytes)" if not data else f"only whitespace ({len(data)} bytes)"
        raise LoadError(f"{label}: the file is {what}; expected a WebAssembly binary (.wasm) or "
                        "WAT text (.wat): rebuild it, or check it was written completely")
    if path.suffix == ".wat" or (not data.startswith(MAGIC) and _looks_like_wat(data[:4096])):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LoadError(f"{label}: WAT file is not UTF-8 text") from None
        return _wat_to_wasm(text, label), label, identity
    return data, label, identity


def _as_path(source: Source) -> Path | None:
    """The file ``source`` names, or None for in-memory sources (bytes, WAT text)."""
    if isinstance(source, os.PathLike):
        return Path(source)
    if isinstance(source, str) and "\n" not in source and len(source) <= 4096 \
            and not _looks_like_wat(source[:4096].encode("utf-8", "replace")):
        return Path(source)
    return None


def read_source(source: Source, max_bytes: int) -> tuple[bytes, str]:
    """(wasm binary, label for messages) from any accepted source form."""
    data, label, _ = _read(source, max_bytes)
    return data, label


def _read(source: Source, max_bytes: int) -> tuple[bytes, str, FileIdentity | None]:
    path = _as_path(source)
    if path is not None:
        return _read_path(path, max_bytes)
    if isinstance(source, str):
        if _looks_like_wat(source[:4096].encode("utf-8", "replace")):
            if len(source) > max_bytes:
                raise LoadError(f"WAT text of {len(source)} characters exceeds the {max_bytes} limit")
            return _wat_to_wasm(source, "<wat text>"), "<wat text>", None
        raise LoadError("string source is neither WAT text (it must start with '(') nor a path")
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise LoadError(f"input of {len(data)} bytes exceeds the {max_bytes}-byte limit; raise "
                            "EngineConfig.max_source_bytes if this input is trusted")
        if not data.startswith(MAGIC) and _looks_like_wat(data[:4096]):
            try:
                return _wat_to_wasm(data.decode("utf-8"), "<wat bytes>"), "<wat bytes>", None
            except UnicodeDecodeError:
                raise LoadError("<bytes>: WAT text is not valid UTF-8") from None
        return data, "<bytes>", None
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


@dataclass(frozen=True, slots=True)
class CompiledSource:
    """Compiled code that has not been checked against the world yet: what ``Engine.compile``
    returns to tools that report on any wasm (``inspect``), and what ``load`` validates."""

    #: ``"component"`` or ``"core"``.
    kind: Kind
    #: The path, or ``<bytes>`` / ``<wat text>`` for in-memory sources.
    label: str
    #: The name messages and the artifact use (the file's stem unless one was given).
    name: str
    #: SHA-256 of the wasm bytes (the cache key's content part).
    digest: str
    #: Size of the wasm binary in bytes.
    size: int
    #: The wasmtime ``component.Component`` or ``Module``.
    code: wc.Component | wasmtime.Module


def compile_source(engine: Engine, source: Source, *, name: str | None = None) -> CompiledSource:
    """Compile ``source`` (through the engine's cache, and for files through the cache's
    source index: an unchanged, already compiled file is neither read nor hashed). LoadError
    names the source when it is unreadable or not valid WebAssembly."""
    cache = engine.cache
    path = _as_path(source)
    if cache is not None and path is not None:
        known = _indexed(engine, cache, path, name)
        if known is not None:
            return known
    data, label, identity = _read(source, engine.config.max_source_bytes)
    kind = _kind(data, label)
    digest = hashlib.sha256(data).hexdigest()
    name, who = _names(label, digest, name)
    wasm = engine.wasm_engine
    with _load_errors(who, kind):
        if kind == "component":
            code: wc.Component | wasmtime.Module = _compile(
                engine, "component", digest, lambda: wc.Component(wasm, data),
                _deserializer(engine, "component"), lambda c: bytes(c.serialize()))
        else:
            code = _compile(engine, "core", digest, lambda: wasmtime.Module(wasm, data),
                            _deserializer(engine, "core"), lambda m: bytes(m.serialize()))
    if cache is not None and identity is not None:
        cache.remember_source(identity, kind, digest, len(data))
    return CompiledSource(kind, label, name, digest, len(data), code)


def _names(label: str, digest: str, name: str | None) -> tuple[str, str]:
    """(name, who): the artifact's name and how messages refer to the source."""
    if name is None:
        name = Path(label).stem if not label.startswith("<") else f"wasm-{digest[:12]}"
    return name, (f"{name} ({label})" if label != name else name)


def _indexed(engine: Engine, cache: ArtifactCache, path: Path,
             name: str | None) -> CompiledSource | None:
    """The compiled artifact of an unchanged file seen before, without reading the file; None
    sends the caller down the normal path (which also reports any problem with the file)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > engine.config.max_source_bytes:
        return None
    known = cache.lookup_source(FileIdentity.of(st))
    if known is None:
        return None
    kind, digest, size = known
    label = str(path)
    name, who = _names(label, digest, name)
    with _load_errors(who, kind):
        code = cache.get(kind, digest, _deserializer(engine, kind))
    return None if code is None else CompiledSource(kind, label, name, digest, size, code)


def _deserializer(engine: Engine, kind: Kind) -> Callable[[str], Any]:
    wasm = engine.wasm_engine
    if kind == "component":
        return lambda path: wc.Component.deserialize_file(wasm, path)
    return lambda path: wasmtime.Module.deserialize_file(wasm, path)


@contextmanager
def _load_errors(who: str, kind: str) -> Iterator[None]:
    """wasmtime's compile and type errors as LoadError naming the source."""
    try:
        yield
    except wasmtime.WasmtimeError as exc:
        detail = str(exc).strip().replace("\n", " ")
        what = "core module" if kind == "core" else kind
        raise LoadError(f"{who}: not a valid WebAssembly {what}: {detail}") from None
    except TypeError as exc:  # wasmtime-py cannot describe a type (e.g. a newer item kind)
        raise LoadError(f"{who}: uses a type this runtime cannot inspect ({exc}); build it "
                        "against the airssys:core@1.0.0 WIT") from None


def load(engine: Engine, source: Source, *, name: str | None = None) -> Artifact:
    """Compile (through the cache) and validate ``source`` against the world: the artifact
    behind ``Engine.load``."""
    compiled = compile_source(engine, source, name=name)
    name, digest = compiled.name, compiled.digest
    who = _names(compiled.label, digest, name)[1]
    with _load_errors(who, compiled.kind):
        if isinstance(compiled.code, wc.Component):
            shape = validate_component(compiled.code, engine.wasm_engine, who)
            return ComponentArtifact(engine, name, digest, compiled.code, shape)
        return CoreModuleArtifact(engine, name, digest, compiled.code,
                                  validate_core_module(compiled.code, who))


def _compile(engine: Engine, kind: Kind, digest: str, compile: Callable[[], T],
             deserialize_file: Callable[[str], T], serialize: Callable[[T], bytes]) -> T:
    if engine.cache is None:
        return compile()
    return engine.cache.get_or_build(kind, digest, compile=compile, serialize=serialize,
                                     deserialize_file=deserialize_file)
