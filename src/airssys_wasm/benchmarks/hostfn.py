"""Custom host functions (``Host.provide``) vs wasmtime-py ``LinkerInstance.add_func``.

"Ours" is exactly what a spawned component gets: the WIT parsed into a :class:`HostInterface`,
its Python functions wrapped by the host (caller context, error mapping, optional metering)
and registered as C trampolines with plans compiled from the guest's import types. The
baseline registers the same Python function with wasmtime-py's public API on the same
compiled component. Each guest message makes ``CALLS`` host calls, so the per-call figure is
the message time divided by ``CALLS`` (the message itself is amortised away). The "metered" row
is a component with ``[quota] interface_calls_per_second``: every call is then a security
decision (token bucket + one audit line, written to /dev/null here).
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


class Calc:
    """The embedder's implementation: the same functions both sides call."""

    @staticmethod
    def add(a: int, b: int) -> int:
        return a + b

    @staticmethod
    def describe(it: dict[str, Any]) -> str:
        return it["name"]


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
        ours.close()
        metered.close()
        devnull.close()
        return rows
    finally:
        engine.close()
