"""Host resources end to end: a real guest constructs, uses, passes and drops Python objects.

The guest (hostfn_guests.resource_core) runs one scenario per ``execute`` request, chosen by
the request's first byte, and answers with a u32. The implementation records every object it
created and every drop hook call, so each test can say exactly which objects were dropped.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airssys_wasm as aw
from airssys_wasm import HostConfig
from airssys_wasm.errors import ConfigError, LoadError, TrapError, TrapKind
from airssys_wasm.host.interfaces import BoundInterface
from airssys_wasm.runtime import ComponentId, Engine, HostServices

from hostfn_guests import (
    PROGRAM_OPS,
    RESOURCE_OPS,
    RESOURCE_WIT,
    build_component,
    resource_component,
)

IFACE = "test:res/counters@1.0.0"
MANIFEST = b'[component]\nname = "%s"\nversion = "1.0.0"\n[capabilities]\ninterfaces = ["test:res/*"]\n'


class Counters:
    """The implementation: resource ``counter`` is the class ``Counter``."""

    def __init__(self) -> None:
        self.created: list[Counters.Counter] = []
        self.dropped: list[Counters.Counter] = []
        self.gate: asyncio.Event | None = None
        outer = self

        class Counter:
            def __init__(self, start: int) -> None:
                self.value = start
                outer.created.append(self)

            def add(self, n: int) -> int:
                self.value += n
                return self.value

            async def slow_add(self, n: int) -> int:
                if outer.gate is not None:
                    await outer.gate.wait()
                await asyncio.sleep(0.001)
                return self.add(n)

            @staticmethod
            def merge(a: Counter, b: Counter) -> Counter:
                return Counter(a.value + b.value)

            def drop(self) -> None:
                outer.dropped.append(self)

        self.Counter = Counter

    def total(self, c: Any) -> int:
        assert isinstance(c, self.Counter)
        return int(c.value)

    def make(self, start: int) -> Any:
        return self.Counter(start)

    def make_many(self, n: int) -> list[Any]:
        return [self.Counter(i) for i in range(n)] + [None]


@pytest.fixture(scope="module")
def guest() -> str:
    return resource_component()


@pytest.fixture
async def host(engine: Engine) -> AsyncIterator[aw.Host]:
    async with aw.Host(HostConfig(health=None), engine=engine) as h:
        yield h


async def run(host: aw.Host, name: str, op: str) -> int:
    out = await host.request(name, bytes([RESOURCE_OPS[op]]))
    return int(struct.unpack("<I", out)[0])


async def run_once_restarted(host: aw.Host, name: str, op: str) -> int:
    """``run`` as soon as the supervisor has restarted the component after a trap."""
    for _ in range(200):
        try:
            return await run(host, name, op)
        except (TrapError, aw.ComponentNotFound):
            await asyncio.sleep(0.01)
    pytest.fail(f"{name} did not come back after its trap")


class AsyncMake(Counters):
    """``make`` suspends the guest: its own<counter> result is lowered when the guest resumes."""

    async def make(self, start: int) -> Any:  # type: ignore[override]
        await asyncio.sleep(0.001)
        return self.Counter(start)


@pytest.mark.parametrize("impl_class", [Counters, AsyncMake])
async def test_construct_methods_own_borrow_and_drop(host: aw.Host, guest: str,
                                                     impl_class: type[Counters]) -> None:
    impl = impl_class()
    host.provide(RESOURCE_WIT, impl)
    await host.spawn("res", guest, manifest=MANIFEST % b"res")
    assert await run(host, "res", "basic") == 17  # (5 + 2) + 10, through borrow/own/static
    h, m, merged = impl.created
    assert (h.value, m.value, merged.value) == (7, 10, 17)
    # the guest dropped h and the merged counter: each hook ran exactly once; m was moved to
    # the host by `own` (merge took it), so the guest never dropped it
    assert impl.dropped == [h, merged]
    assert await run(host, "res", "basic") == 17  # a second run: new objects, same result
    assert len(impl.created) == 6 and impl.dropped[2:] == impl.created[3::2]


async def test_own_handles_inside_a_list_of_options(host: aw.Host, guest: str) -> None:
    impl = Counters()
    host.provide(RESOURCE_WIT, impl)
    await host.spawn("res", guest, manifest=MANIFEST % b"res")
    assert await run(host, "res", "many") == 4  # three counters and a none
    assert impl.dropped == impl.created and [c.value for c in impl.created] == [0, 1, 2]


@pytest.mark.parametrize("op", ["forged", "after-drop"])
async def test_bad_handle_traps_host_error_and_host_continues(host: aw.Host, guest: str,
                                                              op: str) -> None:
    impl = Counters()
    host.provide(RESOURCE_WIT, impl)
    await host.spawn("res", guest, manifest=MANIFEST % b"res")
    with pytest.raises(TrapError) as info:
        await run(host, "res", op)
    assert info.value.kind is TrapKind.HOST_ERROR
    assert "handle" in str(info.value)
    if op == "after-drop":
        assert len(impl.dropped) == 1  # the drop itself ran, once
    assert await run_once_restarted(host, "res", "basic") == 17  # the host keeps serving


async def test_store_release_drops_what_the_guest_kept(host: aw.Host, guest: str) -> None:
    impl = Counters()
    host.provide(RESOURCE_WIT, impl)
    await host.spawn("res", guest, manifest=MANIFEST % b"res")
    assert await run(host, "res", "leak") == 3
    assert await run(host, "res", "leak") == 3
    assert impl.dropped == []  # the guest still holds both
    with pytest.raises(TrapError):
        await run(host, "res", "forged")  # the trap discards the Store: the table goes with it
    assert impl.dropped == impl.created  # each released exactly once
    assert await run_once_restarted(host, "res", "leak") == 3
    await host.stop("res")
    assert impl.dropped == impl.created and len(impl.created) == 3


async def test_async_method_suspends_only_its_guest(host: aw.Host, guest: str) -> None:
    impl = Counters()
    impl.gate = asyncio.Event()
    host.provide(RESOURCE_WIT, impl)
    await host.spawn("slow", guest, manifest=MANIFEST % b"slow")
    await host.spawn("fast", guest, manifest=MANIFEST % b"fast")
    waiting = asyncio.ensure_future(run(host, "slow", "async"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert await run(host, "fast", "basic") == 17  # the other guest runs meanwhile
    impl.gate.set()
    assert await asyncio.wait_for(waiting, 10) == 6
    assert impl.created[0].value == 6 and impl.created[0] in impl.dropped


async def test_drop_hook_that_raises(host: aw.Host, guest: str,
                                     caplog: pytest.LogCaptureFixture) -> None:
    impl = Counters()

    def broken_drop(self: Any) -> None:
        impl.dropped.append(self)
        raise OSError("cannot flush")

    impl.Counter.drop = broken_drop  # type: ignore[method-assign]
    host.provide(RESOURCE_WIT, impl)
    await host.spawn("res", guest, manifest=MANIFEST % b"res")
    with pytest.raises(TrapError) as info:  # during the guest's drop: that guest traps
        await run(host, "res", "basic")
    assert info.value.kind is TrapKind.HOST_ERROR and isinstance(info.value.__cause__, OSError)
    assert await run_once_restarted(host, "res", "leak") == 3
    with caplog.at_level(logging.ERROR, logger="airssys_wasm.host_functions"):
        await host.stop("res")  # at release: logged, the host carries on
    assert impl.dropped[-1] is impl.created[-1]
    assert any("drop hook raised OSError" in r.getMessage() for r in caplog.records)


def test_registration_checks_the_resource_class() -> None:
    funcs = {"total": lambda c: 0, "make": lambda s: None, "make-many": lambda n: []}
    with pytest.raises(ConfigError, match="lacks the class Counter for resource 'counter'"):
        aw.HostInterface(RESOURCE_WIT, funcs)

    class NoAdd:
        def __init__(self, start: int) -> None: ...

        def slow_add(self, n: int) -> int: return n

        @staticmethod
        def merge(a: Any, b: Any) -> Any: return a

    with pytest.raises(ConfigError, match=r"NoAdd\.add"):
        aw.HostInterface(RESOURCE_WIT, {"counter": NoAdd, **funcs})

    class AsyncDrop(Counters().Counter):  # type: ignore[misc,name-defined]
        async def drop(self) -> None: ...

    with pytest.raises(ConfigError, match="drop must be a plain method"):
        aw.HostInterface(RESOURCE_WIT, {"Counter": AsyncDrop, **funcs})
    impl = Counters()
    provided = aw.HostInterface(RESOURCE_WIT, impl)
    assert provided.resources == {"counter": impl.Counter}
    assert set(provided.functions) == {"[constructor]counter", "[method]counter.add",
                                       "[method]counter.slow-add", "[static]counter.merge",
                                       "total", "make", "make-many"}


async def test_wrong_object_for_own_result_is_host_error(host: aw.Host, guest: str) -> None:
    impl = Counters()
    impl.make = lambda start: "not a counter"  # type: ignore[method-assign,assignment]
    host.provide(RESOURCE_WIT, impl)
    await host.spawn("res", guest, manifest=MANIFEST % b"res")
    with pytest.raises(TrapError) as info:
        await run(host, "res", "basic")
    assert info.value.kind is TrapKind.HOST_ERROR
    assert "expected a Counter for own<counter>, got str" in str(info.value.__cause__)


def _importer(module: str, func: str) -> str:
    """A core module importing ``func: (i32) -> i32`` from ``module``, never calling it: only
    its import types matter (the spawn checks them)."""
    return f"""(module
  (import "{module}" "{func}" (func (param i32) (result i32)))
  (memory (export "cm32p2_memory") 1)
  (func (export "cm32p2_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "cm32p2_initialize"))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|handle-message")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "cm32p2|airssys:core/component-lifecycle@1|execute")
    (param i32 i32 i32 i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.const 0)))"""


async def test_guest_with_another_resource_is_refused_at_spawn(host: aw.Host) -> None:
    # the guest's `total` takes a handle of `other`; the host's WIT says `counter`
    guest_wit = RESOURCE_WIT.replace("total: func(c: borrow<counter>)", "total: func(c: borrow<other>)") \
        .replace("interface counters {", "interface counters {\n    resource other;")
    wat = build_component(guest_wit, IFACE, _importer("cm32p2|test:res/counters@1", "total"))
    host.provide(RESOURCE_WIT, Counters())
    with pytest.raises(LoadError, match="imports resource 'other'"):
        await host.spawn("other", wat, manifest=MANIFEST % b"other")


async def test_handle_of_another_declared_resource_is_refused_at_spawn(host: aw.Host) -> None:
    wit = """package test:two@1.0.0;

