"""Hand-written WAT guests for the fast-path tests and benches."""

from __future__ import annotations

from typing import Any

LOG_LEVEL: Any = ("enum", ["trace", "debug", "info", "warn", "error"])
COMPONENT_ID: Any = ("record", [("namespace", "string"), ("name", "string"), ("version", "string")])
MESSAGING_ERROR: Any = ("variant", [("target-not-found", "string"), ("permission-denied", "string"),
                                    ("mailbox-full", "string"), ("unavailable", "string"),
                                    ("resource-exhausted", "string")])
COMPONENT_ERROR: Any = ("variant", [("initialization-failed", "string"), ("configuration-invalid", "string"),
                                    ("resource-exhausted", "string"), ("internal-error", "string")])

# The hot subset of host-services with the types of wit/host-services.wit, in wat_gen notation.
LOG_CONTEXT: Any = ("option", ("list", ("tuple", ["string", "string"])))
HOST_SERVICES: list[Any] = [
    ("log", [("level", LOG_LEVEL), ("message", "string"), ("context", LOG_CONTEXT)], None),
    ("send-message", [("target", COMPONENT_ID), ("message", ("list", "u8"))], ("result", None, MESSAGING_ERROR)),
    ("send-request", [("target", COMPONENT_ID), ("request", ("list", "u8")), ("timeout-ms", "u64")],
     ("result", "string", MESSAGING_ERROR)),
    ("current-time-millis", [], "u64"),
]
HOST_SERVICES_INSTANCE = "airssys:core/host-services@1.0.0"

# handle-message as the component-lifecycle export declares it, forwarded to a host sink.
HANDLE_MESSAGE: list[Any] = [
    ("handle-message", [("sender", COMPONENT_ID), ("message", ("list", "u8"))], ("result", None, COMPONENT_ERROR)),
]

# Exports that misbehave on purpose. The string results point into a data segment holding
# invalid UTF-8, or far outside memory.
FAULTS = r"""
(component
  (core module $m
    (memory (export "memory") 1)
    (data (i32.const 100) "\ff\fe\fd")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 2048))
    (func (export "boom") unreachable)
    (func (export "spin") (loop $l (br $l)))
    (func $deep (export "deep") (param i32) (result i32)
      (call $deep (i32.add (local.get 0) (i32.const 1))))
    (func (export "oob-load") (result i32) (i32.load (i32.const 0x7ffffff0)))
    (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "bad-utf8") (result i32)
      (i32.store (i32.const 16) (i32.const 100))
      (i32.store (i32.const 20) (i32.const 3))
      (i32.const 16))
    (func (export "oob-string") (result i32)
      (i32.store (i32.const 16) (i32.const 0x00fffff0))
      (i32.store (i32.const 20) (i32.const 64))
      (i32.const 16))
  )
  (core instance $i (instantiate $m))
  (func $boom (canon lift (core func $i "boom")))
  (func $spin (canon lift (core func $i "spin")))
  (func $deep (param "n" u32) (result u32) (canon lift (core func $i "deep")))
  (func $oob (result u32) (canon lift (core func $i "oob-load")))
  (func $div (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "div")))
  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (func $bad (result string)
    (canon lift (core func $i "bad-utf8") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $oobs (result string)
    (canon lift (core func $i "oob-string") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (export "boom" (func $boom))
  (export "spin" (func $spin))
  (export "deep" (func $deep))
  (export "oob-load" (func $oob))
  (export "div" (func $div))
  (export "add" (func $add))
  (export "bad-utf8" (func $bad))
  (export "oob-string" (func $oobs))
)
"""

# A core-module actor for the core-ABI lane. alloc is a bump allocator that resets per message;
# handle returns a checksum (sum of sender bytes * 1000 + sum of message bytes, mod 2^31) so the
# host can verify the copy. Poisoned variants return pointers outside memory.
CORE_ACTOR = r"""
(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (global $mode (mut i32) (i32.const 0))
  (func (export "set-mode") (param i32) (global.set $mode (local.get 0)))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.eq (global.get $mode) (i32.const 1)) (then (return (i32.const 0x7ffffff0))))
    (if (i32.eq (global.get $mode) (i32.const 2))
      (then (return (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 2)))))
    (if (i32.eq (global.get $mode) (i32.const 3)) (then unreachable))
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    ;; grow when needed
    (block $ok
      (br_if $ok (i32.le_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536))))
      (br_if $ok (i32.ne (memory.grow (i32.add (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 1)))
                         (i32.const -1)))
      unreachable)
    (local.get $p))
  (func $sum (param $p i32) (param $n i32) (result i32)
    (local $acc i32) (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $acc (i32.add (local.get $acc) (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $acc))
  (func (export "handle") (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (global.set $bump (i32.const 1024))
    (i32.and
      (i32.add (i32.mul (call $sum (local.get $sp) (local.get $sl)) (i32.const 1000))
               (call $sum (local.get $mp) (local.get $ml)))
      (i32.const 0x7fffffff)))
  (func (export "noop") (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (i32.const 0))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "mix") (param i64 f32 f64) (result f64)
    (f64.add (f64.add (f64.convert_i64_s (local.get 0)) (f64.promote_f32 (local.get 1))) (local.get 2)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "trap") (result i32) unreachable)
)
"""


def checksum(sender: bytes, message: bytes) -> int:
    """What CORE_ACTOR's handle returns for a delivery."""
    return (sum(sender) * 1000 + sum(message)) & 0x7FFFFFFF
