;; Core module of the `pingpong` example component (world airssys:core/airssys-component).
;; `wasm-tools component embed` + `component new` (see ../build.py) turn it into src/airssys_wasm/benchmarks/guests/pingpong.wat.
;; Built for the host layer's end-to-end tests and benchmarks: it talks to other components
;; through host-services and can be told to misbehave.
;;
;; handle-message(sender, frame): the byte after the 1-byte codec prefix is a command:
;;   'u'          trap (unreachable)
;;   'e'          answer err(internal-error("refused")) - not counted
;;   'p' <ttl>    count it; if ttl > 0 send [0x55 'p' ttl-1] back to the sender (ping-pong)
;;   anything else: count it
;; execute(op):
;;   "cnt?"                       -> u32 LE: messages counted by this instance
;;   "ini?"                       -> u32 LE: 1 if init ran on this instance
;;   "sick"                       -> health() answers unhealthy from now on; "ok"
;;   "hbad"                       -> health() returns an out-of-range enum value (the host's
;;                                   lifting fails: the probe traps); "ok"
;;   "send" <ttl> <name>          -> send-message(name, [0x55 'p' ttl]); "sent" | error text
;;   "brst" <u32 n> <name>        -> n x send-message(name, [0x55 'x']); u32 LE count accepted
;;   "rqst" <u32 ms> <u8 len> <payload> <name>
;;                                -> send-request(name, payload, ms); request id | error text
;;   "cncl" <id>                  -> cancel-request(id); "ok" | error text
;;   "cbk?"                       -> u32 LE callbacks seen, u8 last outcome tag (0 ok, 1 err),
;;                                   last outcome bytes
;;   "rqcn" <u32 ms> <u8 len> <payload> <name>
;;                                -> send-request as "rqst", then cancel-request of that id at
;;                                   once; "ok" | error text
;;   "rid?"                       -> the request id of this call's execution-context
;;   "tmo?"                       -> u64 LE: the timeout-ms of this call's execution-context
;;   "nap!"                       -> sleep-millis(100); "awake"
;;   "loop"                       -> spins forever (the epoch deadline traps it)
;;   "why?"                       -> u8 tag (0 ok, 1 err) and u8 messaging-error case index of
;;                                   the last host-services result (send/rqst/cncl/brst)
;;   anything else                -> echoed back
;; shutdown() logs "shutdown" at info level.
(module
  (import "cm32p2|airssys:core/host-services@1" "log"
    (func $log (param i32 i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:core/host-services@1" "send-message"
    (func $send_message (param i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "cm32p2|airssys:core/host-services@1" "send-request"
    (func $send_request (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32)))
  (import "cm32p2|airssys:core/host-services@1" "cancel-request"
    (func $cancel_request (param i32 i32 i32)))
  (import "cm32p2|airssys:core/host-services@1" "sleep-millis"
    (func $sleep (param i64)))

  (memory (export "cm32p2_memory") 1)

  ;; 96: outgoing frames, 1024: return area, 1100: host results, 1200: u32 replies,
  ;; 2048: "cbk?" reply (count, tag, outcome bytes up to 1 KiB), 4096+: bump heap
  (global $heap (mut i32) (i32.const 4096))
  (global $count (mut i32) (i32.const 0))
  (global $inited (mut i32) (i32.const 0))
  (global $health (mut i32) (i32.const 0))
  (global $cb_count (mut i32) (i32.const 0))
  (global $cb_len (mut i32) (i32.const 0))

  (data (i32.const 16) "cnt?ini?sicksendbrstrqstcnclcbk?nap!loop") ;; 16 + 4k
  (data (i32.const 160) "rqcnrid?tmo?hbadwhy?")                      ;; 160 + 4k
  (data (i32.const 56) "sent")
  (data (i32.const 60) "ok")
  (data (i32.const 64) "awake")
  (data (i32.const 72) "refused")
  (data (i32.const 80) "shutdown")
  (data (i32.const 100) "\55x")
  ;; component-metadata record: name "pingpong", version "1.0.0", description "", no operations
  (data (i32.const 200)
    "\f0\00\00\00\08\00\00\00\f8\00\00\00\05\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 240) "pingpong1.0.0")

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

  (func $is (param $p i32) (param $n i32) (param $lit i32) (result i32)
    (if (i32.lt_u (local.get $n) (i32.const 4)) (then (return (i32.const 0))))
    (i32.eq (i32.load (local.get $p)) (i32.load (local.get $lit))))

  (func $reply (param $p i32) (param $n i32) (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (local.get $p))
    (i32.store (i32.const 1032) (local.get $n))
    (i32.const 1024))

  (func $reply_u32 (param $v i32) (result i32)
    (i32.store (i32.const 1200) (local.get $v))
    (call $reply (i32.const 1200) (i32.const 4)))

  (func $ok_unit (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.const 1024))

  ;; A host result<_, messaging-error> / result<string, messaging-error> at 1100.
  (func $reply_host_result (param $ok_p i32) (param $ok_n i32) (result i32)
    (if (i32.load8_u (i32.const 1100))
      (then (return (call $reply (i32.load (i32.const 1108)) (i32.load (i32.const 1112))))))
    (call $reply (local.get $ok_p) (local.get $ok_n)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|init")
    (param i32 i32 i32 i32 i32) (result i32)
    (global.set $inited (i32.const 1))
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|init_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param $rid i32) (param $rid_n i32) (param $timeout i64)
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    (local $i i32) (local $sent i32) (local $plen i32)
    (if (call $is (local.get $op) (local.get $n) (i32.const 16))
      (then (return (call $reply_u32 (global.get $count)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 20))
      (then (return (call $reply_u32 (global.get $inited)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 24))
      (then
        (global.set $health (i32.const 2))
        (return (call $reply (i32.const 60) (i32.const 2)))))
    (if (i32.and (call $is (local.get $op) (local.get $n) (i32.const 28))
                 (i32.ge_u (local.get $n) (i32.const 5)))
      (then
        (i32.store8 (i32.const 96) (i32.const 0x55))
        (i32.store8 (i32.const 97) (i32.const 0x70))
        (i32.store8 (i32.const 98) (i32.load8_u (i32.add (local.get $op) (i32.const 4))))
        (call $send_message
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.const 5)) (i32.sub (local.get $n) (i32.const 5))
          (i32.const 0) (i32.const 0)
          (i32.const 96) (i32.const 3)
          (i32.const 1100))
        (return (call $reply_host_result (i32.const 56) (i32.const 4)))))
    (if (i32.and (call $is (local.get $op) (local.get $n) (i32.const 32))
                 (i32.ge_u (local.get $n) (i32.const 8)))
      (then
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i)
                                   (i32.load (i32.add (local.get $op) (i32.const 4)))))
            (call $send_message
              (i32.const 0) (i32.const 0)
              (i32.add (local.get $op) (i32.const 8)) (i32.sub (local.get $n) (i32.const 8))
              (i32.const 0) (i32.const 0)
              (i32.const 100) (i32.const 2)
              (i32.const 1100))
            (if (i32.eqz (i32.load8_u (i32.const 1100)))
              (then (local.set $sent (i32.add (local.get $sent) (i32.const 1)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (return (call $reply_u32 (local.get $sent)))))
    (if (i32.and (call $is (local.get $op) (local.get $n) (i32.const 36))
                 (i32.ge_u (local.get $n) (i32.const 9)))
      (then
        (local.set $plen (i32.load8_u (i32.add (local.get $op) (i32.const 8))))
        (if (i32.gt_u (i32.add (i32.const 9) (local.get $plen)) (local.get $n)) (then unreachable))
        (call $send_request
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.add (i32.const 9) (local.get $plen)))
          (i32.sub (local.get $n) (i32.add (i32.const 9) (local.get $plen)))
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.const 9)) (local.get $plen)
          (i64.extend_i32_u (i32.load (i32.add (local.get $op) (i32.const 4))))
          (i32.const 1100))
        (return (call $reply_host_result (i32.load (i32.const 1104)) (i32.load (i32.const 1108))))))
    (if (i32.and (call $is (local.get $op) (local.get $n) (i32.const 160))
                 (i32.ge_u (local.get $n) (i32.const 9)))
      (then
        (local.set $plen (i32.load8_u (i32.add (local.get $op) (i32.const 8))))
        (if (i32.gt_u (i32.add (i32.const 9) (local.get $plen)) (local.get $n)) (then unreachable))
        (call $send_request
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.add (i32.const 9) (local.get $plen)))
          (i32.sub (local.get $n) (i32.add (i32.const 9) (local.get $plen)))
          (i32.const 0) (i32.const 0)
          (i32.add (local.get $op) (i32.const 9)) (local.get $plen)
          (i64.extend_i32_u (i32.load (i32.add (local.get $op) (i32.const 4))))
          (i32.const 1100))
        (if (i32.load8_u (i32.const 1100))
          (then (return (call $reply_host_result (i32.const 60) (i32.const 2)))))
        (call $cancel_request (i32.load (i32.const 1104)) (i32.load (i32.const 1108))
                              (i32.const 1100))
        (return (call $reply_host_result (i32.const 60) (i32.const 2)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 172))
      (then
        (global.set $health (i32.const 9))
        (return (call $reply (i32.const 60) (i32.const 2)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 164))
      (then (return (call $reply (local.get $rid) (local.get $rid_n)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 176))
      (then
        (i32.store8 (i32.const 1200) (i32.load8_u (i32.const 1100)))
        (i32.store8 (i32.const 1201) (i32.load8_u (i32.const 1104)))
        (return (call $reply (i32.const 1200) (i32.const 2)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 168))
      (then
        (i64.store (i32.const 1200) (local.get $timeout))
        (return (call $reply (i32.const 1200) (i32.const 8)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 40))
      (then
        (call $cancel_request
          (i32.add (local.get $op) (i32.const 4)) (i32.sub (local.get $n) (i32.const 4))
          (i32.const 1100))
        (return (call $reply_host_result (i32.const 60) (i32.const 2)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 44))
      (then
        (i32.store (i32.const 2048) (global.get $cb_count))
        (return (call $reply (i32.const 2048) (i32.add (i32.const 5) (global.get $cb_len))))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 48))
      (then
        (call $sleep (i64.const 100))
        (return (call $reply (i32.const 64) (i32.const 5)))))
    (if (call $is (local.get $op) (local.get $n) (i32.const 52))
      (then (loop $forever (br $forever))))
    (call $reply (local.get $op) (local.get $n)))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param $ns i32) (param $ns_n i32) (param $name i32) (param $name_n i32)
    (param $ver i32) (param $ver_n i32) (param $msg i32) (param $n i32)
    (result i32)
    (local $cmd i32) (local $ttl i32)
    (if (i32.ge_u (local.get $n) (i32.const 2))
      (then (local.set $cmd (i32.load8_u (i32.add (local.get $msg) (i32.const 1))))))
    (if (i32.eq (local.get $cmd) (i32.const 0x75)) (then unreachable))
    (if (i32.eq (local.get $cmd) (i32.const 0x65))
      (then
        ;; err(internal-error("refused"))
        (i32.store8 (i32.const 1024) (i32.const 1))
        (i32.store8 (i32.const 1028) (i32.const 3))
        (i32.store (i32.const 1032) (i32.const 72))
        (i32.store (i32.const 1036) (i32.const 7))
        (return (i32.const 1024))))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (if (i32.and (i32.eq (local.get $cmd) (i32.const 0x70)) (i32.ge_u (local.get $n) (i32.const 3)))
      (then
        (local.set $ttl (i32.load8_u (i32.add (local.get $msg) (i32.const 2))))
        (if (local.get $ttl)
          (then
            (i32.store8 (i32.const 96) (i32.const 0x55))
            (i32.store8 (i32.const 97) (i32.const 0x70))
            (i32.store8 (i32.const 98) (i32.sub (local.get $ttl) (i32.const 1)))
            (call $send_message
              (local.get $ns) (local.get $ns_n) (local.get $name) (local.get $name_n)
              (local.get $ver) (local.get $ver_n)
              (i32.const 96) (i32.const 3)
              (i32.const 1100))))))
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback")
    (param $id i32) (param $id_n i32) (param $tag i32) (param $p i32) (param $len i32)
    (result i32)
    (global.set $cb_count (i32.add (global.get $cb_count) (i32.const 1)))
    (if (i32.gt_u (local.get $len) (i32.const 1024)) (then (local.set $len (i32.const 1024))))
    (i32.store8 (i32.const 2052) (local.get $tag))
    (memory.copy (i32.const 2053) (local.get $p) (local.get $len))
    (global.set $cb_len (local.get $len))
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-callback_post") (param i32)
    (call $reset (local.get 0)))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata") (result i32)
    (i32.const 200))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|metadata_post") (param i32))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|health") (result i32)
    (global.get $health))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|health_post") (param i32))

  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown") (result i32)
    (call $log (i32.const 2) (i32.const 80) (i32.const 8) (i32.const 0) (i32.const 0) (i32.const 0))
    (call $ok_unit))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|shutdown_post") (param i32))
)
