"""The import-time ABI check: it passes for the pinned wasmtime and refuses any mismatch."""

from __future__ import annotations

import pytest

from airssys_wasm import AbiMismatchError
from airssys_wasm._fast import _wasmtime, handles


def test_compiled_layout_matches_wasmtime_bindings() -> None:
    handles.check_abi(_wasmtime._layout(), _wasmtime._kinds())  # what the import already did
    assert _wasmtime._layout()["wasmtime_component_val_t"] == 32
    assert _wasmtime._layout()["wasmtime_component_func_t"] == 32


def test_wrong_struct_size_is_refused_with_the_field_named() -> None:
    layout = dict(_wasmtime._layout(), wasmtime_component_val_t=24)
    with pytest.raises(AbiMismatchError, match=r"wasmtime_component_val_t: compiled 24 vs wasmtime-py 32"):
        handles.check_abi(layout, _wasmtime._kinds())


def test_wrong_value_kind_is_refused() -> None:
    kinds = dict(_wasmtime._kinds(), FLAGS=21)
    with pytest.raises(AbiMismatchError, match="kind FLAGS: compiled 21 vs wasmtime-py 20"):
        handles.check_abi(_wasmtime._layout(), kinds)


def test_other_wasmtime_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handles, "REQUIRED_WASMTIME", "49.0.0")
    with pytest.raises(AbiMismatchError, match=r"built for wasmtime==49.0.0, but wasmtime 50.0.1 is installed"):
        handles.check_abi(_wasmtime._layout(), _wasmtime._kinds())


def test_missing_c_function_is_refused() -> None:
    with pytest.raises(AbiMismatchError, match="lacks wasmtime_no_such_function"):
        handles.function_addresses(["wasm_byte_vec_new", "wasmtime_no_such_function"])
    assert set(handles.function_addresses(["wasm_byte_vec_new"])) == {"wasm_byte_vec_new"}
