;; Core module of the `crasher` example component (world `minimal`: only handle-message).
;; `../build.py` turns it into src/airssys_wasm/demo/crasher.wat. It shows what supervision does with a guest
;; that traps: the payload (after the multicodec varint prefix) picks the failure:
;;   "poison..."  unreachable            "oob..."   load past the end of linear memory
;;   "loop..."    spins until the host's wall-clock deadline (epoch) interrupts it
;;   "refuse..."  no trap: answers err(internal-error("refused")) - a dead letter, no restart
;;   anything else: accepted
(module
  (memory (export "cm32p2_memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "poisoobloopref")  ;; "pois" 16, "oob" 20, "loop" 23, "ref" 27
  (data (i32.const 32) "refused")

  (func (export "cm32p2_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (local.get $ptr) (i32.and (i32.add (local.get $size) (i32.const 7))
                                                        (i32.const -8))))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (local.get $size) (i32.const 16))
                                              (i32.const 1)))
                        (i32.const -1))
              (then unreachable))))
    (local.get $ptr))
  (func (export "cm32p2_initialize"))

  ;; does the payload at $p (with $left bytes) start with the $k-byte literal at $lit?
  (func $starts (param $p i32) (param $left i32) (param $lit i32) (param $k i32) (result i32)
    (local $i i32)
    (if (i32.lt_u (local.get $left) (local.get $k)) (then (return (i32.const 0))))
    (block $no
      (loop $next
        (if (i32.ge_u (local.get $i) (local.get $k)) (then (return (i32.const 1))))
        (br_if $no (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                           (i32.load8_u (i32.add (local.get $lit) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32) (param $msg i32) (param $n i32) (result i32)
    (local $hdr i32) (local $c i32) (local $p i32) (local $left i32)
    (global.set $heap (i32.const 1024))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $hdr) (local.get $n)))
        (local.set $c (i32.load8_u (i32.add (local.get $msg) (local.get $hdr))))
        (local.set $hdr (i32.add (local.get $hdr) (i32.const 1)))
        (br_if $next (i32.and (local.get $c) (i32.const 0x80)))))
    (local.set $p (i32.add (local.get $msg) (local.get $hdr)))
    (local.set $left (i32.sub (local.get $n) (local.get $hdr)))
    (if (call $starts (local.get $p) (local.get $left) (i32.const 16) (i32.const 4))
      (then unreachable))
    (if (call $starts (local.get $p) (local.get $left) (i32.const 20) (i32.const 3))
      (then (drop (i32.load (i32.const -4)))))
    (if (call $starts (local.get $p) (local.get $left) (i32.const 23) (i32.const 4))
      (then (loop $forever (br $forever))))
    (if (call $starts (local.get $p) (local.get $left) (i32.const 27) (i32.const 3))
      (then
        ;; err(internal-error("refused"))
        (i32.store8 (i32.const 0) (i32.const 1))
        (i32.store8 (i32.const 4) (i32.const 3))
        (i32.store (i32.const 8) (i32.const 32))
        (i32.store (i32.const 12) (i32.const 7))
        (return (i32.const 0))))
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
)
