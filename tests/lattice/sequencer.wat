;; A core-ABI lane sink for the lattice fault tests: every frame is the raw codec byte 0x55 and
;; a u32 LE sequence number. It checks the order instead of trusting it:
;;   v == expected: in order, expected = v + 1
;;   v <  expected: a duplicate (a redelivery the dedup could not see)
;;   v >  expected: a gap (a loss or a reordering), expected = v + 1
;; execute(any) -> 16 bytes, u32 LE each: frames, duplicates, gaps, expected.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $frames (mut i32) (i32.const 0))
  (global $dups (mut i32) (i32.const 0))
  (global $gaps (mut i32) (i32.const 0))
  (global $expected (mut i32) (i32.const 0))

  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (local.get $ptr) (i32.and (i32.add (local.get $len) (i32.const 7))
                                                         (i32.const -8))))
    (if (i32.gt_u (global.get $heap) (i32.const 65536)) (then (return (i32.const 0))))
    (local.get $ptr))

  (func (export "handle") (param $s i32) (param $sn i32) (param $msg i32) (param $n i32)
                          (result i32)
    (local $v i32)
    (global.set $heap (i32.const 4096))
    (if (i32.ne (local.get $n) (i32.const 5)) (then (return (i32.const 1))))
    (local.set $v (i32.load (i32.add (local.get $msg) (i32.const 1))))
    (global.set $frames (i32.add (global.get $frames) (i32.const 1)))
    (if (i32.eq (local.get $v) (global.get $expected))
      (then (global.set $expected (i32.add (local.get $v) (i32.const 1))))
      (else
        (if (i32.lt_u (local.get $v) (global.get $expected))
          (then (global.set $dups (i32.add (global.get $dups) (i32.const 1))))
          (else
            (global.set $gaps (i32.add (global.get $gaps) (i32.const 1)))
            (global.set $expected (i32.add (local.get $v) (i32.const 1)))))))
    (i32.const 0))

  (func (export "execute") (param $op i32) (param $n i32) (result i64)
    (global.set $heap (i32.const 4096))
    (i32.store (i32.const 1024) (global.get $frames))
    (i32.store (i32.const 1028) (global.get $dups))
    (i32.store (i32.const 1032) (global.get $gaps))
    (i32.store (i32.const 1036) (global.get $expected))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 16))))
