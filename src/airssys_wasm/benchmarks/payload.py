"""Payload size per lane: what a ``list<u8>`` costs per byte on the component lane, next to
the core-ABI lane, in both directions.

The component lane goes through wasmtime's component C API, which carries a value as a tree of
``wasmtime_component_val_t``: a ``list<u8>`` of N bytes is N element values, converted one by one
to wasmtime's dynamic ``Val`` and lowered (or lifted) one by one with a type check each. Our side
of it is a tight C loop (``_wt_plan.pxi``, kind ``K_BYTES``); the per-byte cost is inside
libwasmtime, and the pinned C API (wasmtime 50) has no bulk entry point for it: no typed
function call, no access to a component instance's linear memory, no byte-vector list value
(BENCHMARKS.md, "Payload size", lists what was checked). A ``string`` is the one value the C API
carries as one byte vector; its rows show what a bulk path is worth.

Rows, each at 16 B, 1 KiB, 4 KiB and 64 KiB:

* **lower** (host -> guest): ``take(data: list<u8>) -> u32`` through ``ComponentFunc``; and
  ``Instance.handle_message`` of the lifecycle world (what ``Host.send`` pays), next to the
  core-ABI lane's ``handle_message`` (one memcpy into linear memory);
* **lift** (guest -> host): ``give(n: u32) -> list<u8>``, next to the core-ABI lane's
  ``execute`` (which echoes its operation: a lower and a lift, both memcpy);
* **string**: ``take-str(string)`` / ``give-str(n) -> string``, next to the ``list<u8>`` rows;
  and the same with the guest's strings in ``latin1+utf16`` (a canonical option of the guest):
  a Latin-1 string carries any byte values exactly (``bytes.decode("latin-1")`` on the host),
  so these rows are what binary data would cost as a WIT ``string`` instead of ``list<u8>``.
"""

from __future__ import annotations

from typing import Any

import wasmtime
import wasmtime.component as wc

from airssys_wasm._fast.fastcall import ComponentFunc
from airssys_wasm.benchmarks import fast, guests
from airssys_wasm.benchmarks.timing import Comparison, time_stmt
from airssys_wasm.runtime import Engine, EngineConfig

__all__ = ["BYTES", "LANES", "SIZES", "TITLE", "lane_costs", "run"]

TITLE = "Payload size: list<u8> per byte, component lane vs core-ABI lane"

SIZES = (16, 1024, 4096, 65536)

#: take/take-str return the length they got; give/give-latin1 return n bytes of a 128 KiB region
#: of bytes 0..255, give-str n bytes of a region of "x".
BYTES = r"""(component
  (core module $m
    (memory (export "memory") 5)
    %s
    (func (export "take") (param i32 i32) (result i32) (local.get 1))
    (func $give (export "give") (param $n i32) (result i32)
      (i32.store (i32.const 16) (i32.const 65536))
      (i32.store (i32.const 20) (select (local.get $n) (i32.const 131072)
                                        (i32.le_u (local.get $n) (i32.const 131072))))
      (i32.const 16))
    ;; the same length from the ASCII region (a UTF-8 string may not carry bytes above 0x7f)
    (func (export "give-ascii") (param $n i32) (result i32)
      (drop (call $give (local.get $n)))
      (i32.store (i32.const 16) (i32.const 196608))
      (i32.const 16))
    ;; bytes 0..255 repeated over give's region (Latin-1 above 0x7f is not ASCII), "x" over
    ;; give-ascii's
    (func (export "fill")
      (local $i i32)
      (memory.fill (i32.const 196608) (i32.const 0x78) (i32.const 131072))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 131072)))
        (i32.store8 (i32.add (i32.const 65536) (local.get $i)) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))
  (core instance $i (instantiate $m))
  (func $take (param "data" (list u8)) (result u32)
    (canon lift (core func $i "take") (memory (core memory $i "memory"))
                (realloc (core func $i "realloc")) (post-return (core func $i "post"))))
  (func $take-str (param "data" string) (result u32)
    (canon lift (core func $i "take") (memory (core memory $i "memory"))
                (realloc (core func $i "realloc")) (post-return (core func $i "post"))))
  (func $give (param "n" u32) (result (list u8))
    (canon lift (core func $i "give") (memory (core memory $i "memory"))
                (realloc (core func $i "realloc"))))
  (func $give-str (param "n" u32) (result string)
    (canon lift (core func $i "give-ascii") (memory (core memory $i "memory"))
                (realloc (core func $i "realloc"))))
  (func $take-latin1 (param "data" string) (result u32)
    (canon lift (core func $i "take") string-encoding=latin1+utf16
                (memory (core memory $i "memory")) (realloc (core func $i "realloc"))
                (post-return (core func $i "post"))))
  (func $give-latin1 (param "n" u32) (result string)
    (canon lift (core func $i "give") string-encoding=latin1+utf16
                (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $fill (canon lift (core func $i "fill")))
  (export "fill" (func $fill))
  (export "take" (func $take))
  (export "take-str" (func $take-str))
  (export "give" (func $give))
  (export "give-str" (func $give-str))
  (export "take-latin1" (func $take-latin1))
  (export "give-latin1" (func $give-latin1))
)""" % fast.REALLOC_WAT


