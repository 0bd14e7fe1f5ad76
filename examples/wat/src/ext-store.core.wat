;; Core module of the `ext-store` example: imports the airssys:ext-storage extension (a host
;; links it only for components whose manifest grants storage.read or storage.write).
;; execute(op) runs one command, op[0] selecting it; <ns> is len u8 ++ namespace, <key> is
;; len u16 (little-endian) ++ key:
;;   g<ns><key>               get        (ok payload: 0x00 for none, 0x01 ++ value for some)
;;   s<ns><key><value>        set        (value: the rest of op)
;;   d<ns><key>               delete     (ok payload: existed u8)
;;   l<ns>                    list-keys  (ok payload: keys, each followed by "\n")
;; Reply: 0x00 ++ payload on success, 0x01 ++ storage-error case index u8 ++ its text on error.
(module
  (import "cm32p2|airssys:ext-storage/storage@1" "get" (func $get (param i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:ext-storage/storage@1" "set"
    (func $set (param i32 i32 i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:ext-storage/storage@1" "delete" (func $delete (param i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:ext-storage/storage@1" "list-keys" (func $list_keys (param i32 i32 i32)))
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

  ;; result<_, storage-error> at 1152
  (func $unit_result (result i32)
    (if (result i32) (i32.load8_u (i32.const 1152))
      (then (call $reply_err (i32.const 1156)))
      (else (call $reply (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))

  ;; ok(0x00 ++ each entry ++ "\n") from a list<string> at $list with $count entries
  (func $join (param $list i32) (param $count i32) (result i32)
    (local $i i32) (local $total i32) (local $buf i32) (local $pos i32) (local $len i32)
    (local.set $total (i32.const 1))
    (block $done (loop $sum
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $total (i32.add (local.get $total) (i32.add (i32.const 1)
        (i32.load (i32.add (local.get $list) (i32.add (i32.shl (local.get $i) (i32.const 3)) (i32.const 4)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $sum)))
    (local.set $buf (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $total)))
    (i32.store8 (local.get $buf) (i32.const 0))
    (local.set $pos (i32.add (local.get $buf) (i32.const 1)))
    (local.set $i (i32.const 0))
    (block $done2 (loop $copy
      (br_if $done2 (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $len (i32.load (i32.add (local.get $list) (i32.add (i32.shl (local.get $i) (i32.const 3)) (i32.const 4)))))
      (memory.copy (local.get $pos) (i32.load (i32.add (local.get $list) (i32.shl (local.get $i) (i32.const 3))))
                   (local.get $len))
      (local.set $pos (i32.add (local.get $pos) (local.get $len)))
      (i32.store8 (local.get $pos) (i32.const 10))
      (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (local.get $buf))
    (i32.store (i32.const 1032) (local.get $total))
    (i32.const 1024))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (local $cmd i32) (local $ns i32) (local $nslen i32) (local $key i32) (local $klen i32)
    (local $val i32)
    (local.set $cmd (i32.load8_u (local.get $op)))
    (local.set $nslen (i32.load8_u (i32.add (local.get $op) (i32.const 1))))
    (local.set $ns (i32.add (local.get $op) (i32.const 2)))
    (if (i32.eq (local.get $cmd) (i32.const 108))  ;; l
      (then
        (call $list_keys (local.get $ns) (local.get $nslen) (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $join (i32.load (i32.const 1156)) (i32.load (i32.const 1160))))))
    (local.set $klen (i32.load16_u (i32.add (local.get $ns) (local.get $nslen))))
    (local.set $key (i32.add (i32.add (local.get $ns) (local.get $nslen)) (i32.const 2)))
    (local.set $val (i32.add (local.get $key) (local.get $klen)))
    (if (i32.eq (local.get $cmd) (i32.const 103))  ;; g
      (then
        (call $get (local.get $ns) (local.get $nslen) (local.get $key) (local.get $klen)
              (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        ;; the option's case byte (1156) is the payload's first byte, its list (1160) the rest
        (if (i32.eqz (i32.load8_u (i32.const 1156)))
          (then (return (call $reply (i32.const 0) (i32.const 1156) (i32.const 1)
                              (i32.const 0) (i32.const 0)))))
        (return (call $reply (i32.const 0) (i32.const 1156) (i32.const 1)
                             (i32.load (i32.const 1160)) (i32.load (i32.const 1164))))))
    (if (i32.eq (local.get $cmd) (i32.const 115))  ;; s
      (then
        (call $set (local.get $ns) (local.get $nslen) (local.get $key) (local.get $klen)
              (local.get $val) (i32.sub (i32.add (local.get $op) (local.get $n)) (local.get $val))
              (i32.const 1152))
        (return (call $unit_result))))
    (if (i32.eq (local.get $cmd) (i32.const 100))  ;; d
      (then
        (call $delete (local.get $ns) (local.get $nslen) (local.get $key) (local.get $klen)
              (i32.const 1152))
        (if (i32.load8_u (i32.const 1152)) (then (return (call $reply_err (i32.const 1156)))))
        (return (call $reply (i32.const 0) (i32.const 1156) (i32.const 1) (i32.const 0) (i32.const 0)))))
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
