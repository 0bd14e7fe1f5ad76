"""Long loops over every ownership path keep RSS flat (args freed, results freed, host results
handed to wasmtime, error paths cleaned up)."""

from __future__ import annotations

import gc
import os

import wasmtime
import wasmtime.component as wc

from airssys_wasm import PermissionDenied, TrapError
from airssys_wasm._fast import fastcall

from . import wat_gen
from .components import CORE_ACTOR, HANDLE_MESSAGE, HOST_SERVICES, HOST_SERVICES_INSTANCE
from .conftest import Built, build

PAGE = os.sysconf("SC_PAGE_SIZE")
SENDER = {"namespace": "acme", "name": "producer", "version": "1.0.0"}


def _rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _grows(step: "callable[[], None]", rounds: int = 6, per_round: int = 3000) -> list[int]:
    """RSS after each round; the first two rounds are warm-up (allocator pools, caches)."""
    samples = []
    for _ in range(rounds):
        for _ in range(per_round):
            step()
        samples.append(_rss())
    return samples


def _assert_flat(samples: list[int]) -> None:
    # After warm-up, the last three rounds may not add more than 1 MiB in total: any leak of
    # ~120 bytes or more per call (one small string plus its value slot) exceeds that.
    growth = samples[-1] - samples[2]
    assert growth < 1 << 20, f"RSS grew by {growth} bytes after warm-up: {samples}"


def test_component_calls_and_host_results_do_not_leak(engine: wasmtime.Engine) -> None:
    sink = build(engine, wat_gen.passthrough(HANDLE_MESSAGE),
                 {"handle-message": lambda sender, msg: ("err", ("internal-error", "x" * 100))},
                 fast_host=True)
    handle = sink.fast("handle-message")
    payload = bytes(range(200))

    def step() -> None:
        assert handle(SENDER, payload) == ("err", ("internal-error", "x" * 100))

    _assert_flat(_grows(step))


def test_argument_errors_and_host_exceptions_do_not_leak(engine: wasmtime.Engine) -> None:
    def deny(target: dict[str, str], message: bytes) -> tuple[str, None]:
        raise PermissionDenied("no")

    component = wc.Component(engine, wat_gen.passthrough(HOST_SERVICES, HOST_SERVICES_INSTANCE))
    linker = wc.Linker(engine)
    fastcall.define_host_funcs(linker, component, engine, HOST_SERVICES_INSTANCE,
                               {"send-message": deny, "log": lambda *a: None,
                                "send-request": lambda *a: ("ok", "r"), "current-time-millis": lambda: 1})
    half_built = dict(SENDER, version=5)  # fails on the last field, after two strings were built

    def step() -> None:
        built = Built(engine, component, linker)
        send = built.fast("send-message")
        try:
            send(half_built, b"x" * 64)
        except TypeError:
            pass
        try:
            send(SENDER, b"x" * 64)
        except TrapError:
            pass

    _assert_flat(_grows(step, per_round=300))


def test_core_lane_does_not_leak(engine: wasmtime.Engine) -> None:
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, CORE_ACTOR), [])
    lane = fastcall.CoreLane(store, instance)
    message = b"m" * 4096

    def step() -> None:
        lane.handle("sender", message)

    _assert_flat(_grows(step))
