"""Fixtures of the host-function tests: one Engine, guests built once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airssys_wasm.runtime import Engine, EngineConfig

from hostfn_guests import roundtrip_component


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine(EngineConfig(epoch_interruption=True)) as eng:
        yield eng


@pytest.fixture(scope="session")
def pair() -> tuple[str, str]:
    """(WIT, component) of a guest that passes a u32 and a string through the host."""
    return roundtrip_component(["u32", "string"])


@pytest.fixture(scope="session")
def problems() -> tuple[str, str]:
    """A guest whose host function returns ``result<u32, problem>`` itself."""
    return roundtrip_component(
        ["result<u32, problem>"],
        "    variant problem { insufficient(u64), unknown(string) }", wrap=False)
