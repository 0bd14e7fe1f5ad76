"""Guests for the host-function tests, built at test time from a core module + WIT with
``wasm-tools`` (from the [test] extra).

The round-trip guest imports, for each type T under test, ``source-i: func() -> tuple<T, u8>``
and ``sink-i: func(v: tuple<T, u8>, p: pad)``. Both go through memory in the canonical ABI (a
result of more than one flat value is written at a pointer the guest passes; more than 16
flat parameters are read from a pointer), with the same layout, so the guest's whole job is
``source-i(BUF); sink-i(BUF)``: the value the host returned is lowered into the guest's
memory and lifted back out of it, whatever T is. ``pad`` (16 u8s) forces the parameters
through memory; its bytes are whatever follows the value.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE_TYPES = REPO / "wit" / "types.wit"  # the shipped airssys:core types
PAD = "tuple<" + ", ".join(["u8"] * 16) + ">"


def wasm_tools() -> list[str]:
    exe = shutil.which("wasm-tools") or str(Path(sys.executable).with_name("wasm-tools"))
    return [exe]


LIFECYCLE = """package airssys:core@1.0.0;

interface component-lifecycle {
    use types.{component-id, component-error, execution-context, execution-error};

    handle-message: func(sender: component-id, message: list<u8>) -> result<_, component-error>;
    execute: func(operation: list<u8>, context: execution-context) -> result<list<u8>, execution-error>;
}

world guest {
    import %IMPORT%;
    export component-lifecycle;
}
"""

_ALLOC = """
  (memory (export "cm32p2_memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "cm32p2_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (local.get $size) (i32.const 16))
                                              (i32.const 1)))
                        (i32.const -1))
              (then unreachable))))
    (local.get $ptr))
  (func (export "cm32p2_initialize"))
"""


def build_component(package_wit: str, import_name: str, core_wat: str) -> str:
    """Component WAT text of ``core_wat`` targeting the guest world that imports
    ``import_name`` from ``package_wit`` (a top-level ``package ns:name@v; interface ...``)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "types.wit").write_text(CORE_TYPES.read_text())
        header, _, body = package_wit.partition(";")
        nested = f"{header.strip()} {{\n{body}\n}}\n"
        (d / "lifecycle.wit").write_text(LIFECYCLE.replace("%IMPORT%", import_name) + nested)
        (d / "core.wat").write_text(core_wat)
        tool = wasm_tools()
        embedded = subprocess.run([*tool, "component", "embed", str(d), "--world", "guest",
                                   str(d / "core.wat")], check=True, capture_output=True).stdout
        return subprocess.run([*tool, "component", "new", "-", "--wat"], input=embedded,
                              check=True, capture_output=True).stdout.decode()


def roundtrip_wit(types: Sequence[str], defs: str = "", *, package: str = "test:echo@1.0.0",
                  interface: str = "echo", wrap: bool = True) -> str:
    """WIT of the probes; ``wrap=False`` returns each T itself (it must flatten to more than
    one value, e.g. a result or a record, so it still goes through memory)."""
    def w(t: str) -> str:
        return f"tuple<{t}, u8>" if wrap else t
    funcs = "\n".join(f"    source-{i}: func() -> {w(t)};\n"
                      f"    sink-{i}: func(v: {w(t)}, p: pad);" for i, t in enumerate(types))
    return (f"package {package};\n\n/// Round-trip probes.\ninterface {interface} {{\n"
            f"    type pad = {PAD};\n{defs}\n{funcs}\n}}\n")


def roundtrip_core(n: int, import_module: str) -> str:
    imports = "\n".join(
        f'  (import "{import_module}" "source-{i}" (func $source{i} (param i32)))\n'
        f'  (import "{import_module}" "sink-{i}" (func $sink{i} (param i32)))' for i in range(n))
    calls = "\n".join(f"    (global.set $heap (i32.const 4096))\n"
                      f"    (call $source{i} (i32.const 1024))\n"
                      f"    (call $sink{i} (i32.const 1024))" for i in range(n))
    return f"""(module
{imports}
{_ALLOC}
  (func $run
{calls})
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $run)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param i32 i32 i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $run)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store (i32.const 4) (i32.const 0))
    (i32.store (i32.const 8) (i32.const 0))
    (i32.const 0))
)
"""


def roundtrip_component(types: Sequence[str], defs: str = "", *,
                        wrap: bool = True) -> tuple[str, str]:
    """(host WIT, component WAT) of a round-trip guest for ``types``."""
    wit = roundtrip_wit(types, defs, wrap=wrap)
    return wit, build_component(wit, "test:echo/echo@1.0.0",
                                roundtrip_core(len(types), "cm32p2|test:echo/echo@1"))


RESOURCE_WIT = """package test:res@1.0.0;

/// A host resource with every kind of function.
interface counters {
    resource counter {
        constructor(start: u32);
        add: func(n: u32) -> u32;
        slow-add: func(n: u32) -> u32;
        merge: static func(a: borrow<counter>, b: own<counter>) -> counter;
    }
    total: func(c: borrow<counter>) -> u32;
    make: func(start: u32) -> counter;
    make-many: func(n: u32) -> list<option<counter>>;
}
"""

