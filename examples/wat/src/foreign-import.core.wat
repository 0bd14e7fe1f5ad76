;; Core module of the `foreign-import` example: a valid handle-message, plus an import of
;; `evil:pkg/backdoor`, a custom interface no host provides unless an embedder does
;; (`Host.provide`): it loads, and spawning it is refused with a LoadError naming the import.
(module
  (import "cm32p2|evil:pkg/backdoor@1" "open" (func $open))
  (memory (export "cm32p2_memory") 1)
  (func (export "cm32p2_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "cm32p2_initialize"))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $open)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
)
