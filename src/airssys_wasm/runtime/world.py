"""Validation of a compiled component (or core-ABI module) against the `airssys-component` world.

Component-model types are structural, so each export's type is rendered to a canonical text
(``record { namespace: string, ... }``) and compared with the world's. A mismatch or a missing
required export is a LoadError that names the export, the type found and the type expected,
at load time rather than as a confusing failure on the first message.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airssys_wasm.errors import LoadError

if TYPE_CHECKING:
    import wasmtime
    from wasmtime import component as wc

# wasmtime is imported inside the functions that inspect types: the names and signatures
# below are data the CLI reads to build `--help` (``WORLDS``), which must not load the engine.

__all__ = [
    "CORE_OPTIONAL",
    "HOST_SERVICES",
    "is_custom_interface",
    "LIFECYCLE",
    "LIFECYCLE_FUNCS",
    "WASI_PROVIDED",
    "WORLDS",
    "ComponentShape",
    "CoreShape",
    "render_func",
    "render_type",
    "satisfied_worlds",
    "validate_component",
    "validate_core_module",
]

LIFECYCLE = "airssys:core/component-lifecycle@1.0.0"
HOST_SERVICES = "airssys:core/host-services@1.0.0"
_LIFECYCLE_PREFIX = "airssys:core/component-lifecycle@1."
#: Import names a component may use; extension packages are granted per manifest by the host.
ALLOWED_IMPORTS = frozenset({
    HOST_SERVICES,
    "airssys:core/types@1.0.0",
    "airssys:core/capabilities@1.0.0",
    "airssys:ext-filesystem/filesystem@1.0.0",
    "airssys:ext-network/network@1.0.0",
    "airssys:ext-process/process@1.0.0",
    "airssys:ext-storage/storage@1.0.0",
})

#: WASI imports the host can link: the WASI 0.2 interfaces wasmtime's ``add_wasip2`` defines.
#: Anything else under ``wasi:`` (a pre-0.2 adapter's unversioned ``wasi:io/streams``,
#: ``wasi:http``, a 0.3 snapshot) would only fail at instantiation, so it is refused at load,
#: where ``inspect`` sees it too.
WASI_PROVIDED = re.compile(r"wasi:(cli|clocks|filesystem|io|random|sockets)/[a-z][a-z0-9-]*@0\.2\.\d+")

# Structural renderings of the airssys:core/types the world uses.
_CID = "record { namespace: string, name: string, version: string }"
_COMPONENT_ERROR = ("variant { initialization-failed(string), configuration-invalid(string), "
                    "resource-exhausted(string), internal-error(string) }")
_EXECUTION_ERROR = ("variant { invalid-input(string), processing-failed(string), timeout(string), "
                    "resource-limit-exceeded(string) }")
_MESSAGING_ERROR = ("variant { target-not-found(string), permission-denied(string), "
                    "mailbox-full(string), unavailable(string), resource-exhausted(string) }")
_HEALTH = "enum { healthy, degraded, unhealthy, unknown }"
_LOG_LEVEL = "enum { trace, debug, info, warn, error }"
_CALLER = f"record {{ component-id: option<{_CID}>, external-source: option<string> }}"
_CONTEXT = f"record {{ request-id: string, timeout-ms: u64, caller-info: option<{_CALLER}> }}"
_CONFIG = "record { env-vars: list<tuple<string, string>>, config-data: option<list<u8>> }"
_METADATA = ("record { name: string, version: string, description: string, "
             "supported-operations: list<string> }")

#: export name -> (WIT signature for messages, structural signature for comparison)
LIFECYCLE_FUNCS: dict[str, tuple[str, str]] = {
    "init": ("func(config: component-config) -> result<_, component-error>",
             f"func(config: {_CONFIG}) -> result<_, {_COMPONENT_ERROR}>"),
    "execute": ("func(operation: list<u8>, context: execution-context) -> "
                "result<list<u8>, execution-error>",
                f"func(operation: list<u8>, context: {_CONTEXT}) -> result<list<u8>, {_EXECUTION_ERROR}>"),
    "handle-message": ("func(sender: component-id, message: list<u8>) -> result<_, component-error>",
                       f"func(sender: {_CID}, message: list<u8>) -> result<_, {_COMPONENT_ERROR}>"),
    "handle-callback": ("func(id: request-id, outcome: result<list<u8>, string>) -> "
                        "result<_, component-error>",
                        f"func(id: string, outcome: result<list<u8>, string>) -> result<_, {_COMPONENT_ERROR}>"),
    "metadata": ("func() -> component-metadata", f"func() -> {_METADATA}"),
    "health": ("func() -> health-status", f"func() -> {_HEALTH}"),
    "shutdown": ("func() -> result<_, component-error>", f"func() -> result<_, {_COMPONENT_ERROR}>"),
}
REQUIRED = "handle-message"

#: The shipped worlds, smallest first: name -> the lifecycle functions it exports (all import
#: host-services). A toolchain must implement every export of the world it targets
#: (componentize-py, ``wasm-tools component new``), so a component picks the smallest world
#: that covers what it implements; the host accepts any of them (only handle-message is
#: required). ``airssys_wasm.runtime.write_world`` writes a world's WIT package.
WORLDS: dict[str, tuple[str, ...]] = {
    "airssys-handler": ("handle-message",),
    "airssys-service": ("execute", "handle-message"),
    "airssys-component": tuple(LIFECYCLE_FUNCS),
}


def satisfied_worlds(exports: frozenset[str] | set[str]) -> list[str]:
    """The shipped worlds whose every export is among ``exports``, smallest first."""
    return [name for name, funcs in WORLDS.items() if set(funcs) <= set(exports)]

HOST_SERVICE_FUNCS: dict[str, tuple[str, str]] = {
    "log": ("func(level: log-level, message: string, context: option<list<tuple<string, string>>>)",
            f"func(level: {_LOG_LEVEL}, message: string, context: option<list<tuple<string, string>>>)"),
    "send-message": ("func(target: component-id, message: list<u8>) -> result<_, messaging-error>",
                     f"func(target: {_CID}, message: list<u8>) -> result<_, {_MESSAGING_ERROR}>"),
    "send-request": ("func(target: component-id, request: list<u8>, timeout-ms: u64) -> "
                     "result<request-id, messaging-error>",
                     f"func(target: {_CID}, request: list<u8>, timeout-ms: u64) -> "
                     f"result<string, {_MESSAGING_ERROR}>"),
    "cancel-request": ("func(id: request-id) -> result<_, messaging-error>",
                       f"func(id: string) -> result<_, {_MESSAGING_ERROR}>"),
    "current-time-millis": ("func() -> u64", "func() -> u64"),
    "sleep-millis": ("func(ms: u64)", "func(ms: u64)"),
    "list-components": ("func() -> list<component-id>", f"func() -> list<{_CID}>"),
    "get-component-metadata": ("func(id: component-id) -> option<component-metadata>",
                               f"func(id: {_CID}) -> option<{_METADATA}>"),
}

@functools.cache
def _scalars() -> dict[type, str]:
    from wasmtime import component as wc

    return {
        wc.Bool: "bool", wc.S8: "s8", wc.S16: "s16", wc.S32: "s32", wc.S64: "s64",
        wc.U8: "u8", wc.U16: "u16", wc.U32: "u32", wc.U64: "u64", wc.F32: "f32", wc.F64: "f64",
        wc.Char: "char", wc.String: "string",
    }


_CUSTOM_INTERFACE = re.compile(
    r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?::[a-z][a-z0-9]*(?:-[a-z0-9]+)*)+"
    r"/[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?:@[0-9A-Za-z.+\-]+)?")


def is_custom_interface(name: str) -> bool:
    """An interface an embedder may provide: ``ns:pkg/iface[@version]``, outside the reserved
    ``airssys:`` and ``wasi:`` namespaces."""
    return (not name.startswith(("airssys:", "wasi:"))
            and _CUSTOM_INTERFACE.fullmatch(name) is not None)


def render_type(ty: Any) -> str:
    """Canonical structural text of a wasmtime-py component value type."""
    from wasmtime import component as wc

    scalar = _scalars().get(type(ty))
    if scalar is not None:
        return scalar
    if isinstance(ty, wc.ListType):
        return f"list<{render_type(ty.element)}>"
    if isinstance(ty, wc.OptionType):
        return f"option<{render_type(ty.payload)}>"
    if isinstance(ty, wc.ResultType):
        ok, err = ty.ok, ty.err
        return (f"result<{'_' if ok is None else render_type(ok)}, "
                f"{'_' if err is None else render_type(err)}>")
    if isinstance(ty, wc.TupleType):
        return "tuple<" + ", ".join(render_type(t) for t in ty.elements) + ">"
    if isinstance(ty, wc.RecordType):
        return "record { " + ", ".join(f"{n}: {render_type(t)}" for n, t in ty.fields) + " }"
    if isinstance(ty, wc.VariantType):
        cases = (n if t is None else f"{n}({render_type(t)})" for n, t in ty.cases)
        return "variant { " + ", ".join(cases) + " }"
    if isinstance(ty, wc.EnumType):
        return "enum { " + ", ".join(ty.names) + " }"
    if isinstance(ty, wc.FlagsType):
        return "flags { " + ", ".join(ty.names) + " }"
    if isinstance(ty, wc.OwnType):
        return "own<resource>"
    if isinstance(ty, wc.BorrowType):
        return "borrow<resource>"
    if isinstance(ty, wc.ResourceType):
        return "resource"
    return type(ty).__name__.lower()


def render_func(fty: wc.FuncType) -> str:
    params = ", ".join(f"{n}: {render_type(t)}" for n, t in fty.params)
    result = fty.result
    return f"func({params})" + ("" if result is None else f" -> {render_type(result)}")


@dataclass(frozen=True, slots=True)
class ComponentShape:
    """What validation learned: the lifecycle instance name, its functions, the imports."""

    instance: str
    exports: frozenset[str]
    imports: frozenset[str]
    host_services: frozenset[str]
    #: Imports of interfaces outside airssys:* and wasi:* (``acme:billing/ledger@1.0.0``): an
    #: embedder provides them (``Host.provide``); the host refuses them at spawn otherwise.
    custom_imports: frozenset[str] = frozenset()


def _funcs(instance_type: wc.ComponentInstanceType, engine: wasmtime.Engine) -> dict[str, wc.FuncType]:
    from wasmtime import component as wc

    return {n: e.ty for n, e in instance_type.exports(engine).items()
            if isinstance(e.ty, wc.FuncType)}


def _check(name: str, where: str, fty: wc.FuncType, expected: tuple[str, str], who: str) -> None:
    found = render_func(fty)
    if found != expected[1]:
        raise LoadError(
            f"{who}: {where} `{name}` has the wrong type.\n  expected: {name}: {expected[0]}\n"
            f"            = {expected[1]}\n  found:    {found}\n"
            f"Rebuild the component against the airssys:core@1.0.0 WIT shipped in airssys_wasm/wit.")


def validate_component(component: wc.Component, engine: wasmtime.Engine, who: str) -> ComponentShape:
    from wasmtime import component as wc

    ctype = component.type
    exports = ctype.exports(engine)
    instance = next((n for n in exports if n.startswith(_LIFECYCLE_PREFIX)), None)
    if instance is None:
        found = ", ".join(sorted(exports)) or "nothing"
        raise LoadError(
            f"{who}: does not export the instance `{LIFECYCLE}` (it exports: {found}). "
            f"A component must export `{REQUIRED}: {LIFECYCLE_FUNCS[REQUIRED][0]}` inside it; "
            "target the world airssys:core/airssys-component.")
    lifecycle = exports[instance].ty
    if not isinstance(lifecycle, wc.ComponentInstanceType):
        raise LoadError(f"{who}: export `{instance}` is a {type(lifecycle).__name__}, expected an "
                        "instance of the component-lifecycle interface")
    funcs = _funcs(lifecycle, engine)
    if REQUIRED not in funcs:
        raise LoadError(
            f"{who}: `{instance}` lacks the required export `{REQUIRED}`; expected "
            f"`{REQUIRED}: {LIFECYCLE_FUNCS[REQUIRED][0]}` (found: {', '.join(sorted(funcs)) or 'none'})")
    for name, fty in funcs.items():
        if name in LIFECYCLE_FUNCS:
            _check(name, f"export of {instance}", fty, LIFECYCLE_FUNCS[name], who)

    imports = ctype.imports(engine)
    services: frozenset[str] = frozenset()
    custom: set[str] = set()
    for name, ext in imports.items():
        if name.startswith("wasi:"):
            if not WASI_PROVIDED.fullmatch(name):
                raise LoadError(
                    f"{who}: imports `{name}`, a WASI interface airssys hosts do not provide; they "
                    "link WASI 0.2 (wasi:cli, clocks, filesystem, io, random, sockets @0.2.x): "
                    "rebuild with a WASI 0.2 toolchain or adapter")
            continue
        if name not in ALLOWED_IMPORTS:
            if is_custom_interface(name) and isinstance(ext.ty, wc.ComponentInstanceType):
                custom.add(name)
                continue
            raise LoadError(f"{who}: imports `{name}`, which airssys hosts do not provide; allowed "
                            f"imports are {', '.join(sorted(ALLOWED_IMPORTS))}, wasi:* and "
                            "interfaces of your own packages (ns:pkg/interface[@version]) that "
                            "the host provides with Host.provide")
        if name == HOST_SERVICES:
            ity = ext.ty
            if not isinstance(ity, wc.ComponentInstanceType):
                raise LoadError(f"{who}: import `{name}` must be an instance")
            used = _funcs(ity, engine)
            for fname, fty in used.items():
                if fname not in HOST_SERVICE_FUNCS:
                    raise LoadError(f"{who}: imports `{fname}` from {HOST_SERVICES}, which has no such "
                                    f"function (it has {', '.join(HOST_SERVICE_FUNCS)})")
                _check(fname, f"import from {HOST_SERVICES}", fty, HOST_SERVICE_FUNCS[fname], who)
            services = frozenset(used)
    return ComponentShape(instance=instance, exports=frozenset(funcs) & frozenset(LIFECYCLE_FUNCS),
                          imports=frozenset(imports), host_services=services,
                          custom_imports=frozenset(custom))


# Core-ABI lane: export name -> (params, results) as wasm value type names.
CORE_REQUIRED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "alloc": (("i32",), ("i32",)),
    "handle": (("i32", "i32", "i32", "i32"), ("i32",)),
}
CORE_OPTIONAL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "init": ((), ("i32",)),
    "execute": (("i32", "i32"), ("i64",)),
    "health": ((), ("i32",)),
    "shutdown": ((), ("i32",)),
}
_LIFECYCLE_OF_CORE = {"handle": "handle-message", "init": "init", "execute": "execute",
                      "health": "health", "shutdown": "shutdown"}


@dataclass(frozen=True, slots=True)
class CoreShape:
    exports: frozenset[str]  # lifecycle names (handle-message, execute, ...), as for components


def _core_sig(params: tuple[str, ...], results: tuple[str, ...]) -> str:
    return f"func({', '.join(params)})" + (f" -> {', '.join(results)}" if results else "")


def validate_core_module(module: wasmtime.Module, who: str) -> CoreShape:
    import wasmtime

    if module.imports:
        first = module.imports[0]
        raise LoadError(f"{who}: core-ABI modules may not import anything, but it imports "
                        f"`{first.module}.{first.name}`; make it self-contained or build a component")
    exports = {e.name: e.type for e in module.exports}
    if not isinstance(exports.get("memory"), wasmtime.MemoryType):
        raise LoadError(f"{who}: core-ABI module must export its linear memory as `memory`")
    present = set()
    for table, required in ((CORE_REQUIRED, True), (CORE_OPTIONAL, False)):
        for name, (params, results) in table.items():
            ty = exports.get(name)
            expected = _core_sig(params, results)
            if ty is None:
                if required:
                    raise LoadError(f"{who}: core-ABI module lacks the required export `{name}: "
                                    f"{expected}`")
                continue
            if not isinstance(ty, wasmtime.FuncType):
                raise LoadError(f"{who}: export `{name}` must be a function `{expected}`")
            found = _core_sig(tuple(str(p) for p in ty.params), tuple(str(r) for r in ty.results))
            if found != expected:
                raise LoadError(f"{who}: export `{name}` has type `{found}`; expected `{expected}`")
            present.add(_LIFECYCLE_OF_CORE.get(name, name))
    return CoreShape(exports=frozenset(present) - {"alloc"})
