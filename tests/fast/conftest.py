"""Shared builders for the fast-path tests: real wasmtime components from generated WAT."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import wasmtime
import wasmtime.component as wc

from airssys_wasm._fast import fastcall

from . import wat_gen


@pytest.fixture(scope="session")
def engine() -> wasmtime.Engine:
    return wasmtime.Engine()


class Built:
    """A component instantiated with host functions, plus handles for both call paths."""

    def __init__(self, engine: wasmtime.Engine, component: wc.Component, linker: wc.Linker) -> None:
        self.engine = engine
        self.component = component
        self.store = wasmtime.Store(engine)
        self.instance = linker.instantiate(self.store, component)

    def fast(self, name: str) -> fastcall.ComponentFunc:
        return fastcall.ComponentFunc.from_export(self.store, self.instance, name)

    def slow(self, name: str) -> wc.Func:
        func = self.instance.get_func(self.store, name)
        assert func is not None
        return func


def build(
    engine: wasmtime.Engine,
    wat: str,
    host: dict[str, Callable[..., Any]],
    *,
    fast_host: bool,
    instance: str = "host",
) -> Built:
    """Compile ``wat`` and link ``host`` callables either as C trampolines or via wasmtime-py."""
    component = wc.Component(engine, wat)
    linker = wc.Linker(engine)
    if fast_host:
        fastcall.define_host_funcs(linker, component, engine, instance, host)
    else:
        with linker.root() as root:
            with root.add_instance(instance) as li:
                for name, fn in host.items():
                    li.add_func(name, lambda _store, *args, _fn=fn: _fn(*args))
    return Built(engine, component, linker)


def echo_pair(engine: wasmtime.Engine, ty: Any) -> tuple[Built, Built, list[Any]]:
    """Two instances of an echo component: host echo by wasmtime-py, and by our trampoline.

    The trampoline instance records what its host function received (in our value mapping).
    """
    wat = wat_gen.echo(ty)
    reference = build(engine, wat, {"echo": lambda x: x}, fast_host=False)
    seen: list[Any] = []

    def record(x: Any) -> Any:
        seen.append(x)
        return x

    fast = build(engine, wat, {"echo": record}, fast_host=True)
    return reference, fast, seen
