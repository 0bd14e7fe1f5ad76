;; A core-ABI lane actor (no component model): the host copies payloads straight into linear
;; memory, so this lane has no per-byte conversion cost.
;;
;; Required exports: memory, alloc(len) -> ptr, handle(sender_ptr, sender_len, msg_ptr, msg_len) -> i32
;; (0 = accepted). Optional: init() -> i32, execute(op_ptr, op_len) -> i64 (reply as ptr << 32 | len,
;; negative = error code), health() -> i32 (0 healthy, 1 degraded, 2 unhealthy, 3 unknown),
;; shutdown() -> i32.
;;
;; handle() keeps the last message (up to 1 KiB) and the first byte selects a misbehaviour, as in
;; the `chaos` component: 'u' unreachable, 'o' out of bounds, 's' recursion, 'l' infinite loop,
;; 'd' division by zero, 'g' grow memory until refused then return 2, 'G' ... then trap,
;; 'O' ... then store past the end of memory (an allocator that ignores -1).
;; execute("last") returns the last message; any other operation is echoed back.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $last_len (mut i32) (i32.const 0))
  (data (i32.const 16) "last")

  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.add (local.get $ptr) (i32.and (i32.add (local.get $len) (i32.const 7))
                                                       (i32.const -8))))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end)
                                                        (i32.mul (memory.size) (i32.const 65536)))
                                               (i32.const 16))
                                    (i32.const 1)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func $recurse (param $depth i64) (result i64)
    (i64.add (call $recurse (i64.add (local.get $depth) (i64.const 1))) (i64.const 1)))

  (func $grow_until_refused
    (block $refused
      (loop $more
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more))))

  (func (export "handle") (param $s i32) (param $sn i32) (param $msg i32) (param $n i32) (result i32)
    (local $cmd i32)
    (global.set $heap (i32.const 4096))
    (if (local.get $n) (then (local.set $cmd (i32.load8_u (local.get $msg)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x75)) (then unreachable))
    (if (i32.eq (local.get $cmd) (i32.const 0x6f)) (then (drop (i32.load (i32.const -4)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x73)) (then (drop (call $recurse (i64.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x6c)) (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $cmd) (i32.const 0x64))
      (then (drop (i32.div_u (i32.const 1) (i32.sub (local.get $n) (local.get $n))))))
    (if (i32.eq (local.get $cmd) (i32.const 0x67))
      (then (call $grow_until_refused) (return (i32.const 2))))
    (if (i32.eq (local.get $cmd) (i32.const 0x47))
      (then (call $grow_until_refused) unreachable))
    (if (i32.eq (local.get $cmd) (i32.const 0x4f))
      (then (call $grow_until_refused)
            (i32.store (i32.mul (memory.size) (i32.const 65536)) (i32.const 0))))
    (if (i32.gt_u (local.get $n) (i32.const 1024)) (then (local.set $n (i32.const 1024))))
    (memory.copy (i32.const 2048) (local.get $msg) (local.get $n))
    (global.set $last_len (local.get $n))
    (i32.const 0))

  (func (export "execute") (param $op i32) (param $n i32) (result i64)
    (global.set $heap (i32.const 4096))
    (if (i32.and (i32.eq (local.get $n) (i32.const 4))
                 (i32.eq (i32.load (local.get $op)) (i32.load (i32.const 16))))
      (then (return (i64.or (i64.shl (i64.const 2048) (i64.const 32))
                            (i64.extend_i32_u (global.get $last_len))))))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $op)) (i64.const 32))
            (i64.extend_i32_u (local.get $n))))

  (func (export "init") (result i32) (i32.const 0))
  (func (export "health") (result i32) (i32.const 0))
  (func (export "shutdown") (result i32) (i32.const 0))
)
