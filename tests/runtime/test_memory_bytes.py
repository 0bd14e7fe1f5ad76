"""Instance.memory_bytes: what metrics report as a guest's memory, where the host can see it."""

from __future__ import annotations

import pytest

from airssys_wasm.errors import GuestError, TrapError
from airssys_wasm.runtime import Artifact, Limits
from airssys_wasm.types import ComponentId

MiB = 1 << 20
SENDER = ComponentId("tester")


def test_a_core_module_reports_its_memory_as_it_grows(core_actor: Artifact) -> None:
    inst = core_actor.instantiate(Limits(memory_bytes=2 * MiB))
    assert inst.memory_bytes() == 65536
    with pytest.raises(GuestError):
        inst.handle_message(SENDER, b"g")  # grows one page at a time until refused
    assert inst.memory_bytes() == 2 * MiB
    with pytest.raises(TrapError):
        inst.handle_message(SENDER, b"u")
    assert inst.memory_bytes() is None  # the trap discarded the Store


def test_a_closed_core_instance_and_a_component_report_none(core_actor: Artifact,
                                                            minimal: Artifact) -> None:
    inst = core_actor.instantiate(Limits())
    inst.close()
    assert inst.memory_bytes() is None
    component = minimal.instantiate(Limits())
    try:
        assert component.memory_bytes() is None  # its memories are internal to it
    finally:
        component.close()