#: What ``execute`` does, by the first byte of its operation; it answers with the u32 ``$r``.
RESOURCE_OPS = {
    "basic": 0,        # h=new(5); add(h,2); m=make(10); h2=merge(h, own m); r=total(h2); drop both
    "forged": 1,       # add(99, 1): a handle index the guest never had
    "after-drop": 2,   # h=new(1); drop(h); add(h, 1)
    "leak": 3,         # h=new(3); r=total(h); no drop
    "async": 4,        # h=new(1); r=slow-add(h, 5); drop(h)
    "many": 5,         # l=make-many(3) (own handles inside list<option<..>>); drop each; r=len
    "program": 6,      # the rest of the request is a program of (opcode, arg) byte pairs:
}
#: Opcodes of "program": new(arg) / make(arg) append a handle to the guest's slots; add (by
#: 1), total and drop take the slot index; add and total append their u32 to the reply.
PROGRAM_OPS = {"new": 0, "add": 1, "drop": 2, "total": 3, "make": 4}


def resource_core() -> str:
    m = "cm32p2|test:res/counters@1"
    return f"""(module
  (import "{m}" "[constructor]counter" (func $new (param i32) (result i32)))
  (import "{m}" "[method]counter.add" (func $add (param i32 i32) (result i32)))
  (import "{m}" "[method]counter.slow-add" (func $slow_add (param i32 i32) (result i32)))
  (import "{m}" "[static]counter.merge" (func $merge (param i32 i32) (result i32)))
  (import "{m}" "total" (func $total (param i32) (result i32)))
  (import "{m}" "make" (func $make (param i32) (result i32)))
  (import "{m}" "make-many" (func $make_many (param i32 i32)))
  (import "{m}" "counter_drop" (func $drop (param i32)))
{_ALLOC}
  (func $run (param $op i32) (result i32)
    (local $h i32) (local $h2 i32) (local $r i32) (local $p i32) (local $i i32)
    (block $done
      (if (i32.eqz (local.get $op)) (then
        (local.set $h (call $new (i32.const 5)))
        (drop (call $add (local.get $h) (i32.const 2)))
        (local.set $h2 (call $merge (local.get $h) (call $make (i32.const 10))))
        (local.set $r (call $total (local.get $h2)))
        (call $drop (local.get $h))
        (call $drop (local.get $h2))
        (br $done)))
      (if (i32.eq (local.get $op) (i32.const 1)) (then
        (local.set $r (call $add (i32.const 99) (i32.const 1)))
        (br $done)))
      (if (i32.eq (local.get $op) (i32.const 2)) (then
        (local.set $h (call $new (i32.const 1)))
        (call $drop (local.get $h))
        (local.set $r (call $add (local.get $h) (i32.const 1)))
        (br $done)))
      (if (i32.eq (local.get $op) (i32.const 3)) (then
        (local.set $h (call $new (i32.const 3)))
        (local.set $r (call $total (local.get $h)))
        (br $done)))
      (if (i32.eq (local.get $op) (i32.const 4)) (then
        (local.set $h (call $new (i32.const 1)))
        (local.set $r (call $slow_add (local.get $h) (i32.const 5)))
        (call $drop (local.get $h))
        (br $done)))
      (if (i32.eq (local.get $op) (i32.const 5)) (then
        (call $make_many (i32.const 3) (i32.const 2048))
        (local.set $p (i32.load (i32.const 2048)))
        (local.set $r (i32.load (i32.const 2052)))
        (block $end (loop $each  ;; option<own>: tag at +0, handle at +4
          (br_if $end (i32.ge_u (local.get $i) (local.get $r)))
          (if (i32.load8_u (i32.add (local.get $p) (i32.mul (local.get $i) (i32.const 8))))
            (then (call $drop (i32.load (i32.add (local.get $p)
                                                 (i32.add (i32.mul (local.get $i) (i32.const 8))
                                                          (i32.const 4)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $each)))
        (br $done)))
      unreachable)
    (local.get $r))
  ;; slots (handles) at 256 + 4*k, outputs (u32s) at 3072: returns the output's byte length
  (func $program (param $ptr i32) (param $len i32) (result i32)
    (local $i i32) (local $op i32) (local $arg i32) (local $n i32) (local $out i32)
    (block $end (loop $next
      (br_if $end (i32.ge_u (i32.add (local.get $i) (i32.const 1)) (local.get $len)))
      (local.set $op (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (local.set $arg (i32.load8_u (i32.add (local.get $ptr) (i32.add (local.get $i) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (if (i32.or (i32.eqz (local.get $op)) (i32.eq (local.get $op) (i32.const 4))) (then
        (i32.store (i32.add (i32.const 256) (i32.shl (local.get $n) (i32.const 2)))
          (if (result i32) (i32.eqz (local.get $op))
            (then (call $new (local.get $arg))) (else (call $make (local.get $arg)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
      (local.set $arg (i32.load (i32.add (i32.const 256) (i32.shl (local.get $arg) (i32.const 2)))))
      (if (i32.eq (local.get $op) (i32.const 2)) (then
        (call $drop (local.get $arg))
        (br $next)))
      (i32.store (i32.add (i32.const 3072) (local.get $out))
        (if (result i32) (i32.eq (local.get $op) (i32.const 1))
          (then (call $add (local.get $arg) (i32.const 1))) (else (call $total (local.get $arg)))))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br $next)))
    (local.get $out))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param i32 i32 i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0))
    (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 6))
      (then
        (i32.store (i32.const 8) (call $program (i32.add (local.get 0) (i32.const 1))
                                                (i32.sub (local.get 1) (i32.const 1))))
        (i32.store (i32.const 4) (i32.const 3072)))
      (else
        (i32.store (i32.const 16) (call $run (i32.load8_u (local.get 0))))
        (i32.store (i32.const 4) (i32.const 16))
        (i32.store (i32.const 8) (i32.const 4))))
    (i32.const 0))
)
"""


def resource_component() -> str:
    """Component WAT of a guest of ``RESOURCE_WIT`` running ``RESOURCE_OPS``."""
    return build_component(RESOURCE_WIT, "test:res/counters@1.0.0", resource_core())
