"""Fast call path, end to end through the runtime, vs plain wasmtime-py on the same guests.

"Ours" is what a user of :mod:`airssys_wasm.runtime` gets: ``Instance.handle_message`` (sender
conversion, limits armed in C, trap handling) over the Cython C-API call path, host-services as
C trampolines. The baseline is wasmtime-py's public component API doing the same call on an
instance of the same compiled component (``Func.__call__`` with a ``Record`` sender, host
functions via ``LinkerInstance.add_func``). Guests are generated WAT text, below.
"""

from __future__ import annotations

from typing import Any

import wasmtime
import wasmtime.component as wc

from airssys_wasm._fast.fastcall import ComponentFunc
from airssys_wasm.benchmarks.timing import Comparison, time_stmt
from airssys_wasm.runtime import ComponentId, Engine, EngineConfig, HostServices
from airssys_wasm.runtime import host_services as hs
from airssys_wasm.runtime.world import HOST_SERVICES, LIFECYCLE

TITLE = "Fast call path: component and core calls, host calls (vs wasmtime-py)"

#: The component-id / component-error types every guest here declares (also used by benches/).
TYPES_WAT = r"""
  (type $cid' (record (field "namespace" string) (field "name" string) (field "version" string)))
  (type $cerr' (variant (case "initialization-failed" string) (case "configuration-invalid" string)
                        (case "resource-exhausted" string) (case "internal-error" string)))
  (export $cid "component-id" (type $cid'))
  (export $cerr "component-error" (type $cerr'))
"""

# The lifecycle instance around a lifted `$hm`: exported under the world's interface name.
_LIFECYCLE = r"""
  (component $lc
    (type $cid' (record (field "namespace" string) (field "name" string) (field "version" string)))
    (type $cerr' (variant (case "initialization-failed" string) (case "configuration-invalid" string)
                          (case "resource-exhausted" string) (case "internal-error" string)))
    (import "component-id" (type $cid (eq $cid')))
    (import "component-error" (type $cerr (eq $cerr')))
    (import "hm" (func $f (param "sender" $cid) (param "message" (list u8)) (result (result (error $cerr)))))
    (export "handle-message" (func $f)))
  (instance $lci (instantiate $lc (with "component-id" (type $cid)) (with "component-error" (type $cerr))
                                  (with "hm" (func $hm))))
  (export "%s" (instance $lci))
""" % LIFECYCLE

#: A bump allocator for cabi realloc, reset by post-return (also used by benches/).
REALLOC_WAT = r"""
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $r i32)
      (local.set $r (i32.and (i32.sub (i32.add (global.get $bump) (local.get 2)) (i32.const 1))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $bump (i32.add (local.get $r) (local.get 3)))
      (block $ok
        (br_if $ok (i32.le_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $ok (i32.ne (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16)) (i32.const 1)))
                           (i32.const -1)))
        unreachable)
      (local.get $r))
    (func (export "post") (param i32) (global.set $bump (i32.const 1024)))
"""

#: handle-message accepts every message (writes `ok`); post-return resets the bump allocator.
ACCEPT = r"""(component %s
  (core module $m
    (memory (export "memory") 1)
    %s
    (func (export "handle-message") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.const 16))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $i (instantiate $m))
  (func $hm (param "sender" $cid) (param "message" (list u8)) (result (result (error $cerr)))
    (canon lift (core func $i "handle-message") (memory (core memory $i "memory"))
                (realloc (core func $i "realloc")) (post-return (core func $i "post"))))
  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (export "add" (func $add))
  %s
)""" % (TYPES_WAT, REALLOC_WAT, _LIFECYCLE)

#: handle-message calls host-services `log(info, <16 bytes>, none)` LOGS times, then accepts.
LOGS = 100
LOGGER = r"""(component
  (import "%s" (instance $h
    (type $lvl' (enum "trace" "debug" "info" "warn" "error"))
    (export "log-level" (type $lvl (eq $lvl')))
    (export "log" (func (param "level" $lvl) (param "message" string)
                        (param "context" (option (list (tuple string string))))))))
  (alias export $h "log" (func $log))
  %s
  (core module $mem
    (memory (export "memory") 1)
    (data (i32.const 100) "sixteen byte msg")
    %s)
  (core instance $mi (instantiate $mem))
  (core func $log_low (canon lower (func $log) (memory (core memory $mi "memory"))))
  (core module $main
    (import "h" "log" (func $log (param i32 i32 i32 i32 i32 i32)))
    (import "h" "memory" (memory 1))
    (func (export "handle-message") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (local $n i32)
      (local.set $n (i32.const %d))
      (block $done
        (loop $l
          (br_if $done (i32.eqz (local.get $n)))
          (call $log (i32.const 2) (i32.const 100) (i32.const 16) (i32.const 0) (i32.const 0) (i32.const 0))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l)))
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.const 16)))
  (core instance $i (instantiate $main (with "h" (instance (export "log" (func $log_low))
                                                           (export "memory" (memory $mi "memory"))))))
  (func $hm (param "sender" $cid) (param "message" (list u8)) (result (result (error $cerr)))
    (canon lift (core func $i "handle-message") (memory (core memory $mi "memory"))
                (realloc (core func $mi "realloc")) (post-return (core func $mi "post"))))
  %s
)""" % (HOST_SERVICES, TYPES_WAT, REALLOC_WAT, LOGS, _LIFECYCLE)

