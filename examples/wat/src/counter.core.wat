;; Core module of the `counter` example component (world airssys:core/airssys-component):
;; the smallest useful stateful actor. `../build.py` turns it into src/airssys_wasm/demo/counter.wat.
;;
;; handle-message(sender, frame): counts the message and adds its length to a byte total.
;; execute(op):
;;   "cnt?" -> 8 bytes: u32 LE messages counted, u32 LE bytes counted (this instance)
;;   "rst!" -> resets both counters; "ok"
;;   anything else -> err(invalid-input("unknown operation"))
;; State lives in the instance: a restart (fresh Store) starts again from zero.
(module
  (memory (export "cm32p2_memory") 1)

  ;; 16: op literals, 40: texts, 200: metadata, 1024: return area, 1200: replies, 4096+: heap
  (global $heap (mut i32) (i32.const 4096))
  (global $count (mut i32) (i32.const 0))
  (global $bytes (mut i32) (i32.const 0))

  (data (i32.const 16) "cnt?rst!")
  (data (i32.const 40) "ok")
  (data (i32.const 48) "unknown operation")
  ;; component-metadata record: name "counter", version "1.0.0", description "", no operations
  (data (i32.const 200)
    "\f0\00\00\00\07\00\00\00\f7\00\00\00\05\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 240) "counter1.0.0")

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

  (func $is (param $p i32) (param $n i32) (param $lit i32) (result i32)
    (if (i32.ne (local.get $n) (i32.const 4)) (then (return (i32.const 0))))
    (i32.eq (i32.load (local.get $p)) (i32.load (local.get $lit))))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|init")
    (param i32 i32 i32 i32 i32) (result i32)
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|init_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param $rid i32) (param $rid_n i32) (param $timeout i64)
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (if (call $is (local.get $op) (local.get $n) (i32.const 16))
      (then
        (i32.store (i32.const 1200) (global.get $count))
        (i32.store (i32.const 1204) (global.get $bytes))
        (return (call $reply (i32.const 1200) (i32.const 8)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 20))
      (then
        (global.set $count (i32.const 0))
        (global.set $bytes (i32.const 0))
        (return (call $reply (i32.const 40) (i32.const 2)))))
    ;; err(invalid-input("unknown operation"))
    (i32.store8 (i32.const 1024) (i32.const 1))
    (i32.store8 (i32.const 1028) (i32.const 0))
    (i32.store (i32.const 1032) (i32.const 48))
    (i32.store (i32.const 1036) (i32.const 17))
    (i32.const 1024))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32) (param $msg i32) (param $n i32)
    (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.set $bytes (i32.add (global.get $bytes) (local.get $n)))
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