interface pair {
    resource left { constructor(); }
    resource right { constructor(); }
    take: func(x: borrow<left>) -> u32;
}
"""
    # the guest was built against a WIT whose `take` borrows a `right`
    wat = build_component(wit.replace("borrow<left>", "borrow<right>"), "test:two/pair@1.0.0",
                          _importer("cm32p2|test:two/pair@1", "take"))

    class Left:
        pass

    host.provide(wit, {"Left": Left, "Right": Left, "take": lambda x: 0})
    with pytest.raises(LoadError, match=r"parameter 'x': declared a handle of resource 'left', "
                                        r"the guest's is of 'right'"):
        await host.spawn("pair", wat, manifest=MANIFEST.replace(b"test:res", b"test:two") % b"pair")


def linked(engine: Engine, guest: str, name: str) -> tuple[Any, Counters]:
    """(artifact, implementation): the guest loaded with the interface linked as Host.provide
    links it, for runtime-level instances (synchronous calls, no actor)."""
    artifact = engine.load(guest, name=name)
    impl = Counters()
    provided = aw.HostInterface(RESOURCE_WIT, impl)
    functions, gates = BoundInterface(provided).functions(artifact.imported_function_types(IFACE))
    artifact.define_imports(IFACE, functions, with_data=False,  # type: ignore[attr-defined]
                            gates=gates, resources=provided.resource_hooks())
    return artifact, impl


def test_resource_calls_do_not_leak(engine: Engine, guest: str) -> None:
    """Thousands of constructs, method calls, own moves, drops and Store releases: RSS flat
    (handles, table entries and the objects themselves are all freed)."""
    artifact, impl = linked(engine, guest, "leaks")

    def rss() -> int:
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    samples = []
    for _ in range(6):
        inst = artifact.instantiate(services=HostServices(ComponentId("leaks")))
        for _ in range(1000):
            assert inst.execute(bytes([RESOURCE_OPS["basic"]])) == struct.pack("<I", 17)
            assert inst.execute(bytes([RESOURCE_OPS["many"]])) == struct.pack("<I", 4)
            inst.execute(bytes([RESOURCE_OPS["leak"]]))  # released with the Store below
        inst.close()
        # basic: 3 made, 2 dropped (one moved to the host); many: 3 and 3; leak: 1, at close
        assert (len(impl.created), len(impl.dropped)) == (7 * 1000, 6 * 1000)
        impl.created.clear()
        impl.dropped.clear()
        samples.append(rss())
    assert samples[-1] - samples[2] < 1 << 20, f"RSS grew after warm-up: {samples}"


@st.composite
def _programs(draw: st.DrawFn) -> tuple[bytes, list[int], list[int], list[int]]:
    """(program, the u32s it replies, the final value of each counter it makes, in order, the
    indices of those it drops, in order), from a model of the guest's slots: only live slots
    are used."""
    program, replies, drops = bytearray(), [], []
    values: list[int] = []
    live: list[int] = []
    for _ in range(draw(st.integers(0, 30))):
        choices = ["new", "make"] if len(values) < 60 else []
        if live:
            choices += ["add", "total", "drop"]
        if not choices:
            break
        op = draw(st.sampled_from(choices))
        if op in ("new", "make"):
            arg = draw(st.integers(0, 255))
            live.append(len(values))
            values.append(arg)
        else:
            arg = draw(st.sampled_from(live))
            if op == "add":
                values[arg] += 1
                replies.append(values[arg])
            elif op == "total":
                replies.append(values[arg])
            else:
                live.remove(arg)
                drops.append(arg)
        program += bytes([PROGRAM_OPS[op], arg])
    return bytes(program), replies, values, drops


@pytest.fixture(scope="module")
def scripted(engine: Engine, guest: str) -> tuple[Any, Counters]:
    return linked(engine, guest, "scripted")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_programs())
def test_random_programs_match_a_model(scripted: tuple[Any, Counters],
                                       case: tuple[bytes, list[int], list[int], list[int]]) -> None:
    """Random sequences of construct / method / borrow / drop against a Python model: the
    replies, which objects were dropped (each once, in order) and the release of the rest."""
    artifact, impl = scripted
    program, replies, values, drops = case
    impl.created.clear()
    impl.dropped.clear()
    inst = artifact.instantiate(services=HostServices(ComponentId("scripted")))
    try:
        out = inst.execute(bytes([RESOURCE_OPS["program"]]) + program)
        assert list(struct.unpack(f"<{len(out) // 4}I", out)) == replies
        assert [c.value for c in impl.created] == values
        assert impl.dropped == [impl.created[i] for i in drops]
    finally:
        inst.close()
    kept = [c for i, c in enumerate(impl.created) if i not in drops]
    assert impl.dropped[len(drops):] == kept  # released with the Store, each once
