;; Core module of the `ext-proc` example: imports the airssys:ext-process extension.
;; execute(op), argv = len u8 ++ executable ++ argc u8 ++ (len u8 ++ arg)*:
;;   'x' argv                      run it (no stdin, 2 s)  -> 0x00 ++ exit code s32 LE ++ stdout
;;   's' argv ++ stdin             spawn                   -> 0x00 ++ handle u32 LE
;;   'w' handle u32 ++ ms u32      wait                    -> 0x00 ++ code? u8 ++ code s32 ++
;;                                 signal? u8 ++ signal u32 ++ stdout len u32 ++ stdout ++ stderr
;;   'k' handle u32 ++ signal u8   signal (process-signal case index) -> 0x00
;; An error is 0x01 ++ process-error case index u8 ++ its text.
(module
  (import "cm32p2|airssys:ext-process/process@1" "run"
    (func $run (param i32 i32 i32 i32 i32 i32 i64 i32)))
  (import "cm32p2|airssys:ext-process/process@1" "spawn"
    (func $spawn (param i32 i32 i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:ext-process/process@1" "wait"
    (func $wait (param i32 i64 i32)))
  (import "cm32p2|airssys:ext-process/process@1" "signal"
    (func $signal (param i32 i32 i32)))
  (memory (export "cm32p2_memory") 1)
  (global $heap (mut i32) (i32.const 4096))

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
  (func $reset (param i32) (global.set $heap (i32.const 4096)))

  ;; execute's return area (result<list<u8>, execution-error>) lives at 1024;
  ;; import return areas at 1152 (8-aligned, 40 bytes).
  (func $ok_unit (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.const 1024))

  ;; Reply ok([tag] ++ prefix ++ data).
  (func $reply (param $tag i32) (param $pre i32) (param $pre_len i32)
                (param $ptr i32) (param $len i32) (result i32)
    (local $buf i32) (local $total i32)
    (local.set $total (i32.add (i32.const 1) (i32.add (local.get $pre_len) (local.get $len))))
    (local.set $buf (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $total)))
    (i32.store8 (local.get $buf) (local.get $tag))
    (memory.copy (i32.add (local.get $buf) (i32.const 1)) (local.get $pre) (local.get $pre_len))
    (memory.copy (i32.add (local.get $buf) (i32.add (i32.const 1) (local.get $pre_len)))
                 (local.get $ptr) (local.get $len))
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (local.get $buf))
    (i32.store (i32.const 1032) (local.get $total))
    (i32.const 1024))

  ;; Reply ok([1, case] ++ text) for an error variant stored at $at (case u8, string at +4/+8).
  (func $reply_err (param $at i32) (result i32)
    (call $reply (i32.const 1) (local.get $at) (i32.const 1)
                 (i32.load (i32.add (local.get $at) (i32.const 4)))
                 (i32.load (i32.add (local.get $at) (i32.const 8)))))
  ;; Parse argv at $pos: executable -> $exe/$elen, args -> a list<string> at $list/$argc.
  ;; Returns the position after the last arg.
  (global $exe (mut i32) (i32.const 0))
  (global $elen (mut i32) (i32.const 0))
  (global $list (mut i32) (i32.const 0))
  (global $argc (mut i32) (i32.const 0))
  (func $argv (param $pos i32) (result i32)
    (local $i i32) (local $len i32)
    (global.set $elen (i32.load8_u (local.get $pos)))
    (global.set $exe (i32.add (local.get $pos) (i32.const 1)))
    (local.set $pos (i32.add (global.get $exe) (global.get $elen)))
    (global.set $argc (i32.load8_u (local.get $pos)))
    (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
    (global.set $list (call $realloc (i32.const 0) (i32.const 0) (i32.const 4)
                                     (i32.shl (global.get $argc) (i32.const 3))))
    (block $done (loop $args
      (br_if $done (i32.ge_u (local.get $i) (global.get $argc)))
      (local.set $len (i32.load8_u (local.get $pos)))
      (i32.store (i32.add (global.get $list) (i32.shl (local.get $i) (i32.const 3)))
                 (i32.add (local.get $pos) (i32.const 1)))
      (i32.store (i32.add (global.get $list) (i32.add (i32.shl (local.get $i) (i32.const 3)) (i32.const 4)))
                 (local.get $len))
      (local.set $pos (i32.add (local.get $pos) (i32.add (i32.const 1) (local.get $len))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $args)))
    (local.get $pos))

  ;; wait's ok payload at 1156: code? u8, code s32 @1160, signal? u8 @1164, signal u32 @1168,
  ;; stdout @1172/1176, stderr @1180/1184.
  (func $reply_status (result i32)
    (local $buf i32) (local $olen i32) (local $elen i32)
    (local.set $olen (i32.load (i32.const 1176)))
    (local.set $elen (i32.load (i32.const 1184)))
    (local.set $buf (call $realloc (i32.const 0) (i32.const 0) (i32.const 1)
                      (i32.add (i32.const 15) (i32.add (local.get $olen) (local.get $elen)))))
    (i32.store8 (local.get $buf) (i32.const 0))
    (i32.store8 (i32.add (local.get $buf) (i32.const 1)) (i32.load8_u (i32.const 1156)))
    (i32.store (i32.add (local.get $buf) (i32.const 2)) (i32.load (i32.const 1160)))
    (i32.store8 (i32.add (local.get $buf) (i32.const 6)) (i32.load8_u (i32.const 1164)))
    (i32.store (i32.add (local.get $buf) (i32.const 7)) (i32.load (i32.const 1168)))
    (i32.store (i32.add (local.get $buf) (i32.const 11)) (local.get $olen))
    (memory.copy (i32.add (local.get $buf) (i32.const 15)) (i32.load (i32.const 1172))
                 (local.get $olen))
    (memory.copy (i32.add (local.get $buf) (i32.add (i32.const 15) (local.get $olen)))
                 (i32.load (i32.const 1180)) (local.get $elen))
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (local.get $buf))
    (i32.store (i32.const 1032) (i32.add (i32.const 15) (i32.add (local.get $olen) (local.get $elen))))
    (i32.const 1024))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (local $cmd i32) (local $pos i32)
    (local.set $cmd (i32.load8_u (local.get $op)))
    (local.set $op (i32.add (local.get $op) (i32.const 1)))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (if (i32.eq (local.get $cmd) (i32.const 120))  ;; x: run
      (then
        (drop (call $argv (local.get $op)))
        (call $run (global.get $exe) (global.get $elen) (global.get $list) (global.get $argc)
                   (i32.const 0) (i32.const 0) (i64.const 2000) (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $reply (i32.const 0) (i32.const 1156) (i32.const 4)
                             (i32.load (i32.const 1160)) (i32.load (i32.const 1164))))))
    (if (i32.eq (local.get $cmd) (i32.const 115))  ;; s: spawn, the rest of op is stdin
      (then
        (local.set $pos (call $argv (local.get $op)))
        (call $spawn (global.get $exe) (global.get $elen) (global.get $list) (global.get $argc)
                     (local.get $pos) (i32.sub (i32.add (local.get $op) (local.get $n)) (local.get $pos))
                     (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $reply (i32.const 0) (i32.const 1156) (i32.const 4) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 119))  ;; w: wait
      (then
        (call $wait (i32.load (local.get $op))
                    (i64.extend_i32_u (i32.load (i32.add (local.get $op) (i32.const 4))))
                    (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $reply_status))))
    (if (i32.eq (local.get $cmd) (i32.const 107))  ;; k: signal
      (then
        (call $signal (i32.load (local.get $op)) (i32.load8_u (i32.add (local.get $op) (i32.const 4)))
                      (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $reply (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
    unreachable)
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute_post") (param i32)
    (call $reset (local.get 0)))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|init")
    (param i32 i32 i32 i32 i32) (result i32) (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|init_post") (param i32)
    (call $reset (local.get 0)))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message_post") (param i32)
    (call $reset (local.get 0)))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback")
    (param i32 i32 i32 i32 i32) (result i32) (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback_post") (param i32)
    (call $reset (local.get 0)))
  ;; metadata: a record of empty strings and an empty list (32 zero bytes at 512)
  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata") (result i32) (i32.const 512))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata_post") (param i32))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|health") (result i32) (i32.const 0))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|health_post") (param i32))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown") (result i32) (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown_post") (param i32))
)
