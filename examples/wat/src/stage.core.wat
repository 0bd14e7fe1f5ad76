;; Core module of the `stage` example component (world airssys:core/airssys-component): one
;; stage of a message pipeline. `wasm-tools component embed` + `component new` (see ../build.py)
;; turn it into src/airssys_wasm/demo/stage.wat, the one copy (`airssys-wasm demo` runs it).
;;
;; init(config): config-data = <mode> <poison> <target name>
;;   mode   'f' forward each frame unchanged to <target>
;;          'u' upper-case the ASCII letters of the payload, then forward to <target>
;;          anything else (or no config-data): only count (a sink)
;;   poison '!' trap (unreachable) on a payload that starts with "poison"; anything else: never
;; handle-message(sender, frame): skips the multicodec varint prefix, maybe traps, counts the
;;   message, maybe transforms it, then calls host-services send-message(target, frame): the
;;   host routes it into the target's mailbox (component -> component through the host).
;; execute("stat") -> 12 bytes: u32 LE handled, u32 LE forwarded, u32 LE forward failures
;;   (counters of this instance: a restart starts from zero); anything else is echoed back.
(module
  (import "cm32p2|airssys:core/host-services@1" "send-message"
    (func $send_message (param i32 i32 i32 i32 i32 i32 i32 i32 i32)))

  (memory (export "cm32p2_memory") 1)

  ;; 16: op literal, 64: "poison", 200: metadata, 512: config (mode, poison, len, name[64]),
  ;; 1024: return area, 1100: host result, 1200: stat reply, 4096+: bump heap
  (global $heap (mut i32) (i32.const 4096))
  (global $handled (mut i32) (i32.const 0))
  (global $forwarded (mut i32) (i32.const 0))
  (global $failed (mut i32) (i32.const 0))

  (data (i32.const 16) "stat")
  (data (i32.const 64) "poison")
  ;; component-metadata record: name "stage", version "1.0.0", description "", no operations
  (data (i32.const 200)
    "\f0\00\00\00\05\00\00\00\f5\00\00\00\05\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 240) "stage1.0.0")

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
    (if (local.get $old_size)
      (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old_size))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func $initialize (export "cm32p2_initialize"))

  (func $reset (param i32) (global.set $heap (i32.const 4096)))

  (func $reply (param $p i32) (param $n i32) (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (local.get $p))
    (i32.store (i32.const 1032) (local.get $n))
    (i32.const 1024))

  (func $ok_unit (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.const 1024))

  ;; init(config: component-config): the config-data is copied out of the heap, which
  ;; init_post rewinds.
  (func (export "cm32p2|airssys:core/component-lifecycle@1|init")
    (param $env i32) (param $env_n i32) (param $has_data i32) (param $data i32) (param $n i32)
    (result i32)
    (local $len i32)
    (if (i32.and (local.get $has_data) (i32.ge_u (local.get $n) (i32.const 2)))
      (then
        (i32.store8 (i32.const 512) (i32.load8_u (local.get $data)))
        (i32.store8 (i32.const 513) (i32.load8_u (i32.add (local.get $data) (i32.const 1))))
        (local.set $len (i32.sub (local.get $n) (i32.const 2)))
        (if (i32.gt_u (local.get $len) (i32.const 64)) (then (local.set $len (i32.const 64))))
        (i32.store (i32.const 516) (local.get $len))
        (memory.copy (i32.const 520) (i32.add (local.get $data) (i32.const 2)) (local.get $len))))
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|init_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param $rid i32) (param $rid_n i32) (param $timeout i64)
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (if (i32.and (i32.eq (local.get $n) (i32.const 4))
                 (i32.eq (i32.load (local.get $op)) (i32.load (i32.const 16))))
      (then
        (i32.store (i32.const 1200) (global.get $handled))
        (i32.store (i32.const 1204) (global.get $forwarded))
        (i32.store (i32.const 1208) (global.get $failed))
        (return (call $reply (i32.const 1200) (i32.const 12)))))
    (call $reply (local.get $op) (local.get $n)))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param $ns i32) (param $ns_n i32) (param $name i32) (param $name_n i32)
    (param $ver i32) (param $ver_n i32) (param $msg i32) (param $n i32)
    (result i32)
    (local $hdr i32) (local $p i32) (local $end i32) (local $c i32) (local $mode i32)
    ;; skip the varint codec prefix: bytes with the high bit set, then one without
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $hdr) (local.get $n)))
        (local.set $c (i32.load8_u (i32.add (local.get $msg) (local.get $hdr))))
        (local.set $hdr (i32.add (local.get $hdr) (i32.const 1)))
        (br_if $next (i32.and (local.get $c) (i32.const 0x80)))))
    (local.set $p (i32.add (local.get $msg) (local.get $hdr)))
    (local.set $end (i32.add (local.get $msg) (local.get $n)))
    (if (i32.and (i32.eq (i32.load8_u (i32.const 513)) (i32.const 0x21))
                 (i32.ge_u (i32.sub (local.get $end) (local.get $p)) (i32.const 6)))
      (then
        (if (i32.and (i32.eq (i32.load (local.get $p)) (i32.load (i32.const 64)))
                     (i32.eq (i32.load16_u (i32.add (local.get $p) (i32.const 4)))
                             (i32.load16_u (i32.const 68))))
          (then unreachable))))
    (global.set $handled (i32.add (global.get $handled) (i32.const 1)))
    (local.set $mode (i32.load8_u (i32.const 512)))
    (if (i32.eq (local.get $mode) (i32.const 0x75))
      (then
        (block $stop
          (loop $each
            (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $c (i32.load8_u (local.get $p)))
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 0x61))
                         (i32.le_u (local.get $c) (i32.const 0x7a)))
              (then (i32.store8 (local.get $p) (i32.sub (local.get $c) (i32.const 32)))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $each)))))
    (if (i32.and (i32.or (i32.eq (local.get $mode) (i32.const 0x66))
                         (i32.eq (local.get $mode) (i32.const 0x75)))
                 (i32.ne (i32.load (i32.const 516)) (i32.const 0)))
      (then
        (call $send_message
          (i32.const 0) (i32.const 0)
          (i32.const 520) (i32.load (i32.const 516))
          (i32.const 0) (i32.const 0)
          (local.get $msg) (local.get $n)
          (i32.const 1100))
        (if (i32.load8_u (i32.const 1100))
          (then (global.set $failed (i32.add (global.get $failed) (i32.const 1))))
          (else (global.set $forwarded (i32.add (global.get $forwarded) (i32.const 1)))))))
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback")
    (param i32 i32 i32 i32 i32) (result i32)
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata") (result i32)
    (i32.const 200))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata_post") (param i32))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|health") (result i32)
    (i32.const 0))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|health_post") (param i32))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown") (result i32)
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown_post") (param i32))
)
