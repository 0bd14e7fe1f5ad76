"""The error hierarchy: one base class, builtin-compatible subclasses, trap kinds."""

from __future__ import annotations

import inspect

import pytest

import airssys_wasm as aw
from airssys_wasm import errors


def test_every_public_error_derives_from_airssys_error() -> None:
    classes = [obj for _, obj in inspect.getmembers(errors, inspect.isclass)
               if issubclass(obj, Exception) and obj.__module__ == errors.__name__]
    assert len(classes) >= 14
    assert all(issubclass(cls, aw.AirssysError) for cls in classes)
    assert set(errors.__all__) >= {cls.__name__ for cls in classes}


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [(aw.CodecError, ValueError), (aw.ManifestError, ValueError), (aw.ComponentNotFound, LookupError),
     (aw.RequestTimeout, TimeoutError), (aw.PermissionDenied, PermissionError)],
)
def test_errors_are_catchable_as_their_builtin(cls: type, builtin: type) -> None:
    with pytest.raises(builtin):
        raise cls("boom")


def test_trap_error_carries_kind_component_and_backtrace() -> None:
    err = aw.TrapError("wasm trap: unreachable", "unreachable", component="echo", backtrace="0: f")
    assert err.kind is aw.TrapKind.UNREACHABLE and err.component == "echo" and err.backtrace == "0: f"
    assert {k.value for k in aw.TrapKind} == {
        "unreachable", "out_of_bounds", "stack_overflow", "out_of_fuel", "timeout", "memory_limit",
        "host_error", "other"}
    with pytest.raises(ValueError):
        aw.TrapError("x", "not-a-kind")
