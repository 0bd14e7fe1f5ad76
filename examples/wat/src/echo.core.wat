;; Core module of the `echo` example component (world airssys:core/airssys-component).
;; `wasm-tools component embed` + `component new` (see ../build.py) turn it into src/airssys_wasm/benchmarks/guests/echo.wat.
;;
;; handle-message: remembers the last message (up to 1 KiB).
;; execute(op): a tiny command language that exercises every host service:
;;   "log:<text>"      log(info, text)                     -> "ok"
;;   "time"            current-time-millis()               -> u64 little-endian
;;   "sleep"           sleep-millis(10000)                 -> "slept"
;;   "send:<name>"     send-message({"", name, ""}, "hello") -> "sent" | error text
;;   "request:<name>"  send-request({"", name, ""}, "ping", 1000) -> request id | error text
;;   "cancel:<id>"     cancel-request(id)                  -> "ok" | error text
;;   "list"            list-components()                   -> u32 count, little-endian
;;   "meta:<name>"     get-component-metadata({"", name, ""}) -> its name | "none"
;;   "last"            -> the last message given to handle-message
;;   "sick"            health() answers unhealthy from now on -> "ok"
;;   anything else     -> echoed back unchanged
(module
  (import "cm32p2|airssys:core/host-services@1" "log"
    (func $log (param i32 i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:core/host-services@1" "send-message"
    (func $send_message (param i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:core/host-services@1" "send-request"
    (func $send_request (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32)))
  (import "cm32p2|airssys:core/host-services@1" "cancel-request"
    (func $cancel_request (param i32 i32 i32)))
  (import "cm32p2|airssys:core/host-services@1" "current-time-millis"
    (func $now (result i64)))
  (import "cm32p2|airssys:core/host-services@1" "sleep-millis"
    (func $sleep (param i64)))
  (import "cm32p2|airssys:core/host-services@1" "list-components"
    (func $list_components (param i32)))
  (import "cm32p2|airssys:core/host-services@1" "get-component-metadata"
    (func $get_metadata (param i32 i32 i32 i32 i32 i32 i32)))

  (memory (export "cm32p2_memory") 1)

  ;; 1024: return area, 1100: scratch (host results), 2048: last message, 4096+: bump heap
  (global $heap (mut i32) (i32.const 4096))
  (global $last_len (mut i32) (i32.const 0))
  (global $health (mut i32) (i32.const 0))

  (data (i32.const 16) "log:timesleep")          ;; 16 log: | 20 time | 24 sleep
  (data (i32.const 32) "send:")
  (data (i32.const 40) "request:")
  (data (i32.const 48) "cancel:")
  (data (i32.const 56) "list")
  (data (i32.const 64) "meta:")
  (data (i32.const 72) "lastsickok")             ;; 72 last | 76 sick | 80 ok
  (data (i32.const 84) "slept")
  (data (i32.const 92) "sent")
  (data (i32.const 96) "none")
  (data (i32.const 100) "echo1.0.0")             ;; 100 echo | 104 1.0.0
  (data (i32.const 112) "echo component")        ;; 14 bytes
  (data (i32.const 128) "\64\00\00\00\04\00\00\00") ;; list<string> ["echo"]
  ;; component-metadata record: name, version, description, supported-operations
  (data (i32.const 136)
    "\64\00\00\00\04\00\00\00\68\00\00\00\05\00\00\00\70\00\00\00\0e\00\00\00\80\00\00\00\01\00\00\00")
  (data (i32.const 176) "hellopingping")         ;; 176 hello | 181 ping

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

  ;; Every call's arguments live in the bump heap until its post-return.
  (func $reset (param i32) (global.set $heap (i32.const 4096)))

  (func $starts_with (param $p i32) (param $n i32) (param $lit i32) (param $ln i32) (result i32)
    (local $i i32)
    (if (i32.lt_u (local.get $n) (local.get $ln)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $ln)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $lit) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; ok(list) result of execute
  (func $reply (param $p i32) (param $n i32) (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (local.get $p))
    (i32.store (i32.const 1032) (local.get $n))
    (i32.const 1024))

  (func $ok_unit (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.const 1024))

  ;; A host result<_, messaging-error> / result<string, messaging-error> at SCRATCH:
  ;; reply with `ok_ptr/ok_len` on success or with the error's text.
  (func $reply_host_result (param $ok_p i32) (param $ok_n i32) (result i32)
    (if (i32.load8_u (i32.const 1100))
      (then (return (call $reply (i32.load (i32.const 1108)) (i32.load (i32.const 1112))))))
    (call $reply (local.get $ok_p) (local.get $ok_n)))

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
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 16) (i32.const 4))
      (then
        (call $log (i32.const 2)
                   (i32.add (local.get $op) (i32.const 4)) (i32.sub (local.get $n) (i32.const 4))
                   (i32.const 0) (i32.const 0) (i32.const 0))
        (return (call $reply (i32.const 80) (i32.const 2)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 20) (i32.const 4))
      (then
        (i64.store (i32.const 1100) (call $now))
        (return (call $reply (i32.const 1100) (i32.const 8)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 24) (i32.const 5))
      (then
        (call $sleep (i64.const 10000))
        (return (call $reply (i32.const 84) (i32.const 5)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 32) (i32.const 5))
      (then
        (call $send_message
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.const 5)) (i32.sub (local.get $n) (i32.const 5))
          (i32.const 0) (i32.const 0)
          (i32.const 176) (i32.const 5)
          (i32.const 1100))
        (return (call $reply_host_result (i32.const 92) (i32.const 4)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 40) (i32.const 8))
      (then
        (call $send_request
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.const 8)) (i32.sub (local.get $n) (i32.const 8))
          (i32.const 0) (i32.const 0)
          (i32.const 181) (i32.const 4)
          (i64.const 1000)
          (i32.const 1100))
        (return (call $reply_host_result (i32.load (i32.const 1104)) (i32.load (i32.const 1108))))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 48) (i32.const 7))
      (then
        (call $cancel_request
          (i32.add (local.get $op) (i32.const 7)) (i32.sub (local.get $n) (i32.const 7))
          (i32.const 1100))
        (return (call $reply_host_result (i32.const 80) (i32.const 2)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 56) (i32.const 4))
      (then
        (call $list_components (i32.const 1100))
        (i32.store (i32.const 1120) (i32.load (i32.const 1104)))
        (return (call $reply (i32.const 1120) (i32.const 4)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 64) (i32.const 5))
      (then
        (call $get_metadata
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.const 5)) (i32.sub (local.get $n) (i32.const 5))
          (i32.const 0) (i32.const 0)
          (i32.const 1100))
        (if (i32.load8_u (i32.const 1100))
          (then (return (call $reply (i32.load (i32.const 1104)) (i32.load (i32.const 1108))))))
        (return (call $reply (i32.const 96) (i32.const 4)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 72) (i32.const 4))
      (then (return (call $reply (i32.const 2048) (global.get $last_len)))))
    (if (call $starts_with (local.get $op) (local.get $n) (i32.const 76) (i32.const 4))
      (then
        (global.set $health (i32.const 2))
        (return (call $reply (i32.const 80) (i32.const 2)))))
    (call $reply (local.get $op) (local.get $n)))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param $ns i32) (param $ns_n i32) (param $name i32) (param $name_n i32)
    (param $ver i32) (param $ver_n i32) (param $msg i32) (param $n i32)
    (result i32)
    (if (i32.gt_u (local.get $n) (i32.const 1024)) (then (local.set $n (i32.const 1024))))
    (memory.copy (i32.const 2048) (local.get $msg) (local.get $n))
    (global.set $last_len (local.get $n))
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback")
    (param i32 i32 i32 i32 i32) (result i32)
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata") (result i32)
    (i32.const 136))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata_post") (param i32))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|health") (result i32)
    (global.get $health))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|health_post") (param i32))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown") (result i32)
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown_post") (param i32))
)
