"""Random values of every supported WIT type round-trip through a real guest.

The host function ``source-i`` returns a hypothesis-drawn value; the guest lowers it into its
memory and hands the very bytes to ``sink-i``, whose argument is lifted back: it must equal the
value drawn, in the fast path's Python representation (see ``airssys_wasm._fast.fastcall``).
One component covers every type (each ``go`` runs all of them); sync and async sources
alternate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airssys_wasm as aw
from airssys_wasm import HostConfig
from airssys_wasm._fast.fastcall import Some
from airssys_wasm.runtime import Engine

from hostfn_guests import roundtrip_component

FLAGS = [f"p{i}" for i in range(32)]  # the most the component model allows (one u32)
DEFS = f"""    record rec {{ name: string, qty: u32, tags: list<string> }}
    variant shape {{ none, num(s64), text(string), nested(rec) }}
    enum color {{ red, green, blue }}
    flags perms {{ read, write, exec }}
    flags wide {{ {", ".join(FLAGS)} }}"""

_text = st.text(max_size=20)
_rec = st.fixed_dictionaries({"name": _text, "qty": st.integers(0, 2**32 - 1),
                              "tags": st.lists(_text, max_size=3)})

#: WIT type -> strategy of its Python value.
TYPES: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "s8": st.integers(-2**7, 2**7 - 1), "u8": st.integers(0, 2**8 - 1),
    "s16": st.integers(-2**15, 2**15 - 1), "u16": st.integers(0, 2**16 - 1),
    "s32": st.integers(-2**31, 2**31 - 1), "u32": st.integers(0, 2**32 - 1),
    "s64": st.integers(-2**63, 2**63 - 1), "u64": st.integers(0, 2**64 - 1),
    "f32": st.floats(width=32, allow_nan=False), "f64": st.floats(allow_nan=False),
    "char": st.characters(blacklist_categories=("Cs",)),
    "string": st.text(max_size=200),
    "list<u8>": st.binary(max_size=300),
    "list<string>": st.lists(_text, max_size=5),
    "list<s32>": st.lists(st.integers(-2**31, 2**31 - 1), max_size=20),
    "rec": _rec,
    "tuple<u8, string, bool>": st.tuples(st.integers(0, 255), _text, st.booleans()),
    "shape": st.one_of(st.just(("none", None)), st.tuples(st.just("num"), st.integers(-2**63, 2**63 - 1)),
                       st.tuples(st.just("text"), _text), st.tuples(st.just("nested"), _rec)),
    "color": st.sampled_from(["red", "green", "blue"]),
    "perms": st.frozensets(st.sampled_from(["read", "write", "exec"])),
    "wide": st.frozensets(st.sampled_from(FLAGS)),
    "option<u16>": st.one_of(st.none(), st.integers(0, 2**16 - 1)),
    "option<option<string>>": st.one_of(st.none(), st.just(Some(None)), _text.map(Some)),
    "result<u32, string>": st.one_of(st.tuples(st.just("ok"), st.integers(0, 2**32 - 1)),
                                     st.tuples(st.just("err"), _text)),
    "result<_, string>": st.one_of(st.just(("ok", None)), st.tuples(st.just("err"), _text)),
    "result": st.sampled_from([("ok", None), ("err", None)]),
    "list<option<rec>>": st.lists(st.one_of(st.none(), _rec), max_size=3),
}
NAMES = list(TYPES)


class Echo:
    def __init__(self) -> None:
        self.values: list[Any] = [None] * len(NAMES)
        self.got: dict[int, Any] = {}

    def impl(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i in range(len(NAMES)):
            if i % 2:
                async def source(i: int = i) -> Any:
                    await asyncio.sleep(0)
                    return (self.values[i], 3)
            else:
                def source(i: int = i) -> Any:  # type: ignore[misc]
                    return (self.values[i], 3)
            out[f"source-{i}"] = source
            out[f"sink-{i}"] = (lambda v, p, i=i: self.got.__setitem__(i, v))
        return out


@pytest.fixture(scope="module")
def running(engine: Engine) -> Iterator[tuple[asyncio.AbstractEventLoop, aw.Host, Echo]]:
    wit, wat = roundtrip_component(NAMES, DEFS)
    echo = Echo()
    loop = asyncio.new_event_loop()
    host = aw.Host(HostConfig(health=None), engine=engine)
    host.provide(wit, echo.impl())
    loop.run_until_complete(host.start())
    manifest = b'[component]\nname = "rt"\nversion = "1.0.0"\n[capabilities]\ninterfaces = ["test:echo/*"]\n'
    loop.run_until_complete(host.spawn("rt", wat, manifest=manifest))
    try:
        yield loop, host, echo
    finally:
        loop.run_until_complete(host.close())
        loop.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(values=st.tuples(*TYPES.values()))
def test_every_type_round_trips(running: tuple[asyncio.AbstractEventLoop, aw.Host, Echo],
                                values: tuple[Any, ...]) -> None:
    loop, host, echo = running
    echo.values[:] = values
    echo.got.clear()
    loop.run_until_complete(host.request("rt", b"go", timeout=10.0))
    for i, name in enumerate(NAMES):
        assert echo.got[i] == (values[i], 3), name
