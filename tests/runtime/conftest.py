"""Shared fixtures: one engine per configuration for the whole session (compiling is the slow
part, and sharing an Engine is exactly how a host uses the runtime)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airssys_wasm import demo
from airssys_wasm.benchmarks import guests
from airssys_wasm.runtime import Artifact, Engine, EngineConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "wat"


def example(name: str) -> Path:
    """An example component: the package's copy of what it ships, else examples/wat."""
    stem = name.removesuffix(".wat")
    if stem in demo.NAMES:
        return demo.path(stem)
    return guests.path(stem) if stem in guests.NAMES else EXAMPLES / name


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """Epochs on, fuel on: both preemption mechanisms available."""
    with Engine(EngineConfig(consume_fuel=True, epoch_interruption=True)) as eng:
        yield eng


@pytest.fixture(scope="session")
def echo(engine: Engine) -> Artifact:
    return engine.load(example("echo.wat"))


@pytest.fixture(scope="session")
def chaos(engine: Engine) -> Artifact:
    return engine.load(example("chaos.wat"))


@pytest.fixture(scope="session")
def core_actor(engine: Engine) -> Artifact:
    return engine.load(example("core_actor.wat"))


@pytest.fixture(scope="session")
def minimal(engine: Engine) -> Artifact:
    return engine.load(example("minimal.wat"))
