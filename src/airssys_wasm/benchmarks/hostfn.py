"""Custom host functions (``Host.provide``) vs wasmtime-py ``LinkerInstance.add_func``.

"Ours" is exactly what a spawned component gets: the WIT parsed into a :class:`HostInterface`,
its Python functions wrapped by the host (caller context, error mapping, optional metering)
and registered as C trampolines with plans compiled from the guest's import types. The
baseline registers the same Python function with wasmtime-py's public API on the same
compiled component. Each guest message makes ``CALLS`` host calls, so the per-call figure is
the message time divided by ``CALLS`` (the message itself is amortised away). The "metered" row
is a component with ``[quota] interface_calls_per_second``: every call is then a security
decision (token bucket + one audit line, written to /dev/null here). The resource row is a
method call on a host resource (``[method]counter.add``, the object found from the handle's
rep in the Store's table); wasmtime-py's reference defines the same resource with
``add_resource`` + ``ResourceHost`` and looks the object up in a dict by the same rep.
"""

from __future__ import annotations

import os
from typing import Any

import wasmtime.component as wc

from airssys_wasm.benchmarks.fast import REALLOC_WAT, SENDER, TYPES_WAT, _LIFECYCLE
from airssys_wasm.benchmarks.fast import _sender_record, _wasmtime_py_export
from airssys_wasm.benchmarks.timing import Comparison, time_stmt
from airssys_wasm.host.interfaces import BoundInterface, HostInterface, InterfaceRegistry
from airssys_wasm.runtime import ComponentId, Engine, EngineConfig, HostServices
from airssys_wasm.security import (
    AuditLog,
    HostSecurity,
    PermissionPolicy,
    StreamAuditSink,
    load_manifest,
)

TITLE = "Custom host functions: Host.provide vs wasmtime-py add_func"

INTERFACE = "bench:host/calc@1.0.0"
WIT = """package bench:host@1.0.0;

interface calc {
    record item { name: string, qty: u32 }

    add: func(a: u32, b: u32) -> u32;
    describe: func(it: item) -> string;
}
"""

#: Host calls per guest message.
CALLS = 100

GUEST = r"""(component
  (import "%s" (instance $h
    (type $item' (record (field "name" string) (field "qty" u32)))
    (export "item" (type $item (eq $item')))
    (export "add" (func (param "a" u32) (param "b" u32) (result u32)))
    (export "describe" (func (param "it" $item) (result string)))))
  (alias export $h "add" (func $add))
  (alias export $h "describe" (func $describe))
  %s
  (core module $mem (memory (export "memory") 1) %s)
  (core instance $mi (instantiate $mem))
  (core func $add_low (canon lower (func $add)))
  (core func $describe_low (canon lower (func $describe) (memory (core memory $mi "memory"))
                                        (realloc (core func $mi "realloc"))))
  (core module $main
    (import "h" "add" (func $add (param i32 i32) (result i32)))
    (import "h" "describe" (func $describe (param i32 i32 i32 i32)))
    (import "h" "memory" (memory 1))
    (data (i32.const 100) "widget")  ;; the item's name
    (func (export "handle-message") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (local $n i32)
      (local.set $n (i32.const %d))
      (loop $again  ;; an empty message: add; any other: describe
        (if (i32.eqz (local.get 7))
          (then (drop (call $add (local.get $n) (i32.const 1))))
          (else (call $describe (i32.const 100) (i32.const 6) (local.get $n) (i32.const 32))))
        (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.const 16)))
  (core instance $i (instantiate $main (with "h" (instance (export "add" (func $add_low))
                                                           (export "describe" (func $describe_low))
                                                           (export "memory" (memory $mi "memory"))))))
  (func $hm (param "sender" $cid) (param "message" (list u8)) (result (result (error $cerr)))
    (canon lift (core func $i "handle-message") (memory (core memory $mi "memory"))
                (realloc (core func $mi "realloc")) (post-return (core func $mi "post"))))
  %s
)""" % (INTERFACE, TYPES_WAT, REALLOC_WAT, CALLS, _LIFECYCLE)


RESOURCE_INTERFACE = "bench:host/counters@1.0.0"
RESOURCE_WIT = """package bench:host@1.0.0;

interface counters {
    resource counter {
        constructor(start: u32);
        add: func(n: u32) -> u32;
    }
}
"""

#: Each message: one counter, CALLS method calls on it (borrow), one drop.
RESOURCE_GUEST = r"""(component
  (import "%s" (instance $h
    (export "counter" (type $c (sub resource)))
    (export "[constructor]counter" (func (param "start" u32) (result (own $c))))
    (export "[method]counter.add" (func (param "self" (borrow $c)) (param "n" u32) (result u32)))))
  (alias export $h "counter" (type $counter))
  (alias export $h "[constructor]counter" (func $new))
  (alias export $h "[method]counter.add" (func $add))
  %s
  (core module $mem (memory (export "memory") 1) %s)
  (core instance $mi (instantiate $mem))
  (core func $new_low (canon lower (func $new)))
  (core func $add_low (canon lower (func $add)))
  (core func $drop_low (canon resource.drop $counter))
  (core module $main
    (import "h" "new" (func $new (param i32) (result i32)))
    (import "h" "add" (func $add (param i32 i32) (result i32)))
    (import "h" "drop" (func $drop (param i32)))
    (func (export "handle-message") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (local $n i32) (local $c i32)
      (local.set $c (call $new (i32.const 0)))
      (local.set $n (i32.const %d))
      (loop $again
        (drop (call $add (local.get $c) (i32.const 1)))
        (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (call $drop (local.get $c))
      (i32.const 0)))
  (core instance $i (instantiate $main (with "h" (instance (export "new" (func $new_low))
                                                           (export "add" (func $add_low))
                                                           (export "drop" (func $drop_low))))))
  (func $hm (param "sender" $cid) (param "message" (list u8)) (result (result (error $cerr)))
    (canon lift (core func $i "handle-message") (memory (core memory $mi "memory"))
                (realloc (core func $mi "realloc")) (post-return (core func $mi "post"))))
  %s
)""" % (RESOURCE_INTERFACE, TYPES_WAT, REALLOC_WAT, CALLS, _LIFECYCLE)


