;; Core module of the `no-handle-message` example: exports only `health`. Loading it must fail
;; with a LoadError that names the missing `handle-message`.
(module
  (memory (export "cm32p2_memory") 1)
  (func (export "cm32p2_initialize"))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|health") (result i32) (i32.const 0))
)
