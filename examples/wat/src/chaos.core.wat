;; Core module of the `chaos` example component (world `minimal`: only handle-message).
;; The first byte of the message picks a misbehaviour, so one component produces every trap kind:
;;   'u' unreachable              'o' out-of-bounds load     's' unbounded recursion
;;   'l' infinite loop            'd' integer division by zero
;;   'g' memory.grow until it fails, then return err(resource-exhausted) - the guest sees -1
;;   'G' memory.grow until it fails, then trap (as a real guest's allocator would)
;;   'O' memory.grow until it fails, then store past the end of memory (an allocator that ignores -1)
;;   anything else: ok
(module
  (memory (export "cm32p2_memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "memory.grow returned -1")   ;; 23 bytes

  (func $realloc (export "cm32p2_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr
      (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
               (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end)
                                                        (i32.mul (memory.size) (i32.const 65536)))
                                               (i32.const 16))
                                    (i32.const 1)))
              (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func (export "cm32p2_initialize"))

  (func $recurse (param $depth i64) (result i64)
    (i64.add (call $recurse (i64.add (local.get $depth) (i64.const 1))) (i64.const 1)))

  (func $spin
    (loop $forever (br $forever)))

  ;; Grows one page at a time; returns when memory.grow reports failure (-1).
  (func $grow_until_refused
    (block $refused
      (loop $more
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more))))

  (func $divide (param $by i32) (result i32)
    (i32.div_u (i32.const 1) (local.get $by)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32) (param $msg i32) (param $n i32)
    (result i32)
    (local $cmd i32)
    (if (local.get $n) (then (local.set $cmd (i32.load8_u (local.get $msg)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x75)) (then unreachable))
    (if (i32.eq (local.get $cmd) (i32.const 0x6f))
      (then (drop (i32.load (i32.const -4)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x73))
      (then (drop (call $recurse (i64.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x6c)) (then (call $spin)))
    (if (i32.eq (local.get $cmd) (i32.const 0x64))
      (then (drop (call $divide (i32.sub (local.get $n) (local.get $n))))))
    (if (i32.eq (local.get $cmd) (i32.const 0x47))
      (then (call $grow_until_refused) unreachable))
    (if (i32.eq (local.get $cmd) (i32.const 0x4f))
      (then
        (call $grow_until_refused)
        (i32.store (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))))
    (if (i32.eq (local.get $cmd) (i32.const 0x67))
      (then
        (call $grow_until_refused)
        ;; err(resource-exhausted("memory.grow returned -1"))
        (i32.store8 (i32.const 0) (i32.const 1))
        (i32.store8 (i32.const 4) (i32.const 2))
        (i32.store (i32.const 8) (i32.const 16))
        (i32.store (i32.const 12) (i32.const 23))
        (return (i32.const 0))))
    (global.set $heap (i32.const 1024))
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
)
