;; A hand-written WASI p2 component that writes to wasi:cli/stdout and wasi:cli/stderr.
;;
;; No example guest writes to stdio, and the examples are generated with wasm-tools (not needed to
;; run the tests), so this one is plain component text: a memory module (memory + realloc) is
;; instantiated first so the WASI imports can be lowered against its memory, then the main module
;; imports both. handle-message's first byte (after a multicodec raw prefix 0x55, if any) picks
;; the action, the rest of the message is the text:
;;
;;   'o' text -> write text to stdout, return ok
;;   'e' text -> write text to stderr, return ok
;;   'E' text -> write text to stderr, then trap (`unreachable`), like a guest printing its panic
;;   'n' text -> write text to stderr n times, where n is the text's first byte, then return ok
;;   anything else -> ok
(component
  (import "wasi:io/error@0.2.0" (instance $io-error
    (export "error" (type (sub resource)))))
  (alias export $io-error "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer 1 $error (type (;0;)))
    (export (;1;) "error" (type (eq 0)))
    (export (;2;) "output-stream" (type (sub resource)))
    (type (;3;) (own 1))
    (type (;4;) (variant (case "last-operation-failed" 3) (case "closed")))
    (export (;5;) "stream-error" (type (eq 4)))
    (type (;6;) (borrow 2))
    (type (;7;) (list u8))
    (type (;8;) (result (error 5)))
    (type (;9;) (func (param "self" 6) (param "contents" 7) (result 8)))
    (export (;0;) "[method]output-stream.blocking-write-and-flush" (func (type 9)))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stderr@0.2.0" (instance $stderr
    (alias outer 1 $output-stream (type (;0;)))
    (export (;1;) "output-stream" (type (eq 0)))
    (type (;2;) (own 1))
    (type (;3;) (func (result 2)))
    (export (;0;) "get-stderr" (func (type 3)))))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output-stream (type (;0;)))
    (export (;1;) "output-stream" (type (eq 0)))
    (type (;2;) (own 1))
    (type (;3;) (func (result 2)))
    (export (;0;) "get-stdout" (func (type 3)))))
  (type $ty-types (instance
    (type (;0;) (record (field "namespace" string) (field "name" string) (field "version" string)))
    (export (;1;) "component-id" (type (eq 0)))
    (type (;2;) (variant (case "initialization-failed" string) (case "configuration-invalid" string)
                         (case "resource-exhausted" string) (case "internal-error" string)))
    (export (;3;) "component-error" (type (eq 2)))))
  (import "airssys:core/types@1.0.0" (instance $types (type $ty-types)))
  (alias export $types "component-id" (type $component-id))
  (alias export $types "component-error" (type $component-error))

  (core module $mem
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    ;; Bump allocator that starts over when a page is used up (a call allocates only its
    ;; arguments: three short strings and the message).
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ptr i32)
      (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.const 65536))
        (then (global.set $heap (i32.const 1024))))
      (local.set $ptr (global.get $heap))
      (global.set $heap (i32.and (i32.add (i32.add (local.get $ptr) (local.get 3)) (i32.const 7))
                                 (i32.const -8)))
      (local.get $ptr)))
  (core instance $mem (instantiate $mem))
  (alias core export $mem "memory" (core memory $memory))
  (alias core export $mem "realloc" (core func $realloc))

  (alias export $streams "[method]output-stream.blocking-write-and-flush" (func $write))
  (alias export $stderr "get-stderr" (func $get-stderr))
  (alias export $stdout "get-stdout" (func $get-stdout))
  (core func $write-low (canon lower (func $write) (memory $memory)))
  (core func $get-stderr-low (canon lower (func $get-stderr)))
  (core func $get-stdout-low (canon lower (func $get-stdout)))
  (core instance $wasi
    (export "write" (func $write-low))
    (export "get-stderr" (func $get-stderr-low))
    (export "get-stdout" (func $get-stdout-low)))

  (core module $main
    (import "mem" "memory" (memory 1))
    (import "wasi" "write" (func $write (param i32 i32 i32 i32)))
    (import "wasi" "get-stderr" (func $get_stderr (result i32)))
    (import "wasi" "get-stdout" (func $get_stdout (result i32)))
    (global $err (mut i32) (i32.const -1))
    (global $out (mut i32) (i32.const -1))
    (func $stderr (result i32)
      (if (i32.eq (global.get $err) (i32.const -1)) (then (global.set $err (call $get_stderr))))
      (global.get $err))
    (func $stdout (result i32)
      (if (i32.eq (global.get $out) (i32.const -1)) (then (global.set $out (call $get_stdout))))
      (global.get $out))
    (func (export "handle-message") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (local $cmd i32) (local $n i32)
      (i32.store8 (i32.const 0) (i32.const 0))
      ;; A multicodec raw frame (0x55 prefix, as the Host delivers it) is read past its prefix.
      (if (i32.and (i32.gt_u (local.get 7) (i32.const 1))
                   (i32.eq (i32.load8_u (local.get 6)) (i32.const 0x55)))
        (then (local.set 6 (i32.add (local.get 6) (i32.const 1)))
              (local.set 7 (i32.sub (local.get 7) (i32.const 1)))))
      (if (i32.eqz (local.get 7)) (then (return (i32.const 0))))
      (local.set $cmd (i32.load8_u (local.get 6)))
      (if (i32.eq (local.get $cmd) (i32.const 0x6f))
        (then (call $write (call $stdout) (i32.add (local.get 6) (i32.const 1))
                           (i32.sub (local.get 7) (i32.const 1)) (i32.const 16))))
      (if (i32.or (i32.eq (local.get $cmd) (i32.const 0x65)) (i32.eq (local.get $cmd) (i32.const 0x45)))
        (then (call $write (call $stderr) (i32.add (local.get 6) (i32.const 1))
                           (i32.sub (local.get 7) (i32.const 1)) (i32.const 16))))
      (if (i32.eq (local.get $cmd) (i32.const 0x45)) (then unreachable))
      (if (i32.and (i32.eq (local.get $cmd) (i32.const 0x6e)) (i32.gt_u (local.get 7) (i32.const 1)))
        (then
          (local.set $n (i32.load8_u (i32.add (local.get 6) (i32.const 1))))
          (loop $again
            (if (local.get $n)
              (then
                (call $write (call $stderr) (i32.add (local.get 6) (i32.const 2))
                             (i32.sub (local.get 7) (i32.const 2)) (i32.const 16))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br $again))))))
      (i32.const 0)))
  (core instance $main (instantiate $main
    (with "mem" (instance $mem))
    (with "wasi" (instance $wasi))))

  (type $bytes (list u8))
  (type $outcome (result (error $component-error)))
  (type $handle-type (func (param "sender" $component-id) (param "message" $bytes) (result $outcome)))
  (alias core export $main "handle-message" (core func $handle-core))
  (func $handle-message (type $handle-type)
    (canon lift (core func $handle-core) (memory $memory) (realloc $realloc) string-encoding=utf8))
  (component $lifecycle-shim
    (type (;0;) (record (field "namespace" string) (field "name" string) (field "version" string)))
    (import "import-type-component-id" (type (;1;) (eq 0)))
    (type (;2;) (variant (case "initialization-failed" string) (case "configuration-invalid" string)
                         (case "resource-exhausted" string) (case "internal-error" string)))
    (import "import-type-component-error" (type (;3;) (eq 2)))
    (import "import-type-component-id0" (type (;4;) (eq 1)))
    (type (;5;) (list u8))
    (import "import-type-component-error0" (type (;6;) (eq 3)))
    (type (;7;) (result (error 6)))
    (type (;8;) (func (param "sender" 4) (param "message" 5) (result 7)))
    (import "import-func-handle-message" (func (;0;) (type 8)))
    (export (;9;) "component-id" (type 1))
    (export (;10;) "component-error" (type 3))
    (type (;11;) (list u8))
    (type (;12;) (result (error 10)))
    (type (;13;) (func (param "sender" 9) (param "message" 11) (result 12)))
    (export (;1;) "handle-message" (func 0) (func (type 13))))
  (instance $lifecycle (instantiate $lifecycle-shim
    (with "import-func-handle-message" (func $handle-message))
    (with "import-type-component-id" (type $component-id))
    (with "import-type-component-error" (type $component-error))
    (with "import-type-component-id0" (type $component-id))
    (with "import-type-component-error0" (type $component-error))))
  (export "airssys:core/component-lifecycle@1.0.0" (instance $lifecycle))
)
