"""The restart path: raw component instances and export lookup in C, core instance-pre lanes,
Store limits in C, and the Store id learnt from the first instance -- each against the
wasmtime-py path it replaces."""

from __future__ import annotations

import pytest
import wasmtime
import wasmtime.component as wc

from airssys_wasm import AbiMismatchError, TrapError
from airssys_wasm._fast import _wasmtime, fastcall, handles

from .components import CORE_ACTOR

ADDER = """
(component
  (core module $m
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "boom") unreachable))
  (core instance $i (instantiate $m))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (func (export "boom") (canon lift (core func $i "boom")))
  (type $t (list u8))
  (export "t" (type $t)))
"""


@pytest.fixture(scope="module")
def adder(engine: wasmtime.Engine) -> tuple[wc.Component, wc.Linker, fastcall.ExportTable]:
    component = wc.Component(engine, ADDER)
    linker = wc.Linker(engine)
    indices = {name: component.get_export_index(name) for name in ("add", "boom", "t")}
    return component, linker, fastcall.ExportTable(component, indices, linker)


def test_raw_exports_call_like_wasmtime_py(engine: wasmtime.Engine, adder) -> None:
    component, linker, table = adder
    slow_store = wasmtime.Store(engine)
    slow = linker.instantiate(slow_store, component).get_func(slow_store, "add")
    assert slow is not None
    store = wasmtime.Store(engine)
    inst = fastcall.instantiate_exports(linker, store, table)
    first = inst.func("add")                       # no plan yet: typed through wasmtime-py
    raw = inst.func("add", first.plan)             # the restart path: handle straight from C
    for a, b in ((1, 2), (2**32 - 1, 1), (40, 2)):
        assert raw(a, b) == first(a, b) == slow(slow_store, a, b)
        slow_store_result = slow(slow_store, a, b)
        assert raw(a, b) == slow_store_result
    assert inst.store_id == handles.store_id(store)  # the id wasmtime-py's probe global reads
    assert "add" in table and len(table) == 3


def test_raw_exports_refuse_bad_lookups(engine: wasmtime.Engine, adder) -> None:
    component, linker, table = adder
    store = wasmtime.Store(engine)
    inst = fastcall.instantiate_exports(linker, store, table)
    plan = inst.func("add").plan
    with pytest.raises(LookupError, match="no export 'nope'.*add, boom, t"):
        inst.func("nope", plan)
    with pytest.raises(LookupError, match="'t' of the component instance is not a function"):
        inst.func("t", plan)
    with pytest.raises(TrapError):
        inst.func("boom", inst.func("boom").plan)()
    store.close()
    with pytest.raises(ValueError, match="closed"):
        inst.func("add", plan)


def test_store_id_learnt_from_the_instance_still_refuses_foreign_handles(
        engine: wasmtime.Engine, adder) -> None:
    component, linker, table = adder
    store_a, store_b = wasmtime.Store(engine), wasmtime.Store(engine)
    func_a = linker.instantiate(store_a, component).get_func(store_a, "add")
    fastcall.instantiate_exports(linker, store_b, table)  # store_b's id comes from here
    with pytest.raises(ValueError, match="different wasmtime.Store"):
        fastcall.ComponentFunc(store_b, func_a, "add")
    # A Store that met a handle before any C-API instance reads its id through the probe.
    store_c = wasmtime.Store(engine)
    with pytest.raises(ValueError, match="different wasmtime.Store"):
        fastcall.ComponentFunc(store_c, func_a, "add")
    assert fastcall.ComponentFunc(store_a, func_a, "add")(2, 3) == 5


def test_instance_pre_lane_matches_the_wasmtime_py_lane(engine: wasmtime.Engine) -> None:
    module = wasmtime.Module(engine, CORE_ACTOR)
    pre = fastcall.InstancePre(wasmtime.Linker(engine), module)
    ref_store = wasmtime.Store(engine)
    ref_instance = wasmtime.Instance(ref_store, module, [])
    reference = fastcall.CoreLane(ref_store, ref_instance)
    store = wasmtime.Store(engine)
    lane = pre.instantiate_lane(store)
    for sender, message in (("a", b""), ("sender", b"x" * 100), ("", bytes(range(256)) * 20)):
        assert lane.handle(sender, message) == reference.handle(sender, message)
    memory = ref_instance.exports(ref_store)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    assert lane.memory_size() == memory.data_len(ref_store)
    instance = lane.instance()
    assert instance is not None and "memory" in instance.exports(store)
    assert reference.instance() is None
    assert isinstance(pre.instantiate(wasmtime.Store(engine)), wasmtime.Instance)
    store.close()
    with pytest.raises(ValueError, match="closed"):
        lane.memory_size()


