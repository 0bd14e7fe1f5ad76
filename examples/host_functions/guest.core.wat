;; Core module of the host-functions example guest (examples/host_functions/guest.wat is made
;; from it by examples/wat/build.py). It targets the airssys-component world and imports the
;; embedder's `acme:billing/ledger@1.0.0` (billing.wit).
;;
;; execute(op, ctx): charge 250 cents ("coffee") to the account named by `op`, then ask for
;; its balance, and reply with 17 bytes: [tag] ++ u64 LE ++ u64 LE balance, where tag 0 = ok
;; (the first u64 is the new balance), 1 = insufficient-funds (the shortfall), 2 =
;; unknown-account (the first u64 is 0). A successful charge also gets a receipt (a host
;; resource): constructed for the account, one line added through a borrowed handle, dropped.
(module
  (import "cm32p2|acme:billing/ledger@1" "charge"
    (func $charge (param i32 i32 i64 i32 i32 i32)))
  (import "cm32p2|acme:billing/ledger@1" "balance" (func $balance (param i32 i32) (result i64)))
  (import "cm32p2|acme:billing/ledger@1" "[constructor]receipt"
    (func $receipt (param i32 i32) (result i32)))
  (import "cm32p2|acme:billing/ledger@1" "[method]receipt.add-line"
    (func $add_line (param i32 i32 i32 i64)))
  (import "cm32p2|acme:billing/ledger@1" "receipt_drop" (func $drop_receipt (param i32)))
  (memory (export "cm32p2_memory") 1)
  (data (i32.const 200) "coffee")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "cm32p2_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (local.get $size) (i32.const 16))
                                              (i32.const 1)))
                        (i32.const -1))
              (then unreachable))))
    (local.get $ptr))
  (func (export "cm32p2_initialize"))
  (func $reset (param i32) (global.set $heap (i32.const 4096)))
  (func $ok_unit (result i32)
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.const 1024))

  ;; charge's result<u64, charge-error> is written at 1152: tag u8 at +0, ok u64 at +8;
  ;; err: charge-error tag u8 at +8, its payload at +16.
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param $op i32) (param $n i32)
    (param i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (local $r i32)
    (call $charge (local.get $op) (local.get $n) (i64.const 250) (i32.const 200) (i32.const 6)
                  (i32.const 1152))
    (if (i32.eqz (i32.load8_u (i32.const 1152)))
      (then (i32.store8 (i32.const 64) (i32.const 0))
            (i64.store (i32.const 65) (i64.load (i32.const 1160)))
            (local.set $r (call $receipt (local.get $op) (local.get $n)))
            (call $add_line (local.get $r) (i32.const 200) (i32.const 6) (i64.const 250))
            (call $drop_receipt (local.get $r)))
      (else (i32.store8 (i32.const 64) (i32.add (i32.const 1) (i32.load8_u (i32.const 1160))))
            (i64.store (i32.const 65) (select (i64.load (i32.const 1168)) (i64.const 0)
                                              (i32.eqz (i32.load8_u (i32.const 1160)))))))
    (i64.store (i32.const 73) (call $balance (local.get $op) (local.get $n)))
    ;; ok(list<u8>) of the 17 reply bytes at 64
    (i32.store8 (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (i32.const 64))
    (i32.store (i32.const 1032) (i32.const 17))
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