def _label(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} B"


def _exports(engine: Engine, names: tuple[str, ...]) -> tuple[wasmtime.Store, dict[str, ComponentFunc]]:
    # Not a lifecycle-world component (Engine.load would refuse it): compiled by wasmtime-py,
    # called through our C-API call path like any export.
    component = wc.Component(engine.wasm_engine, BYTES)
    store = wasmtime.Store(engine.wasm_engine)
    store.set_epoch_deadline(2**62)
    instance = wc.Linker(engine.wasm_engine).instantiate(store, component)
    return store, {n: ComponentFunc.from_export(store, instance, n) for n in names}


#: The lanes of ``lane_costs`` (a curve's series): what a message of N bytes costs on each.
LANES = {
    "component lane in: handle_message(list<u8>)": "lc.handle_message(S, m)",
    "core-ABI lane in: handle_message": "core.handle_message(S, m)",
    "component lane out: give() -> list<u8>": "give(n)",
    "core-ABI lane in + out: execute": "core.execute(m)",
}


class _Lanes:
    """Every export and instance the rows and the curve call, made once per engine."""

    def __init__(self, engine: Engine) -> None:
        store, funcs = _exports(engine, ("take", "give", "take-str", "give-str", "take-latin1",
                                              "give-latin1", "fill"))
        funcs["fill"]()
        self.pattern = bytes(range(256)) * 256
        if funcs["give-latin1"](len(self.pattern)).encode("latin-1") != self.pattern:
            raise AssertionError("a latin1+utf16 string did not carry the bytes exactly")
        self.lifecycle = engine.load(fast.ACCEPT, name="accept").instantiate()
        self.core = engine.load(guests.path("core_actor"), name="core").instantiate()
        self.store: wasmtime.Store | None = store
        self.ns: dict[str, Any] = {"S": fast.SENDER, "lc": self.lifecycle, "core": self.core, **{
            name.replace("-", "_"): fn for name, fn in funcs.items()}}

    def size(self, n: int) -> None:
        """Make ``n`` the size the next statements carry."""
        self.ns["m"] = b"\x55" + b"x" * (n - 1)  # a RAW frame of n bytes
        self.ns["s"], self.ns["n"] = "x" * n, n
        self.ns["l1"] = self.pattern[:n]

    def close(self) -> None:
        for inst in (self.lifecycle, self.core):
            inst.close()
        self.ns.clear()  # the exports hold the Store: dropped before the engine closes
        self.store = None


def lane_costs(sizes: tuple[int, ...], *, repeat: int = 5, min_seconds: float = 0.1
               ) -> dict[str, list[tuple[float, float]]]:
    """ns per call of each of ``LANES`` at each size: the scaling suite's payload curve."""
    engine = Engine(EngineConfig())
    try:
        lanes = _Lanes(engine)
        costs: dict[str, list[tuple[float, float]]] = {label: [] for label in LANES}
        for n in sizes:
            lanes.size(n)
            for label, stmt in LANES.items():
                costs[label].append((float(n), time_stmt(stmt, lanes.ns, repeat=repeat,
                                                         min_seconds=min_seconds)))
        lanes.close()
        return costs
    finally:
        engine.close()


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """Every size on every lane, in one process; the baseline of a row is the same size on the
    core-ABI lane (or, for a string row, as a ``list<u8>``)."""
    engine = Engine(EngineConfig())
    try:
        lanes = _Lanes(engine)
        ns = lanes.ns

        def t(stmt: str) -> float:
            return time_stmt(stmt, ns, repeat=repeat, min_seconds=min_seconds)

        rows: list[Comparison] = []
        for n in SIZES:
            lanes.size(n)
            size = _label(n)
            core_lower = t("core.handle_message(S, m)")
            core_echo = t("core.execute(m)")
            as_list = t("take(m)")
            given = t("give(n)")
            rows += [
                Comparison(f"lower {size}: take(list<u8>)", as_list,
                           "core-ABI handle_message", core_lower),
                Comparison(f"lower {size}: handle_message (lifecycle)",
                           t("lc.handle_message(S, m)"), "core-ABI handle_message", core_lower),
                Comparison(f"lift {size}: give() -> list<u8>", given,
                           "core-ABI execute (lower + lift)", core_echo),
                Comparison(f"  string {size}: take-str(string)", t("take_str(s)"),
                           "take(list<u8>)", as_list),
                Comparison(f"  string {size}: give-str() -> string", t("give_str(n)"),
                           "give() -> list<u8>", given),
                Comparison(f"  latin1 string {size}, bytes in: take-latin1(l1.decode)",
                           t("take_latin1(l1.decode('latin-1'))"), "take(list<u8>)", as_list),
                Comparison(f"  latin1 string {size}, bytes out: give-latin1().encode",
                           t("give_latin1(n).encode('latin-1')"), "give() -> list<u8>", given),
            ]
        lanes.close()
        return rows
    finally:
        engine.close()