@pytest.mark.parametrize("wat, message", [
    ('(module (memory (export "memory") 1) (func (export "alloc") (param i32) (result i32) '
     'i32.const 0))', "missing: handle"),
    ('(module (func (export "memory")) (func (export "alloc") (param i32) (result i32) '
     'i32.const 0) (func (export "handle") (param i32 i32 i32 i32) (result i32) i32.const 0))',
     "'memory' of a core-ABI actor must be a memory"),
    ('(module (memory (export "memory") 1) (global (export "alloc") i32 (i32.const 0)) '
     '(func (export "handle") (param i32 i32 i32 i32) (result i32) i32.const 0))',
     r"'alloc' of a core-ABI actor must be a function \(i32\) -> i32"),
    ('(module (memory (export "memory") 1) (func (export "alloc") (param i64) (result i32) '
     'i32.const 0) (func (export "handle") (param i32 i32 i32 i32) (result i32) i32.const 0))',
     r"'alloc' of a core-ABI actor must be \(i32\) -> i32, found \(i64\) -> i32"),
])
def test_instance_pre_lane_refuses_modules_without_the_abi(engine: wasmtime.Engine, wat: str,
                                                           message: str) -> None:
    pre = fastcall.InstancePre(wasmtime.Linker(engine), wasmtime.Module(engine, wat))
    with pytest.raises(TypeError, match=message):
        pre.instantiate_lane(wasmtime.Store(engine))


def test_instance_pre_refuses_unsatisfied_imports(engine: wasmtime.Engine) -> None:
    module = wasmtime.Module(engine, '(module (import "env" "f" (func)))')
    with pytest.raises(wasmtime.WasmtimeError, match="unknown import"):
        fastcall.InstancePre(wasmtime.Linker(engine), module)


def test_store_limits_set_in_c_are_enforced(engine: wasmtime.Engine) -> None:
    module = wasmtime.Module(engine, '(module (memory 2))')
    pre = fastcall.InstancePre(wasmtime.Linker(engine), module)
    store = wasmtime.Store(engine)
    fastcall.configure_store(store, limits=(65536, None, -1, None, None))  # one page
    with pytest.raises(wasmtime.WasmtimeError, match="memory"):
        pre.instantiate(store)
    roomy = wasmtime.Store(engine)
    fastcall.configure_store(roomy, limits=(2 * 65536, None, None, None, None))
    assert isinstance(pre.instantiate(roomy), wasmtime.Instance)


