;; Core module of the `fs-probe` example: imports the airssys:ext-filesystem extension, which a
;; host provides only when the manifest grants it. execute(op) reads the file named by `op` and
;; replies with its contents, or with the file-error text. The other lifecycle exports are stubs.
(module
  (import "cm32p2|airssys:ext-filesystem/filesystem@1" "read-file"
    (func $read_file (param i32 i32 i32)))
  (memory (export "cm32p2_memory") 1)
  (global $heap (mut i32) (i32.const 4096))

  (func (export "cm32p2_realloc")
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

  (func $ok_unit (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.const 1024))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (call $read_file (local.get $op) (local.get $n) (i32.const 1100))
    (i32.store8 (i32.const 1024) (i32.const 0))
    (if (i32.load8_u (i32.const 1100))
      (then  ;; err(file-error): reply with the error's text
        (i32.store (i32.const 1028) (i32.load (i32.const 1108)))
        (i32.store (i32.const 1032) (i32.load (i32.const 1112))))
      (else
        (i32.store (i32.const 1028) (i32.load (i32.const 1104)))
        (i32.store (i32.const 1032) (i32.load (i32.const 1108)))))
    (i32.const 1024))
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
