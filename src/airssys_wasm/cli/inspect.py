"""``airssys-wasm inspect``: what a .wasm/.wat file is and whether the host would accept it.

The loader stops at the first problem (a LoadError is enough to refuse a file); a person
fixing a component wants all of them, with the expected WIT signature next to the one found.
So this walks the whole interface itself, using the loader's own tables of expected
signatures, on the code the real loader compiled. The verdict is the loader's (the one
``Host.spawn`` uses), so the two never disagree: the walk only explains a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import component as wc

from airssys_wasm.errors import LoadError
from airssys_wasm.host.interfaces import check_imports
from airssys_wasm.runtime import Engine, EngineConfig, world
from airssys_wasm.runtime.cache import default_cache_dir
from airssys_wasm.runtime.wit_parser import WitInterface, load_wit_packages
from airssys_wasm.runtime.loader import COMPONENT_VERSION, CORE_VERSION, MAGIC, read_source
from airssys_wasm.runtime.world import (
    ALLOWED_IMPORTS,
    CORE_OPTIONAL,
    CORE_REQUIRED,
    HOST_SERVICE_FUNCS,
    HOST_SERVICES,
    LIFECYCLE,
    LIFECYCLE_FUNCS,
    REQUIRED,
    is_custom_interface,
    render_func,
    render_type,
    satisfied_worlds,
)

__all__ = ["Report", "inspect_file", "render_report"]

MAX_BYTES = 256 << 20

# Structural renderings of the airssys:core types -> their WIT names, outermost first (a
# context contains a caller-info, which contains a component-id).
_NAMED = [
    (world._CONTEXT, "execution-context"), (world._CALLER, "caller-info"),
    (world._CONFIG, "component-config"), (world._METADATA, "component-metadata"),
    (world._COMPONENT_ERROR, "component-error"), (world._EXECUTION_ERROR, "execution-error"),
    (world._MESSAGING_ERROR, "messaging-error"), (world._HEALTH, "health-status"),
    (world._LOG_LEVEL, "log-level"), (world._CID, "component-id"),
]


def wit_names(text: str, *, defining: str = "") -> str:
    """Shorten a structural signature with the airssys:core type names it uses (except the
    type being ``defining``, whose body is the point)."""
    for structural, name in _NAMED:
        if name != defining:
            text = text.replace(structural, name)
    return text


@dataclass
class Report:
    path: str
    kind: str  # "component" | "core module"
    size: int
    target: str  # the world or lane it was checked against
    imports: list[tuple[str, list[str]]] = field(default_factory=list)  # (name, item lines)
    exports: list[tuple[str, list[str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The shipped worlds whose every export the component implements, smallest first.
    worlds: list[str] = field(default_factory=list)


def _items(ty: Any, engine: wasmtime.Engine) -> list[str]:
    """One line per function (WIT-style signature) or type of an imported/exported item."""
    if isinstance(ty, wc.FuncType):
        return [wit_names(render_func(ty))]
    if isinstance(ty, wc.ComponentInstanceType):
        lines = []
        for name, ext in ty.exports(engine).items():
            inner = ext.ty
            if isinstance(inner, wc.FuncType):
                lines.append(f"{name}: {wit_names(render_func(inner))}")
            else:
                try:
                    lines.append(f"type {name} = {wit_names(render_type(inner), defining=name)}")
                except TypeError:
                    lines.append(f"type {name}")
        return lines
    return [type(ty).__name__]


def _funcs(ty: Any, engine: wasmtime.Engine) -> dict[str, wc.FuncType]:
    if not isinstance(ty, wc.ComponentInstanceType):
        return {}
    return {n: e.ty for n, e in ty.exports(engine).items() if isinstance(e.ty, wc.FuncType)}


def _custom_import(report: Report, name: str, ty: wc.ComponentInstanceType,
                   engine: wasmtime.Engine, provided: dict[str, tuple[WitInterface, str]] | None
                   ) -> None:
    """A custom interface import: whether the given WIT (``--wit``) provides it, typed alike."""
    hint = ("a host must provide it (Host.provide / HostConfig(interfaces=...)) and the "
            "component's manifest must grant it ([capabilities] interfaces)")
    if provided is None:
        report.notes.append(f"import `{name}` is a custom interface: {hint}; provided: not known "
                            "without a host (pass --wit with the host's WIT, or spawn it)")
        return
    found = provided.get(name)
    if found is None:
        report.problems.append(f"import `{name}` is a custom interface that the given --wit "
                               f"does not declare ({', '.join(sorted(provided)) or 'nothing'})")
        return
    interface, source = found
    try:
        check_imports(f"import `{name}`", interface, _funcs(ty, engine), f"--wit {source}")
    except LoadError as exc:
        report.problems.append(str(exc))
    else:
        report.notes.append(f"import `{name}` is a custom interface declared by --wit {source} "
                            f"with the same types; {hint}")


def _check_component(report: Report, component: wc.Component, engine: wasmtime.Engine,
                     provided: dict[str, tuple[WitInterface, str]] | None = None) -> None:
    ctype = component.type
    imports = ctype.imports(engine)
    exports = ctype.exports(engine)
    report.imports = [(n, _items(e.ty, engine)) for n, e in imports.items()]
    report.exports = [(n, _items(e.ty, engine)) for n, e in exports.items()]

    instance = next((n for n in exports if n.startswith("airssys:core/component-lifecycle@1.")),
                    None)
    if instance is None:
        report.problems.append(
            f"missing export: the instance `{LIFECYCLE}` with at least "
            f"`{REQUIRED}: {LIFECYCLE_FUNCS[REQUIRED][0]}` (target the world "
            "airssys:core/airssys-component)")
    else:
        funcs = _funcs(exports[instance].ty, engine)
        if REQUIRED not in funcs:
            report.problems.append(f"missing export: `{REQUIRED}: {LIFECYCLE_FUNCS[REQUIRED][0]}` "
                                   f"in `{instance}`")
        for name, (wit, structural) in LIFECYCLE_FUNCS.items():
            fty = funcs.get(name)
            if fty is None:
                if name != REQUIRED:
                    report.notes.append(f"optional export `{name}` not provided (the host uses "
                                        "its default)")
                continue
            found = render_func(fty)
            if found != structural:
                report.problems.append(f"wrong type for export `{name}`:\n    expected "
                                       f"{name}: {wit}\n    found    {wit_names(found)}")
        for name in sorted(set(funcs) - set(LIFECYCLE_FUNCS)):
            report.notes.append(f"export `{name}` is not part of the world; the host ignores it")
        report.worlds = satisfied_worlds(set(funcs) & set(LIFECYCLE_FUNCS))

    for name, ext in imports.items():
        if name.startswith("wasi:"):
            continue
        if name not in ALLOWED_IMPORTS and is_custom_interface(name) \
                and isinstance(ext.ty, wc.ComponentInstanceType):
            _custom_import(report, name, ext.ty, engine, provided)
        elif name not in ALLOWED_IMPORTS:
            report.problems.append(f"import `{name}` is not provided by airssys hosts (allowed: "
                                   f"{', '.join(sorted(ALLOWED_IMPORTS))}, wasi:* and custom "
                                   "interfaces ns:pkg/interface[@version] outside airssys:)")
        elif name == HOST_SERVICES:
            for fname, fty in _funcs(ext.ty, engine).items():
                expected = HOST_SERVICE_FUNCS.get(fname)
                if expected is None:
                    report.problems.append(f"import `{fname}` from {HOST_SERVICES} does not exist "
                                           f"(it has {', '.join(HOST_SERVICE_FUNCS)})")
                elif render_func(fty) != expected[1]:
                    report.problems.append(f"wrong type for import `{fname}`:\n    expected "
                                           f"{fname}: {expected[0]}\n    found    {wit_names(render_func(fty))}")


def _sig(ty: wasmtime.FuncType) -> str:
    params = ", ".join(str(p) for p in ty.params)
    results = ", ".join(str(r) for r in ty.results)
    return f"func({params})" + (f" -> {results}" if results else "")


def _check_core(report: Report, module: wasmtime.Module, engine: wasmtime.Engine) -> None:
    report.imports = [(f"{i.module}.{i.name}", [_sig(i.type) if isinstance(i.type, wasmtime.FuncType)
                                                else type(i.type).__name__]) for i in module.imports]
    exports = {e.name: e.type for e in module.exports}
    report.exports = [(n, [_sig(t) if isinstance(t, wasmtime.FuncType) else type(t).__name__])
                      for n, t in exports.items()]
    for name, _ in report.imports:
        report.problems.append(f"import `{name}`: core-ABI modules may not import anything")
    if not isinstance(exports.get("memory"), wasmtime.MemoryType):
        report.problems.append("missing export: the linear memory as `memory`")
    for table, required in ((CORE_REQUIRED, True), (CORE_OPTIONAL, False)):
        for name, (params, results) in table.items():
            expected = f"func({', '.join(params)})" + (f" -> {', '.join(results)}" if results else "")
            ty = exports.get(name)
            if ty is None:
                if required:
                    report.problems.append(f"missing export: `{name}: {expected}`")
                else:
                    report.notes.append(f"optional export `{name}` not provided")
            elif not isinstance(ty, wasmtime.FuncType) or _sig(ty) != expected:
                found = _sig(ty) if isinstance(ty, wasmtime.FuncType) else type(ty).__name__
                report.problems.append(f"wrong type for export `{name}`: expected {expected}, "
                                       f"found {found}")


def _provided(wit: Sequence[Path]) -> dict[str, tuple[WitInterface, str]]:
    out: dict[str, tuple[WitInterface, str]] = {}
    for path in wit:
        for package in load_wit_packages(path).values():
            for interface in package.interfaces.values():
                out[interface.qualified] = (interface, str(path))
    return out


def inspect_file(path: Path, wit: Sequence[Path] = ()) -> Report:
    """Analyse ``path``; LoadError if it cannot be read or is not WebAssembly at all.

    ``wit``: WIT files/folders of the custom interfaces a host would provide; each custom
    import is then checked against them (declared? same types?) instead of left unknown.
    WitError when one does not parse.

    It compiles through the CLI's compile cache (:func:`~airssys_wasm.runtime.cache.default_cache_dir`)
    with the host's default engine settings, so inspecting a big guest twice, or inspecting it
    and then running it, compiles it once."""
    provided = _provided(wit) if wit else None
    data, label = read_source(path, MAX_BYTES)
    if len(data) < 8 or data[:4] != MAGIC or data[4:8] not in (CORE_VERSION, COMPONENT_VERSION):
        raise LoadError(f"{label}: not a WebAssembly module or component (expected a .wasm binary "
                        "starting with \\0asm, or .wat text)")
    component = data[4:8] == COMPONENT_VERSION
    report = Report(path=label, kind="component" if component else "core module", size=len(data),
                    target="the airssys-component world" if component else "the core-ABI lane")
    del data  # a big guest's bytes are not needed any more: the compiled code comes from the cache
    # The verdict is the loader's, the one Host.spawn uses; the walk below only explains it,
    # on the code the loader compiled (through the cache: a big guest compiles at most once).
    refusal: LoadError | None = None
    with Engine(EngineConfig(cache_dir=default_cache_dir(), max_source_bytes=MAX_BYTES)) as runtime:
        name = Path(label).stem
        try:
            artifact = runtime.load(path, name=name)
            code = getattr(artifact, "component" if component else "module")
        except LoadError as exc:
            refusal = exc
            code = runtime.compile(path, name=name).code  # a LoadError if it does not compile
        try:
            if isinstance(code, wc.Component):
                _check_component(report, code, runtime.wasm_engine, provided)
            else:
                _check_core(report, code, runtime.wasm_engine)
        except TypeError as exc:  # wasmtime-py cannot describe an item
            report.problems.append(f"uses a type this runtime cannot inspect ({exc})")
    if refusal is not None and not report.problems:
        report.problems.append(str(refusal))
    elif refusal is None and report.problems and provided is None:
        # The world walk is stricter than the host: trust the host. (With --wit, a custom
        # import that disagrees with the given WIT is a problem the loader cannot see: spawn
        # under that host would refuse it.)
        report.notes += [f"(the host accepts this) {p}" for p in report.problems]
        report.problems = []
    if report.problems:
        report.worlds = []
    return report


def render_report(console: Any, report: Report) -> None:
    from rich.markup import escape

    console.print(f"[bold]{escape(report.path)}[/]: {report.kind}, {report.size:,} bytes", soft_wrap=True)
    for title, items in (("imports", report.imports), ("exports", report.exports)):
        console.print(f"\n[bold]{title}[/] ({len(items)})" + ("" if items else ": none"))
        for name, lines in items:
            console.print(f"  {escape(name)}", soft_wrap=True)
            for line in lines:
                console.print(f"      {escape(line)}", highlight=False, soft_wrap=True)
    console.print()
    for note in report.notes:
        console.print(f"  note: {escape(note)}", highlight=False, soft_wrap=True)
    if report.problems:
        console.print(f"[red]does not satisfy {report.target}[/]:")
        for problem in report.problems:
            console.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)
    else:
        console.print(f"[green]satisfies {report.target}[/]")
        if report.worlds:
            console.print(f"worlds it satisfies: {', '.join(report.worlds)}", highlight=False, soft_wrap=True)