#: The core-ABI lane: memory, alloc (bump) and handle (accepts, resets the bump pointer).
CORE_ACTOR = r"""(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func (export "handle") (param i32 i32 i32 i32) (result i32)
    (global.set $bump (i32.const 1024))
    (i32.const 0)))"""

SENDER = ComponentId("producer", namespace="acme", version="1.0.0")


def _sender_record() -> wc.Record:
    rec = wc.Record()
    for key in ("namespace", "name", "version"):
        setattr(rec, key, getattr(SENDER, key))
    return rec


def _wasmtime_py_export(engine: Engine, artifact: Any, linker: wc.Linker, names: tuple[str, ...]
                        ) -> tuple[wasmtime.Store, wc.Instance, dict[str, wc.Func]]:
    """The baseline: the same compiled component, instantiated and called with wasmtime-py."""
    store = wasmtime.Store(engine.wasm_engine)
    store.set_epoch_deadline(2**62)
    component = artifact.component
    instance = linker.instantiate(store, component)
    lifecycle = component.get_export_index(LIFECYCLE)
    funcs: dict[str, wc.Func] = {}
    for name in names:
        index = component.get_export_index(name, lifecycle) if name == "handle-message" \
            else component.get_export_index(name)
        func = instance.get_func(store, index)
        assert func is not None
        funcs[name] = func
    return store, instance, funcs


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """Time each call through the runtime (ours) and through plain wasmtime-py (baseline)."""
    engine = Engine(EngineConfig())
    try:
        accept = engine.load(ACCEPT, name="accept")
        ours = accept.instantiate()
        store, instance, funcs = _wasmtime_py_export(engine, accept, wc.Linker(engine.wasm_engine),
                                                     ("handle-message", "add"))
        # `add` is not a lifecycle export: both paths call it on the baseline's instance.
        add_fast = ComponentFunc.from_export(store, instance, "add")

        logger = engine.load(LOGGER, name="logger")
        services = HostServices(ComponentId("logger"))
        logging_ours = logger.instantiate(services=services)
        linker = wc.Linker(engine.wasm_engine)
        with linker.root() as root, root.add_instance(HOST_SERVICES) as li:
            li.add_func("log", lambda _s, level, message, context: hs._log(services, level, message, context))
        log_store, _, log_funcs = _wasmtime_py_export(engine, logger, linker, ("handle-message",))

        core = engine.load(CORE_ACTOR, name="core")
        core_ours = core.instantiate()
        core_store = wasmtime.Store(engine.wasm_engine)
        core_store.set_epoch_deadline(2**62)
        exports = wasmtime.Instance(core_store, core.module, []).exports(core_store)  # type: ignore[attr-defined]

        ns: dict[str, Any] = {
            "ours": ours, "S": SENDER, "rec": _sender_record(), "store": store,
            "hm": funcs["handle-message"], "add": funcs["add"], "add_fast": add_fast,
            "m16": b"\x55" + b"x" * 15, "m4k": b"\x55" + b"x" * 4095,
            "log_ours": logging_ours, "log_store": log_store, "log_hm": log_funcs["handle-message"],
            "core_ours": core_ours, "cstore": core_store, "alloc": exports["alloc"],
            "handle": exports["handle"], "mem": exports["memory"], "sb": str(SENDER).encode(),
        }
        ns["core_slow"] = _core_slow

        def t(stmt: str) -> float:
            return time_stmt(stmt, ns, repeat=repeat, min_seconds=min_seconds)

        rows = [
            Comparison("component add(u32,u32)", t("add_fast(1, 2)"), "wasmtime-py Func",
                       t("add(store, 1, 2)")),
            Comparison("runtime handle_message 16 B", t("ours.handle_message(S, m16)"),
                       "wasmtime-py Func", t("hm(store, rec, m16)")),
            Comparison("runtime handle_message 4 KiB", t("ours.handle_message(S, m4k)"),
                       "wasmtime-py Func", t("hm(store, rec, m4k)")),
        ]
        log_ours = t("log_ours.handle_message(S, m16)") / LOGS
        log_base = t("log_hm(log_store, rec, m16)") / LOGS
        rows.append(Comparison(f"guest->host log (per call, {LOGS} per message)", log_ours,
                               "wasmtime-py add_func", log_base))
        rows.append(Comparison("runtime core-ABI lane 16 B", t("core_ours.handle_message(S, m16)"),
                               "wasmtime-py alloc+write+handle",
                               t("core_slow(cstore, alloc, handle, mem, sb, m16)")))
        rows.append(Comparison("runtime core-ABI lane 4 KiB", t("core_ours.handle_message(S, m4k)"),
                               "wasmtime-py alloc+write+handle",
                               t("core_slow(cstore, alloc, handle, mem, sb, m4k)")))
        for inst in (ours, logging_ours, core_ours):
            inst.close()
        return rows
    finally:
        engine.close()


def _core_slow(store: wasmtime.Store, alloc: Any, handle: Any, memory: Any, sender: bytes,
               message: bytes) -> int:
    """The core-ABI lane written with wasmtime-py's public API."""
    ptr = alloc(store, len(sender) + len(message))
    memory.write(store, sender, ptr)
    memory.write(store, message, ptr + len(sender))
    return handle(store, ptr, len(sender), ptr + len(sender), len(message))
