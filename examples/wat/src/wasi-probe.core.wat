;; Core module of the `wasi-probe` example: a WASI p2 guest (wasi:filesystem). The host gives it
;; the preopens derived from its manifest's filesystem grants, read-only unless writes are granted.
;; execute(op):
;;   p                         -> 0x00 ++ per preopen: descriptor-flags u8 (0xff if unreadable),
;;                                name length u8, name
;;   r <dir index u8> <path>   -> open-at(preopen[index], symlink-follow, path, read) and read up to
;;                                4 KiB: 0x00 ++ data, or 0x01 ++ wasi error-code u8
(module
  (import "cm32p2|wasi:filesystem/preopens@0.2" "get-directories" (func $get_directories (param i32)))
  (import "cm32p2|wasi:filesystem/types@0.2" "[method]descriptor.get-flags"
    (func $get_flags (param i32 i32)))
  (import "cm32p2|wasi:filesystem/types@0.2" "[method]descriptor.open-at"
    (func $open_at (param i32 i32 i32 i32 i32 i32 i32)))
  (import "cm32p2|wasi:filesystem/types@0.2" "[method]descriptor.read"
    (func $read (param i32 i64 i64 i32)))
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

  (func $preopens (result i32)
    (local $list i32) (local $count i32) (local $i i32) (local $total i32) (local $buf i32)
    (local $pos i32) (local $elem i32) (local $len i32)
    (call $get_directories (i32.const 1152))
    (local.set $list (i32.load (i32.const 1152)))
    (local.set $count (i32.load (i32.const 1156)))
    (local.set $total (i32.const 1))
    (block $done (loop $sum
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $total (i32.add (local.get $total) (i32.add (i32.const 2)
        (i32.load (i32.add (local.get $list) (i32.add (i32.mul (local.get $i) (i32.const 12)) (i32.const 8)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $sum)))
    (local.set $buf (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $total)))
    (i32.store8 (local.get $buf) (i32.const 0))
    (local.set $pos (i32.add (local.get $buf) (i32.const 1)))
    (local.set $i (i32.const 0))
    (block $done2 (loop $fill
      (br_if $done2 (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $elem (i32.add (local.get $list) (i32.mul (local.get $i) (i32.const 12))))
      (call $get_flags (i32.load (local.get $elem)) (i32.const 1184))
      (i32.store8 (local.get $pos)
        (select (i32.const 255) (i32.load8_u (i32.const 1185)) (i32.load8_u (i32.const 1184))))
      (local.set $len (i32.load (i32.add (local.get $elem) (i32.const 8))))
      (i32.store8 (i32.add (local.get $pos) (i32.const 1)) (local.get $len))
      (memory.copy (i32.add (local.get $pos) (i32.const 2))
                   (i32.load (i32.add (local.get $elem) (i32.const 4))) (local.get $len))
      (local.set $pos (i32.add (local.get $pos) (i32.add (i32.const 2) (local.get $len))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $fill)))
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (local.get $buf))
    (i32.store (i32.const 1032) (local.get $total))
    (i32.const 1024))

  ;; reply 0x01 ++ the error-code byte at $at
  (func $wasi_err (param $at i32) (result i32)
    (call $reply (i32.const 1) (local.get $at) (i32.const 1) (i32.const 0) (i32.const 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (local $dir i32) (local $file i32)
    (if (i32.eq (i32.load8_u (local.get $op)) (i32.const 112))  ;; p
      (then (return (call $preopens))))
    (if (i32.ne (i32.load8_u (local.get $op)) (i32.const 114)) (then unreachable))  ;; r
    (call $get_directories (i32.const 1152))
    (if (i32.ge_u (i32.load8_u (i32.add (local.get $op) (i32.const 1))) (i32.load (i32.const 1156)))
      (then unreachable))
    (local.set $dir (i32.load (i32.add (i32.load (i32.const 1152))
      (i32.mul (i32.load8_u (i32.add (local.get $op) (i32.const 1))) (i32.const 12)))))
    (call $open_at (local.get $dir) (i32.const 1)
                   (i32.add (local.get $op) (i32.const 2)) (i32.sub (local.get $n) (i32.const 2))
                   (i32.const 0) (i32.const 1) (i32.const 1184))
    (if (i32.load8_u (i32.const 1184)) (then (return (call $wasi_err (i32.const 1188)))))
    (local.set $file (i32.load (i32.const 1188)))
    (call $read (local.get $file) (i64.const 4096) (i64.const 0) (i32.const 1184))
    (if (i32.load8_u (i32.const 1184)) (then (return (call $wasi_err (i32.const 1188)))))
    (call $reply (i32.const 0) (i32.const 0) (i32.const 0)
                 (i32.load (i32.const 1188)) (i32.load (i32.const 1192))))
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
