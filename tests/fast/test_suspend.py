"""The suspendable call path at the fast-path level: GuestCall, HostWait, async host functions,
time slices, deadlines, cancellation, instantiation through the async C API.

Real components from WAT; the "driver" is the test itself (what the actor scheduler does).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import pytest
import wasmtime
import wasmtime.component as wc
from hypothesis import given, settings
from hypothesis import strategies as st

from airssys_wasm import CallCancelled, TrapError, TrapKind
from airssys_wasm._fast import fastcall
from airssys_wasm._fast.fastcall import GuestCall, HostWait

IO = "test:host/io"
COMPONENT = r"""(component
  (import "%s" (instance $h
    (export "wait" (func (param "x" u32) (result u32)))
    (export "again" (func (result u32)))))
  (alias export $h "wait" (func $wait))
  (alias export $h "again" (func $again))
  (core func $wait_low (canon lower (func $wait)))
  (core func $again_low (canon lower (func $again)))
  (core module $m
    (import "h" "wait" (func $wait (param i32) (result i32)))
    (import "h" "again" (func $again (result i32)))
    (func (export "run") (param i32) (result i32)
      (i32.add (call $wait (local.get 0)) (i32.const 1)))
    (func (export "twice") (param i32) (result i32)
      (i32.add (call $wait (local.get 0)) (call $wait (i32.const 100))))
    (func (export "nest") (result i32) (call $again))
    (func (export "spin") (param $n i32) (result i32)
      (local $i i32)
      (block $done
        (loop $l
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
      (local.get $i))
    (func (export "forever") (loop $l (br $l))))
  (core instance $i (instantiate $m (with "h" (instance (export "wait" (func $wait_low))
                                                          (export "again" (func $again_low))))))
  (func (export "run") (param "x" u32) (result u32) (canon lift (core func $i "run")))
  (func (export "twice") (param "x" u32) (result u32) (canon lift (core func $i "twice")))
  (func (export "nest") (result u32) (canon lift (core func $i "nest")))
  (func (export "spin") (param "n" u32) (result u32) (canon lift (core func $i "spin")))
  (func (export "forever") (canon lift (core func $i "forever")))
)""" % IO


class Host:
    """What the guest's `wait` gets: a HostWait made per call (or a value), and the calls."""

    def __init__(self) -> None:
        self.waits: list[HostWait] = []
        self.mode = "wait"
        self.reenter: Any = None
        self.answer = lambda x: x * 10

    def wait(self, x: int) -> Any:
        if self.mode == "value":
            return self.answer(x)
        w = HostWait()
        w.what = f"wait({x})"
        w.set_canceller(lambda: setattr(w, "what", w.what + " cancelled"))
        self.waits.append(w)
        return w

    def again(self) -> int:
        return self.reenter()


@pytest.fixture(scope="module")
def engine() -> wasmtime.Engine:
    cfg = wasmtime.Config()
    cfg.epoch_interruption = True
    cfg.consume_fuel = True
    return wasmtime.Engine(cfg)


@pytest.fixture(scope="module")
def component(engine: wasmtime.Engine) -> wc.Component:
    return wc.Component(engine, wasmtime.wat2wasm(COMPONENT))


@pytest.fixture(scope="module")
def ticker(engine: wasmtime.Engine) -> Any:
    t = fastcall.EpochTicker(engine, 200)
    t.start()
    yield t
    t.stop()


class Guest:
    def __init__(self, engine: wasmtime.Engine, component: wc.Component, **limits: Any) -> None:
        self.host = Host()
        linker = wc.Linker(engine)
        with linker.root() as root, root.add_instance(IO) as li:
            fastcall.define_host_func(li, "wait", self.host.wait, suspends=True)
            fastcall.define_host_func(li, "again", self.host.again)
        self.linker = linker
        self.store = wasmtime.Store(engine)
        limits.setdefault("fuel", 10**12)
        limits.setdefault("epoch_ticks", 2**40)
        fastcall.configure_store(self.store, **limits)
        self.instance = fastcall.instantiate_component(linker, self.store, component)

    def __getattr__(self, name: str) -> fastcall.ComponentFunc:
        return fastcall.ComponentFunc.from_export(self.store, self.instance, name)


def drive(call: Any) -> Any:
    """Poll a GuestCall whose waits are already complete (or that only yields) to its end."""
    while type(call) is GuestCall:
        polls = 0
        while not call.poll():
            polls += 1
            assert polls < 10**6
        call = call.finish()
    return call


def test_a_linker_with_an_async_function_needs_async_instantiation(engine, component) -> None:
    guest = Guest(engine, component)
    with pytest.raises(wasmtime.WasmtimeError, match="async"):
        guest.linker.instantiate(wasmtime.Store(engine), component)  # wasmtime-py's sync path
    assert guest.run.start(1) is not None  # the one made through the C API works


def test_an_async_host_function_suspends_only_its_guest_until_the_wait_completes(
        engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(5)
    assert type(call) is GuestCall and not call.finished
    [wait] = guest.host.waits
    assert call.waiting is wait and "wait(5)" in repr(wait)
    assert call.poll() is False  # nothing to do before the wait is complete
    wait.set_result(41)
    assert call.poll() is True and call.finished and call.waiting is None
    assert call.finish() == 42
    # A second wait in the same call: suspends again, then finishes.
    call = guest.twice.start(1)
    guest.host.waits[-1].set_result(2)
    assert call.poll() is False and call.waiting is guest.host.waits[-1]
    guest.host.waits[-1].set_result(3)
    assert drive(call) == 5


def test_a_plain_value_from_an_async_function_continues_inline(engine, component) -> None:
    guest = Guest(engine, component)
    guest.host.mode = "value"
    assert guest.run.start(4) == 41
    assert guest.run(4) == 41  # the synchronous caller too


def test_then_functions_run_in_order_and_can_chain_another_call(engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(1)
    call.then(lambda get: get() * 2).then(lambda get: guest.run.start(get()))
    guest.host.waits[-1].set_result(1)
    assert call.poll()
    second = call.finish()  # the chained call suspended: it carries the rest
    assert type(second) is GuestCall
    guest.host.waits[-1].set_result(10)
    assert drive(second) == 11


def test_an_exception_a_then_function_raises_is_the_next_ones_outcome(engine, component) -> None:
    """How an error answer travels: the step that unwraps a result raises, the step after it
    (the actor's, which dead-letters the envelope) must see that exception through ``get``."""
    guest = Guest(engine, component)
    seen: list[Any] = []

    def unwrap(get: Any) -> Any:
        raise KeyError(get())

    def handle(get: Any) -> str:
        try:
            get()
        except KeyError as exc:
            seen.append(exc.args)
            return "handled"
        return "not reached"

    call = guest.run.start(1).then(unwrap).then(handle)
    guest.host.waits[-1].set_result(6)
    assert drive(call) == "handled" and seen == [(7,)]
    # Unhandled, it is what finish() raises, after every later function saw it.
    call = guest.run.start(1).then(unwrap).then(lambda get: seen.append("late") or get())
    guest.host.waits[-1].set_result(1)
    with pytest.raises(KeyError, match="2"):
        drive(call)
    assert seen[-1] == "late"


def test_a_failed_wait_aborts_the_guest_with_the_cause(engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(1)
    guest.host.waits[-1].set_exception(KeyError("gone"))
    assert call.poll() is True
    with pytest.raises(TrapError, match="KeyError") as info:
        call.finish()
    assert isinstance(info.value.__cause__, KeyError)


def test_a_value_that_does_not_fit_the_result_aborts_the_guest(engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(1)
    guest.host.waits[-1].set_result("not a u32")
    assert call.poll() is True
    with pytest.raises(TrapError) as info:
        call.finish()
    assert isinstance(info.value.__cause__, TypeError)


def test_cancel_unwinds_the_fiber_and_frees_the_store(engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(1)
    wait = guest.host.waits[-1]
    assert call.cancel(ValueError("stopping")) is True
    assert call.finished and call.cancel() is False
    with pytest.raises(CallCancelled, match="waiting for wait") as info:
        call.finish()
    assert isinstance(info.value.__cause__, ValueError)
    assert wait.what.endswith("cancelled")  # its canceller ran
    wait.set_result(1)  # a late completion is harmless
    # The Store takes the next call (no call in flight any more), but a component instance
    # interrupted mid-call refuses to be entered again: it has to be replaced, as after a trap
    # (the runtime discards the Store of a cancelled call).
    with pytest.raises(TrapError, match="cannot enter component instance"):
        guest.run.start(2)


def test_one_call_per_store(engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(1)
    with pytest.raises(RuntimeError, match="already has a guest call in flight"):
        guest.run.start(2)
    guest.host.waits[-1].set_result(0)
    assert drive(call) == 1
    assert guest.host.waits and guest.run.start(3) is not None


def test_a_host_function_may_not_call_back_into_its_own_store(engine, component) -> None:
    guest = Guest(engine, component)
    guest.host.mode = "value"
    guest.host.reenter = lambda: guest.run(1)
    with pytest.raises(TrapError) as info:
        guest.nest()
    assert "called back into its own Store" in str(info.value.__cause__)


def test_a_dropped_suspended_call_frees_its_store(engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(1)
    del call
    gc.collect()
    with pytest.raises(TrapError, match="cannot enter"):  # unwound: no call in flight any more
        guest.run(1)


def test_a_closed_store_is_never_touched(engine, component) -> None:
    guest = Guest(engine, component)
    call = guest.run.start(1)
    guest.store.close()
    guest.host.waits[-1].set_result(1)
    assert call.poll() is True
    with pytest.raises(ValueError, match="closed"):
        call.finish()


def test_synchronous_callers_cannot_be_handed_an_unfinished_wait(engine, component) -> None:
    guest = Guest(engine, component)
    with pytest.raises(TrapError) as info:
        guest.run(1)
    assert "synchronous caller" in str(info.value.__cause__)
    with pytest.raises(RuntimeError, match="completes on the event loop"):
        Guest(engine, component).run.start(1).wait()


def test_time_slices_yield_and_resume_where_the_guest_was(engine, component, ticker) -> None:
    guest = Guest(engine, component, epoch_ticks=None, slice_ticks=2)
    n = 200_000_000  # ~0.1-0.3 s of wasm: many 0.2-0.4 ms slices
    call = guest.spin.start(n)
    assert type(call) is GuestCall and call.waiting is None  # yielded, runnable
    polls = 1
    while not call.poll():
        polls += 1
    assert call.finish() == n and polls > 20
    assert guest.spin(n) == n  # a synchronous caller resumes the slices itself


def test_fuel_is_counted_the_same_with_and_without_slices(engine, component, ticker) -> None:
    used = []
    for limits in ({"epoch_ticks": 2**40}, {"epoch_ticks": None, "slice_ticks": 2}):
        guest = Guest(engine, component, fuel=10**10, **limits)
        assert drive(guest.spin.start(50_000_000)) == 50_000_000
        used.append(10**10 - guest.store.get_fuel())
    assert used[0] == used[1] > 50_000_000


def test_fuel_still_runs_out_across_slices(engine, component, ticker) -> None:
    guest = Guest(engine, component, fuel=5_000_000, epoch_ticks=None, slice_ticks=2)
    with pytest.raises(TrapError) as info:
        drive(guest.spin.start(4_000_000_000))
    assert info.value.kind is TrapKind.OUT_OF_FUEL


def test_the_wall_clock_deadline_ends_a_spinning_or_waiting_guest(engine, component, ticker) -> None:
    guest = Guest(engine, component, epoch_ticks=None, slice_ticks=2, timeout=0.05)
    started = time.monotonic()
    with pytest.raises(TrapError, match="computing") as info:
        drive(guest.forever.start())
    assert info.value.kind is TrapKind.TIMEOUT and time.monotonic() - started < 0.5
    guest = Guest(engine, component, epoch_ticks=None, slice_ticks=2, timeout=0.05)
    call = guest.run.start(1)
    wait = guest.host.waits[-1]
    time.sleep(0.06)
    assert call.poll() is True  # past the deadline: ended without resuming the guest
    with pytest.raises(TrapError, match="waiting for wait") as info:
        call.finish()
    assert info.value.kind is TrapKind.TIMEOUT and wait.what.endswith("cancelled")


def test_core_modules_instantiate_and_call_through_the_async_api(engine) -> None:
    module = wasmtime.Module(engine, """(module
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
      (func (export "spin") (loop $l (br $l))))""")
    store = wasmtime.Store(engine)
    fastcall.configure_store(store, fuel=10**9, slice_ticks=2, timeout=0.05)
    instance = fastcall.instantiate_module(wasmtime.Linker(engine), store, module)
    exports = instance.exports(store)
    add = fastcall.CoreFunc(store, exports["add"], "add")
    assert add(2, 3) == 5 and add.start(2, 3) == 5
    fastcall.EpochTicker(engine, 200).start()
    with pytest.raises(TrapError) as info:
        fastcall.CoreFunc(store, exports["spin"], "spin")()
    assert info.value.kind is TrapKind.TIMEOUT


@settings(max_examples=60, deadline=None)
@given(x=st.integers(min_value=0, max_value=2**31), result=st.integers(min_value=0, max_value=2**31))
def test_suspended_and_inline_completions_agree(x: int, result: int) -> None:
    """The same host answer, given at once or after a suspension, gives the same result."""
    guest = _SHARED.get("guest")
    if guest is None:
        cfg = wasmtime.Config()
        engine = wasmtime.Engine(cfg)
        guest = _SHARED["guest"] = Guest(engine, wc.Component(engine, wasmtime.wat2wasm(COMPONENT)),
                                         fuel=None, epoch_ticks=None)
    guest.host.mode = "wait"
    call = guest.run.start(x)
    guest.host.waits[-1].set_result(result)
    suspended = drive(call)
    guest.host.mode = "value"
    guest.host.answer = lambda _x: result
    inline = guest.run.start(x)
    assert suspended == inline == (result + 1) % 2**32


_SHARED: dict[str, Any] = {}


SLOW_ALLOC_ACTOR = """(module
  (memory (export "memory") 1)
  (func (export "alloc") (param $len i32) (result i32)
    (local $i i32)
    (block $done (loop $l                       ;; long enough to use up several slices
      (br_if $done (i32.ge_u (local.get $i) (i32.const 30000000)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.const 1024))
  (func (export "handle") (param i32 i32 i32 i32) (result i32)
    (i32.add (i32.load8_u (local.get 2)) (local.get 3))))"""


def test_the_core_lane_survives_an_alloc_that_yields(engine, ticker) -> None:
    """alloc itself uses up time slices: a synchronous caller still gets handle's result, a
    suspendable one a GuestCall whose chain copies the payload and calls handle later."""
    module = wasmtime.Module(engine, SLOW_ALLOC_ACTOR)
    store = wasmtime.Store(engine)
    fastcall.configure_store(store, fuel=10**12, slice_ticks=2)
    instance = fastcall.instantiate_module(wasmtime.Linker(engine), store, module)
    lane = fastcall.CoreLane(store, instance)
    assert lane.handle(b"sender", b"\x07abc") == 7 + 4
    call = lane.start_handle("sender", bytearray(b"\x09xy"))
    assert type(call) is GuestCall and call.where == "core-ABI 'alloc'"
    assert drive(call) == 9 + 3
    assert lane.write(b"data") == 1024 and drive(lane.start_write(b"data")) == 1024


def test_a_bounded_list_argument_over_the_store_limit_is_never_copied() -> None:
    """define_host_func(bounded=i): a list<u8> longer than the calling Store's max_list
    reaches the callable as Oversized (its size and the limit), not as bytes."""
    from . import wat_gen

    engine = wasmtime.Engine()
    funcs = [("put", [("key", "string"), ("data", ("list", "u8"))], "u32")]
    component = wc.Component(engine, wat_gen.passthrough(funcs, "test:host/bounded"))
    seen: list[Any] = []

    def put(key: str, data: Any) -> int:
        seen.append(data)
        return len(data) if isinstance(data, bytes) else 0

    linker = wc.Linker(engine)
    with linker.root() as root, root.add_instance("test:host/bounded") as li:
        fastcall.define_host_func(li, "put", put, bounded=1)
    store = wasmtime.Store(engine)
    fastcall.configure_store(store, max_list=16)
    instance = fastcall.instantiate_component(linker, store, component)
    call = fastcall.ComponentFunc.from_export(store, instance, "put")
    assert call("k", b"x" * 16) == 16
    assert call("k", b"x" * 17) == 0
    assert seen[0] == b"x" * 16
    assert type(seen[1]) is fastcall.Oversized and (seen[1].size, seen[1].limit) == (17, 16)
    fastcall.configure_store(store, max_list=None)  # no limit: lifted as usual
    assert call("k", b"y" * 1000) == 1000
