;; Core module of the `bad-host-import` example: imports host-services `log(message: string)`,
;; which is not the host's signature. Loading it must fail with a LoadError naming `log`.
(module
  (import "cm32p2|airssys:core/host-services@1" "log" (func $log (param i32 i32)))
  (memory (export "cm32p2_memory") 1)
  (func (export "cm32p2_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "cm32p2_initialize"))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $log (i32.const 0) (i32.const 0))
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
)
