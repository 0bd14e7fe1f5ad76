"""Type stub for the Cython fast call path (airssys_wasm/_fast/_wasmtime.pyx); see fastcall.py."""

from collections.abc import Callable
from typing import Any

import wasmtime
import wasmtime.component as wc

from airssys_wasm.errors import TrapKind

class Some:
    value: Any
    def __init__(self, value: Any) -> None: ...

class FuncPlan:
    name: str
    @staticmethod
    def from_functype(name: str, functype: wc.FuncType) -> FuncPlan: ...
    @property
    def signature(self) -> str: ...

class ComponentFunc:
    plan: FuncPlan
    def __init__(self, store: wasmtime.Store, func: wc.Func, name: str = ...) -> None: ...
    @staticmethod
    def from_export(store: wasmtime.Store, instance: wc.Instance, name: str) -> ComponentFunc: ...
    def __call__(self, *args: Any) -> Any: ...

class HostFunc:
    name: str
    plan: FuncPlan | None
    callback: Callable[..., Any]

class CoreFunc:
    name: str
    def __init__(self, store: wasmtime.Store, func: wasmtime.Func, name: str = ...) -> None: ...
    def __call__(self, *args: int | float) -> Any: ...

class CoreLane:
    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance) -> None: ...
    def handle(self, sender: str | bytes | bytearray | memoryview, message: bytes | bytearray | memoryview) -> int: ...

def define_host_func(linker_instance: wc.LinkerInstance, name: str, callback: Callable[..., Any],
                     functype: wc.FuncType | None = None) -> HostFunc: ...
def trap_kind_from_message(text: str) -> TrapKind: ...
def _layout() -> dict[str, int]: ...
def _kinds() -> dict[str, int]: ...