class Counters:
    """The resource implementation both sides call."""

    class Counter:
        def __init__(self, start: int) -> None:
            self.value = start

        def add(self, n: int) -> int:
            self.value += n
            return self.value


def _wasmtime_py_resources(linker: wc.Linker) -> None:
    """The reference: wasmtime-py's host resources, a rep -> object dict like ours."""
    objects: dict[int, Counters.Counter] = {}
    next_rep = [1]

    def new(store: Any, start: int) -> wc.ResourceHost:
        rep = next_rep[0]
        next_rep[0] += 1
        objects[rep] = Counters.Counter(start)
        return wc.ResourceHost.own(rep, 1)

    def add(store: Any, handle: wc.ResourceAny, n: int) -> int:
        return objects[handle.to_host(store).rep].add(n)

    def drop(store: Any, rep: int) -> None:
        del objects[rep]

    with linker.root() as root, root.add_instance(RESOURCE_INTERFACE) as li:
        li.add_resource("counter", wc.ResourceType.host(1), drop)
        li.add_func("[constructor]counter", new)
        li.add_func("[method]counter.add", add)


class Calc:
    """The embedder's implementation: the same functions both sides call."""

    @staticmethod
    def add(a: int, b: int) -> int:
        return a + b

    @staticmethod
    def describe(it: dict[str, Any]) -> str:
        return it["name"]


def _resource_row(engine: Engine, t: Any, ns: dict[str, Any]) -> Comparison:
    artifact = engine.load(RESOURCE_GUEST, name="counters")
    provided = HostInterface(RESOURCE_WIT, Counters())
    functions, gates = BoundInterface(provided).functions(provided.functions)
    artifact.define_imports(RESOURCE_INTERFACE, functions,  # type: ignore[attr-defined]
                            with_data=False, gates=gates, resources=provided.resource_hooks())
    linker = wc.Linker(engine.wasm_engine)
    _wasmtime_py_resources(linker)
    store, _, funcs = _wasmtime_py_export(engine, artifact, linker, ("handle-message",))
    ns.update(res_ours=artifact.instantiate(services=HostServices(ComponentId("counters"))),
              res_store=store, res_hm=funcs["handle-message"])
    try:
        return Comparison(f"resource method counter.add(borrow, u32) -> u32 (per call, {CALLS} "
                          "per message + new + drop)", t("res_ours.handle_message(S, scalar)"),
                          "wasmtime-py add_resource + ResourceHost",
                          t("res_hm(res_store, rec, scalar)"))
    finally:
        ns["res_ours"].close()


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """Per-call cost of a scalar and a record -> string custom host call, ours vs wasmtime-py."""
    engine = Engine(EngineConfig())
    try:
        artifact = engine.load(GUEST, name="calc")
        provided = HostInterface(WIT, Calc())
        functions, gates = BoundInterface(provided).functions(("add", "describe"))
        artifact.define_imports(INTERFACE, functions, with_data=False,  # type: ignore[attr-defined]
                                gates=gates)
        ours = artifact.instantiate(services=HostServices(ComponentId("calc")))
        devnull = open(os.devnull, "w")  # noqa: SIM115 (closed below)
        security = HostSecurity(PermissionPolicy(audit=AuditLog([StreamAuditSink(devnull,
                                                                                 flush=False)])))
        security.policy.register("metered", load_manifest(
            '[component]\nname = "metered"\nversion = "1.0.0"\n[capabilities]\n'
            'interfaces = ["bench:host/*"]\n[quota]\ninterface_calls_per_second = 1e9\n'))
        gate = InterfaceRegistry(security).call_gate("metered")
        metered = artifact.instantiate(services=HostServices(ComponentId("metered"),
                                                             call_gate=gate))

        linker = wc.Linker(engine.wasm_engine)
        with linker.root() as root, root.add_instance(INTERFACE) as li:
            li.add_func("add", lambda _s, a, b: Calc.add(a, b))
            li.add_func("describe", lambda _s, it: it.name)
        store, _, funcs = _wasmtime_py_export(engine, artifact, linker, ("handle-message",))

        ns: dict[str, Any] = {"ours": ours, "metered": metered, "S": SENDER, "rec": _sender_record(), "store": store,
                              "hm": funcs["handle-message"], "scalar": b"", "record": b"r"}

        def t(stmt: str) -> float:
            return time_stmt(stmt, ns, repeat=repeat, min_seconds=min_seconds) / CALLS

        rows = [
            Comparison(f"custom add(u32, u32) -> u32 (per call, {CALLS} per message)",
                       t("ours.handle_message(S, scalar)"), "wasmtime-py add_func",
                       t("hm(store, rec, scalar)")),
            Comparison(f"custom describe(record) -> string (per call, {CALLS} per message)",
                       t("ours.handle_message(S, record)"), "wasmtime-py add_func",
                       t("hm(store, rec, record)")),
            Comparison("custom add, metered: quota + audit line per call",
                       t("metered.handle_message(S, scalar)"), "wasmtime-py add_func",
                       t("hm(store, rec, scalar)")),
        ]
        rows.append(_resource_row(engine, t, ns))
        ours.close()
        metered.close()
        devnull.close()
        return rows
    finally:
        engine.close()
