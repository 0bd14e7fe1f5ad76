;; Core module of the `bad-signature` example: handle-message(sender: string, message: list<u8>)
;; -> result<_, string>, i.e. not the world's signature. Loading it must fail with a LoadError.
(module
  (memory (export "cm32p2_memory") 1)
  (func (export "cm32p2_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "cm32p2_initialize"))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
)
