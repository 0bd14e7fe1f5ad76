;; Core module of the `ext-net` example: imports the airssys:ext-network extension.
;; execute(op):
;;   'x' len u8 ++ address ++ data  connect (2 s), send data, receive up to 4 KiB (2 s), close
;;                                  -> 0x00 ++ received bytes
;;   'l' len u8 ++ address          listen (backlog 4)         -> 0x00 ++ listener u32 LE
;;   'a' listener u32               accept (2 s)               -> 0x00 ++ connection u64 LE
;;   's' conn u64 ++ data           send                       -> 0x00 ++ bytes sent u64 LE
;;   'r' conn u64                   receive up to 4 KiB (2 s)  -> 0x00 ++ received bytes
;;   'c' conn u64 / 'C' listener u32   close / close-listener  -> 0x00
;; An error is 0x01 ++ network-error case index u8 ++ its text.
(module
  (import "cm32p2|airssys:ext-network/network@1" "connect" (func $connect (param i32 i32 i64 i32)))
  (import "cm32p2|airssys:ext-network/network@1" "send" (func $send (param i64 i32 i32 i32)))
  (import "cm32p2|airssys:ext-network/network@1" "receive" (func $receive (param i64 i32 i64 i32)))
  (import "cm32p2|airssys:ext-network/network@1" "close" (func $close (param i64)))
  (import "cm32p2|airssys:ext-network/network@1" "listen" (func $listen (param i32 i32 i32 i32)))
  (import "cm32p2|airssys:ext-network/network@1" "accept" (func $accept (param i32 i64 i32)))
  (import "cm32p2|airssys:ext-network/network@1" "close-listener" (func $close_listener (param i32)))
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
  ;; import return areas at 1152 (8-aligned, 32 bytes).
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
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (local $alen i32) (local $conn i64) (local $out i32) (local $cmd i32)
    (local.set $cmd (i32.load8_u (local.get $op)))
    (if (i32.eq (local.get $cmd) (i32.const 108))  ;; l: listen
      (then
        (call $listen (i32.add (local.get $op) (i32.const 2))
                      (i32.load8_u (i32.add (local.get $op) (i32.const 1))) (i32.const 4)
                      (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $reply (i32.const 0) (i32.const 1156) (i32.const 4) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 97))  ;; a: accept
      (then
        (call $accept (i32.load (i32.add (local.get $op) (i32.const 1))) (i64.const 2000)
                      (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1160)))))
        (return (call $reply (i32.const 0) (i32.const 1160) (i32.const 8) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 115))  ;; s: send
      (then
        (call $send (i64.load (i32.add (local.get $op) (i32.const 1)))
                    (i32.add (local.get $op) (i32.const 9)) (i32.sub (local.get $n) (i32.const 9))
                    (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1160)))))
        (return (call $reply (i32.const 0) (i32.const 1160) (i32.const 8) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 114))  ;; r: receive
      (then
        (call $receive (i64.load (i32.add (local.get $op) (i32.const 1))) (i32.const 4096)
                       (i64.const 2000) (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $reply (i32.const 0) (i32.const 0) (i32.const 0)
                             (i32.load (i32.const 1156)) (i32.load (i32.const 1160))))))
    (if (i32.eq (local.get $cmd) (i32.const 99))  ;; c: close
      (then
        (call $close (i64.load (i32.add (local.get $op) (i32.const 1))))
        (return (call $reply (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 67))  ;; C: close-listener
      (then
        (call $close_listener (i32.load (i32.add (local.get $op) (i32.const 1))))
        (return (call $reply (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
    (if (i32.ne (local.get $cmd) (i32.const 120)) (then unreachable))  ;; x
    (local.set $alen (i32.load8_u (i32.add (local.get $op) (i32.const 1))))
    (call $connect (i32.add (local.get $op) (i32.const 2)) (local.get $alen) (i64.const 2000)
                   (i32.const 1152))
    (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1160)))))
    (local.set $conn (i64.load (i32.const 1160)))
    (call $send (local.get $conn)
                (i32.add (local.get $op) (i32.add (i32.const 2) (local.get $alen)))
                (i32.sub (local.get $n) (i32.add (i32.const 2) (local.get $alen)))
                (i32.const 1152))
    (if (i32.load8_u (i32.const 1152))
      (then
        (local.set $out (call $reply_err (i32.const 1160)))
        (call $close (local.get $conn))
        (return (local.get $out))))
    (call $receive (local.get $conn) (i32.const 4096) (i64.const 2000) (i32.const 1152))
    (if (i32.load8_u (i32.const 1152))
      (then (local.set $out (call $reply_err (i32.const 1156))))
      (else (local.set $out (call $reply (i32.const 0) (i32.const 0) (i32.const 0)
                                         (i32.load (i32.const 1156)) (i32.load (i32.const 1160))))))
    (call $close (local.get $conn))
    (local.get $out))
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