@pytest.mark.parametrize("limits, message", [
    ((1, 2, 3), "got 3 values"),
    ((-2, None, None, None, None), "limit 0 must be an int >= -1"),
    ((None, True, None, None, None), "limit 1 must be an int"),
    ((None, None, "8", None, None), "limit 2 must be an int"),
])
def test_store_limits_refuse_bad_values(engine: wasmtime.Engine, limits, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fastcall.configure_store(wasmtime.Store(engine), limits=limits)


def test_abi_check_covers_the_restart_handles() -> None:
    layout = _wasmtime._layout()
    for key in ("wasmtime_global_t", "wasmtime_global_t.store_id", "wasmtime_extern_t",
                "wasmtime_extern_t.of", "wasmtime_extern_union_t",
                "wasmtime_component_instance_t.store_id", "wasmtime_instance_t.store_id",
                "wasmtime_component_func_t.store_id", "wasmtime_func_t.store_id",
                "wasmtime_memory_t.store_id"):
        assert key in layout, key
    with pytest.raises(AbiMismatchError, match=r"wasmtime_extern_t.of: compiled 16 vs wasmtime-py 8"):
        handles.check_abi(dict(layout, **{"wasmtime_extern_t.of": 16}), _wasmtime._kinds())
    with pytest.raises(AbiMismatchError, match="kind EXTERN_MEMORY: compiled 2 vs wasmtime-py 3"):
        handles.check_abi(layout, dict(_wasmtime._kinds(), EXTERN_MEMORY=2))


# -- Stores made in C (NativeStore) -----------------------------------------------------------

def test_native_store_runs_like_a_wasmtime_py_store(engine: wasmtime.Engine, adder) -> None:
    component, linker, table = adder
    store = fastcall.StoreMaker(engine).new()
    inst = fastcall.instantiate_exports(linker, store, table)
    first = inst.func("add")                       # typed through wasmtime-py: via the view
    raw = inst.func("add", first.plan)
    ref_store = wasmtime.Store(engine)
    slow = linker.instantiate(ref_store, component).get_func(ref_store, "add")
    assert slow is not None
    assert raw(40, 2) == first(40, 2) == slow(ref_store, 40, 2) == 42
    view = store.wasmtime_store()
    assert isinstance(view, wasmtime.Store) and store.wasmtime_store() is view
    # The view's handles and the NativeStore's are the same Store: same id, same calls.
    func = inst.instance().get_func(view, "add")
    assert func is not None and func(view, 1, 2) == 3
    assert fastcall.ComponentFunc(view, func, "add")(2, 2) == 4
    assert inst.store_id == handles.store_id(view)
    with pytest.raises(ValueError, match="different wasmtime.Store"):
        fastcall.ComponentFunc(store, slow, "add")
    assert not store.closed
    store.close()
    store.close()                                  # idempotent
    assert store.closed
    for call in (lambda: raw(1, 2), lambda: first(1, 2), lambda: inst.func("add", first.plan)):
        with pytest.raises(ValueError, match="closed"):
            call()
    with pytest.raises(ValueError, match="closed"):
        func(view, 1, 2)                           # the view was detached, not left dangling
    with pytest.raises(ValueError, match="closed"):
        store.wasmtime_store()
    with pytest.raises(ValueError, match="closed"):
        fastcall.instantiate_exports(linker, store, table)


def test_closing_the_view_leaves_the_native_store_open(engine: wasmtime.Engine, adder) -> None:
    _component, linker, table = adder
    store = fastcall.StoreMaker(engine).new()
    inst = fastcall.instantiate_exports(linker, store, table)
    add = inst.func("add")
    view = store.wasmtime_store()
    view.close()                                   # only forgets the pointers
    with pytest.raises(ValueError, match="closed"):
        view.set_fuel(1)
    assert add(1, 1) == 2 and not store.closed
    store.close()


def test_native_store_lanes_and_limits(engine: wasmtime.Engine) -> None:
    module = wasmtime.Module(engine, CORE_ACTOR)
    pre = fastcall.InstancePre(wasmtime.Linker(engine), module)
    maker = fastcall.StoreMaker(engine)
    store = maker.new()
    lane = pre.instantiate_lane(store)
    ref_store = wasmtime.Store(engine)
    reference = fastcall.CoreLane(ref_store, wasmtime.Instance(ref_store, module, []))
    assert lane.handle("s", b"abc") == reference.handle("s", b"abc")
    instance = lane.instance()
    assert instance is not None
    exports = instance.exports(store.wasmtime_store())
    assert fastcall.CoreLane(store, instance, exports).handle("s", b"x") == reference.handle("s", b"x")
    assert fastcall.release_resources(store) == []
    store.close()
    with pytest.raises(ValueError, match="closed"):
        lane.memory_size()
    small = maker.new()
    fastcall.configure_store(small, limits=(65536, None, None, None, None))
    with pytest.raises(wasmtime.WasmtimeError, match="memory"):
        fastcall.InstancePre(wasmtime.Linker(engine),
                             wasmtime.Module(engine, "(module (memory 2))")).instantiate(small)
    del small                                      # dropped unclosed: freed with the object


def test_store_maker_refuses_a_closed_engine() -> None:
    engine = wasmtime.Engine()
    maker = fastcall.StoreMaker(engine)
    maker.new().close()
    engine.close()
    with pytest.raises(ValueError, match="Engine is closed"):
        maker.new()
    with pytest.raises(TypeError, match="expected wasmtime.Engine"):
        fastcall.StoreMaker(object())
    with pytest.raises(TypeError, match="made by NativeStore.wasmtime_store"):
        handles.BorrowedStore()


def test_abi_check_covers_the_native_store(monkeypatch: pytest.MonkeyPatch) -> None:
    handles.check_store_internals()
    monkeypatch.delattr(wasmtime.Store, "_delete")
    with pytest.raises(AbiMismatchError, match=r"Store._delete missing"):
        handles.check_store_internals()
