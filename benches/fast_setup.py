"""Guests and harnesses shared by the fast-path benchmarks (ours vs wasmtime-py, same guests)."""

from __future__ import annotations

import time
from typing import Any

import wasmtime
import wasmtime.component as wc

from airssys_wasm._fast import fastcall
from airssys_wasm._fast.handles import disable_concurrency
from airssys_wasm.benchmarks.fast import CORE_ACTOR, REALLOC_WAT, TYPES_WAT

# handle-message(sender: component-id, message: list<u8>) -> result<_, component-error>;
# the guest accepts everything (writes ok into the return area) so the call path is measured.
HANDLE_MESSAGE = r"""
(component
  %s
  (core module $m
    (memory (export "memory") 1)
    %s
    (func (export "handle-message") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.const 16))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  )
  (core instance $i (instantiate $m))
  (func $hm (param "sender" $cid) (param "message" (list u8)) (result (result (error $cerr)))
    (canon lift (core func $i "handle-message") (memory (core memory $i "memory"))
                (realloc (core func $i "realloc")) (post-return (core func $i "post"))))
  (export "handle-message" (func $hm))
  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (export "add" (func $add))
)
""" % (TYPES_WAT, REALLOC_WAT)

# log-loop(n) calls host-services log(info, <16-byte message>, none) n times (wit/host-services.wit types).
LOG_LOOP = r"""
(component
  (import "airssys:core/host-services@1.0.0" (instance $h
    (type $lvl' (enum "trace" "debug" "info" "warn" "error"))
    (export "log-level" (type $lvl (eq $lvl')))
    (export "log" (func (param "level" $lvl) (param "message" string)
                        (param "context" (option (list (tuple string string))))))
  ))
  (alias export $h "log" (func $log))
  (core module $mem
    (memory (export "memory") 1)
    (data (i32.const 100) "sixteen byte msg")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096)))
  (core instance $mi (instantiate $mem))
  (core func $log_low (canon lower (func $log) (memory (core memory $mi "memory"))))
  (core module $loop
    (import "h" "log" (func $log (param i32 i32 i32 i32 i32 i32)))
    (func (export "log-loop") (param $n i32)
      (block $done
        (loop $l
          (br_if $done (i32.eqz (local.get $n)))
          (call $log (i32.const 2) (i32.const 100) (i32.const 16) (i32.const 0) (i32.const 0) (i32.const 0))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l)))))
  (core instance $li (instantiate $loop (with "h" (instance (export "log" (func $log_low))))))
  (func $ll (param "n" u32) (canon lift (core func $li "log-loop")))
  (export "log-loop" (func $ll))
)
"""


SENDER = {"namespace": "acme", "name": "producer", "version": "1.0.0"}
HOST_SERVICES = "airssys:core/host-services@1.0.0"


def _record(values: dict[str, str]) -> wc.Record:
    rec = wc.Record()
    for key, value in values.items():
        setattr(rec, key, value)
    return rec


class Guests:
    """One Store per guest and both call paths over the same instances."""

    def __init__(self) -> None:
        # The runtime's engines run without component-model concurrency support (sync world);
        # so do these, for both call paths.
        config = wasmtime.Config()
        disable_concurrency(config)
        self.engine = wasmtime.Engine(config)
        # handle-message + add
        comp = wc.Component(self.engine, HANDLE_MESSAGE)
        self.hm_store = wasmtime.Store(self.engine)
        inst = wc.Linker(self.engine).instantiate(self.hm_store, comp)
        self.fast_add = fastcall.ComponentFunc.from_export(self.hm_store, inst, "add")
        self.slow_add_func = inst.get_func(self.hm_store, "add")
        self.fast_hm = fastcall.ComponentFunc.from_export(self.hm_store, inst, "handle-message")
        self.slow_hm_func = inst.get_func(self.hm_store, "handle-message")
        self.slow_sender = _record(SENDER)
        # log-loop with a fast host and with a wasmtime-py host
        self.logged = 0
        comp = wc.Component(self.engine, LOG_LOOP)
        linker = wc.Linker(self.engine)
        fastcall.define_host_funcs(linker, comp, self.engine, HOST_SERVICES, {"log": self._log})
        self.log_fast_store = wasmtime.Store(self.engine)
        self.fast_log_loop = fastcall.ComponentFunc.from_export(
            self.log_fast_store, linker.instantiate(self.log_fast_store, comp), "log-loop")
        linker = wc.Linker(self.engine)
        with linker.root() as root:
            with root.add_instance(HOST_SERVICES) as li:
                li.add_func("log", lambda store, level, message, context: self._log(level, message, context))
        self.log_slow_store = wasmtime.Store(self.engine)
        self.slow_log_loop_func = linker.instantiate(self.log_slow_store, comp).get_func(self.log_slow_store, "log-loop")
        # core-ABI lane
        self.core_store = wasmtime.Store(self.engine)
        core = wasmtime.Instance(self.core_store, wasmtime.Module(self.engine, CORE_ACTOR), [])
        self.lane = fastcall.CoreLane(self.core_store, core)
        exports = core.exports(self.core_store)
        self.core_alloc, self.core_handle, self.core_memory = exports["alloc"], exports["handle"], exports["memory"]

    def _log(self, level: Any, message: str, context: Any) -> None:
        self.logged += 1

    # wasmtime-py baselines, written the way a caller of the public API would.
    def slow_add(self) -> int:
        return self.slow_add_func(self.hm_store, 1, 2)

    def slow_hm(self, payload: bytes) -> Any:
        return self.slow_hm_func(self.hm_store, self.slow_sender, payload)

    def slow_log_loop(self, n: int) -> None:
        self.slow_log_loop_func(self.log_slow_store, n)

    def slow_lane(self, sender: bytes, payload: bytes) -> int:
        store = self.core_store
        ptr = self.core_alloc(store, len(sender) + len(payload))
        self.core_memory.write(store, sender, ptr)
        self.core_memory.write(store, payload, ptr + len(sender))
        return self.core_handle(store, ptr, len(sender), ptr + len(sender), len(payload))


def per_call_us(fn: Any, calls: int, repeats: int = 7) -> tuple[float, float]:
    """(median, best) over ``repeats`` of the mean µs per call of ``fn`` looped ``calls`` times.

    The machine is shared and noisy: the median is the honest figure, the best run shows what
    the path costs when nothing else competes for the core.
    """
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    samples.sort()
    return samples[len(samples) // 2], samples[0]
