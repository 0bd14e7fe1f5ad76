"""Public surface of the fast call path (layer 1): what the runtime adopts.

wasmtime-py does setup (Engine, compile, Linker, Store, instantiate); these wrappers do the
per-call work in C over the same library, with every function's types compiled once:

- :class:`ComponentFunc` — ``ComponentFunc.from_export(store, instance, "handle-message")``,
  then ``f(*args)``. Args/results use the value mapping below. The GIL is released while the
  guest runs, so an epoch ticker thread keeps working.
- :func:`define_host_func` / :func:`define_host_funcs` — register Python callables as C
  trampolines in a ``wasmtime.component.LinkerInstance`` (policy stays in the callable). The
  plan comes from the importing component's declared type, or — for a Linker shared by all
  components and built before any is loaded — from the type of the first call.
- :func:`configure_store` — per-call limits applied in C on every call into a Store (fuel
  refill, epoch deadline, a deadline host functions can read with :func:`current_deadline`)
  and the ``data`` that host functions defined ``with_data=True`` receive as first argument.
- :class:`CoreFunc` — numeric core-module exports.
- Suspension: every call goes through wasmtime's async C API. ``f(*args)`` runs the guest to
  the end; ``f.start(*args)`` returns a :class:`GuestCall` when it suspends (its time slice of
  ``configure_store(slice_ticks=...)`` ran out, or an async host function — one defined with
  ``suspends=True`` — returned an unfinished :class:`HostWait`). The driver polls the GuestCall
  again when it can continue (``waiting`` says on what) and ``finish()`` gives the result.
  :func:`instantiate_component` / :func:`instantiate_module` instantiate through the same API
  (required once a Linker holds an async function); :class:`EpochTicker` is the C epoch thread.
- :class:`StoreMaker` / :class:`NativeStore` — Stores made and deleted in C (the restart path):
  accepted wherever a ``wasmtime.Store`` is; ``wasmtime_store()`` gives a wasmtime-py view of
  one for wasmtime-py APIs (WASI setup, exports called through wasmtime-py).
- :class:`CoreLane` — the core-ABI lane: ``CoreLane(store, instance).handle(sender, message)``
  copies payloads with one memcpy into memory obtained from the guest's ``alloc``.

Value mapping (Python <-> WIT), identical for export calls and host functions:

=====================  ========================================================================
WIT                    Python
=====================  ========================================================================
bool                   ``bool`` (ints are refused)
s8 … u64               ``int``, range-checked (``bool`` is refused)
f32, f64               ``float`` (``int`` accepted when lowering)
char                   1-character ``str`` (surrogates refused)
string                 ``str``
list<u8>               ``bytes`` out; any contiguous bytes-like object in
list<T>                ``list`` out; ``list`` or ``tuple`` in
record                 ``dict`` keyed by field name (missing/unknown fields are errors)
tuple<…>               ``tuple`` (``list`` accepted in)
variant                ``(case, payload)``; payload ``None`` for cases without one (a bare case
                       name is accepted in for those)
enum                   the case name, ``str``
option<T>              ``None`` or the value; ``Some(value)`` when T is itself an option
result<T, E>           ``("ok", value)`` / ``("err", value)``; value ``None`` when absent
flags                  ``frozenset`` of flag names (any set/list of names in)
own<r>, borrow<r>      the Python object of a host resource (:func:`define_host_resource`):
                       a borrow hands the object, an own moves it (out of, or into, the
                       calling Store's resource table)
=====================  ========================================================================

Streams, futures, error-context and resources the host does not define (a guest's own) are
not supported: building a plan for a function that uses them raises TypeError (call such
functions through wasmtime-py).

Errors: wrong arity or value types raise TypeError/ValueError naming the parameter and path
(``parameter 'sender' of handle-message(...): .name: expected str ...``); traps and guest faults
raise :class:`airssys_wasm.errors.TrapError` with a ``kind``; a Python exception raised by a host
function aborts the guest and is the ``__cause__`` of the caller's TrapError. A closed Store, a
handle from another Store, or a Store entered from two threads at once are refused with
ValueError/RuntimeError instead of reaching wasmtime (which would abort the process).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import wasmtime
import wasmtime.component as wc

from airssys_wasm._fast._wasmtime import (
    ComponentFunc,
    CoreFunc,
    CoreLane,
    EpochTicker,
    FramePath,
    FuncPlan,
    GuestCall,
    HostFunc,
    HostResource,
    HostWait,
    Oversized,
    Some,
    call_suspendable,
    configure_store,
    current_data,
    current_deadline,
    define_host_func,
    define_host_resource,
    ComponentExports,
    ExportTable,
    InstancePre,
    NativeStore,
    StoreMaker,
    instantiate_component,
    instantiate_exports,
    instantiate_module,
    release_resources,
    trap_kind_from_message,
)

__all__ = [
    "ComponentFunc",
    "CoreFunc",
    "CoreLane",
    "EpochTicker",
    "FramePath",
    "FuncPlan",
    "GuestCall",
    "HostFunc",
    "HostResource",
    "HostWait",
    "Oversized",
    "Some",
    "call_suspendable",
    "configure_store",
    "current_data",
    "current_deadline",
    "define_host_func",
    "define_host_funcs",
    "define_host_resource",
    "import_func_types",
    "import_resource_types",
    "ComponentExports",
    "ExportTable",
    "InstancePre",
    "NativeStore",
    "StoreMaker",
    "instantiate_component",
    "instantiate_exports",
    "instantiate_module",
    "release_resources",
    "trap_kind_from_message",
]


def import_func_types(component: wc.Component, engine: wasmtime.Engine) -> dict[str, dict[str, wc.FuncType]]:
    """The function types a component imports: ``{instance name: {function name: FuncType}}``.

    Functions imported at the root (not inside an instance) are listed under ``""``. These are
    the types host functions must be registered with, read once per component at load.
    """
    out: dict[str, dict[str, wc.FuncType]] = {}
    for name, extern in component.type.imports(engine).items():
        ty = extern.ty
        if isinstance(ty, wc.FuncType):
            out.setdefault("", {})[name] = ty
        elif isinstance(ty, wc.ComponentInstanceType):
            funcs = {fname: fext.ty for fname, fext in ty.exports(engine).items()}
            out[name] = {fname: fty for fname, fty in funcs.items() if isinstance(fty, wc.FuncType)}
    return out


def define_host_funcs(
    linker: wc.Linker,
    component: wc.Component,
    engine: wasmtime.Engine,
    instance: str,
    callbacks: Mapping[str, Callable[..., Any]],
    *,
    with_data: bool = False,
    suspending: frozenset[str] = frozenset(),
    gates: Mapping[str, str] | None = None,
    resources: Mapping[str, tuple[type | None, Callable[[Any], Any] | None]] | None = None,
) -> dict[str, HostFunc]:
    """Define every function of import ``instance`` that ``callbacks`` names, as C trampolines.

    Types come from ``component``'s own import declarations. A callback for a function the
    component does not import is an error (it is probably misspelt); imported functions without
    a callback are left undefined (instantiation then reports them). The functions named in
    ``suspending`` are registered as async (they may return a :class:`HostWait`); ``gates``
    gives a function its ``gate`` label (see :func:`define_host_func`).

    ``resources``: resource name -> ``(class, drop hook)`` of the host resources of this
    instance (see :func:`define_host_resource`); those the component imports are defined
    first, and own/borrow values of them in the functions' types become Python objects.
    """
    imported = import_func_types(component, engine).get(instance)
    if imported is None:
        raise LookupError(f"the component does not import an instance named {instance!r}")
    unknown = sorted(set(callbacks) - set(imported))
    if unknown:
        raise LookupError(f"{instance!r} has no function(s) {', '.join(map(repr, unknown))}; "
                          f"it declares: {', '.join(sorted(imported))}")
    guest_resources = import_resource_types(component, engine).get(instance, {})
    unknown = sorted(set(guest_resources) - set(resources or ()))
    if unknown:
        raise LookupError(f"{instance!r}: the component imports resource(s) "
                          f"{', '.join(map(repr, unknown))}, which were not given")
    defined: dict[str, HostFunc] = {}
    with linker.root() as root:
        with root.add_instance(instance) as li:
            pairs = [(guest_resources[name], define_host_resource(li, name, cls, drop))
                     for name, (cls, drop) in (resources or {}).items() if name in guest_resources]
            for name, callback in callbacks.items():
                defined[name] = define_host_func(li, name, callback, imported[name],
                                                 with_data=with_data, suspends=name in suspending,
                                                 gate=None if gates is None else gates.get(name),
                                                 resources=pairs or None)
    return defined


def import_resource_types(component: wc.Component,
                          engine: wasmtime.Engine) -> dict[str, dict[str, wc.ResourceType]]:
    """The resource types a component imports: ``{instance name: {resource: ResourceType}}``
    (what own/borrow values in its imported function types refer to)."""
    out: dict[str, dict[str, wc.ResourceType]] = {}
    for name, extern in component.type.imports(engine).items():
        ty = extern.ty
        if isinstance(ty, wc.ComponentInstanceType):
            found = {rname: rext.ty for rname, rext in ty.exports(engine).items()
                     if isinstance(rext.ty, wc.ResourceType)}
            if found:
                out[name] = found
    return out
