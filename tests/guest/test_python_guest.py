"""The example Python guest (examples/python_guest/tally.py, built once per session) through
the Host: messages, requests, send-message to a WAT component, an error result, a raised
exception whose text reaches the TrapError, and the restart after it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import DeadLetterReason

from .conftest import GUEST_DIR, WAT, BuiltGuest
from airssys_wasm.benchmarks import guests

MANIFEST = GUEST_DIR / "Component.toml"


def js(value: object) -> bytes:
    return mc.encode_value(mc.Codec.JSON, value)


async def eventually(check, what: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def host(tally: BuiltGuest) -> AsyncIterator[aw.Host]:
    config = aw.HostConfig(engine=aw.EngineConfig(cache_dir=tally.cache_dir), health=None)
    async with aw.Host(config) as h:
        await h.spawn("tally", tally.wasm, manifest=MANIFEST)
        yield h


def test_build_reports_world_progress_and_precompiles(tally: BuiltGuest) -> None:
    lines = tally.output.splitlines()
    # CI=true, not a terminal: plain progress lines, a start and an end for each long step.
    assert "componentize tally.py (world airssys-component)..." in lines
    assert any(line.startswith("componentize tally.py (world airssys-component): done in ") for line in lines)
    assert any(line.startswith("precompile tally.wasm (") and line.endswith("...") for line in lines)
    assert lines[-1].startswith(f"{tally.wasm}: ")
    assert lines[-1].endswith("world airssys-component + airssys:ext-storage/storage@1.0.0")
    assert list(tally.cache_dir.glob("component-*.cwasm"))


async def test_first_spawn_loads_the_precompiled_code(host: aw.Host) -> None:
    stats = host.engine.cache.stats  # type: ignore[union-attr]
    assert (stats.hits, stats.misses) == (1, 0)


async def test_messages_and_requests(host: aw.Host) -> None:
    await host.send("tally", js({"add": 2}))
    await host.send("tally", js({"add": 40}))
    assert mc.decode_value(await host.request("tally", js("total"))) == {"total": 42, "messages": 2}


async def test_send_message_reaches_a_wat_component(host: aw.Host) -> None:
    await host.spawn("echo", guests.path("echo"), manifest=WAT / "echo.toml")
    await host.send("tally", js({"forward": "echo", "value": {"from": "python"}}))
    await eventually(lambda: host.ref("tally").stats.messages_out >= 1, "tally's message")
    assert await host.request("echo", b"last") == js({"from": "python"})


async def test_guest_request_reaches_its_callback(host: aw.Host) -> None:
    await host.spawn("echo", guests.path("echo"), manifest=WAT / "echo.toml")
    await host.send("tally", js({"ask": "echo"}))  # echo's execute answers an unknown op with itself

    answers: list[object] = []

    async def answered() -> bool:
        answers.append(mc.decode_value(await host.request("tally", js("answer"))))
        return answers[-1] is not None

    deadline = asyncio.get_running_loop().time() + 20
    while not await answered():
        assert asyncio.get_running_loop().time() < deadline, "no callback"
        await asyncio.sleep(0.02)
    assert answers[-1] == {"ok": True, "value": "ping"}


async def test_sdk_defaults_answer_health_and_metadata(host: aw.Host) -> None:
    assert await host.health("tally") is aw.HealthStatus.HEALTHY
    await host.spawn("echo", guests.path("echo"), manifest=WAT / "echo.toml")
    # echo asks the host for tally's metadata (get-component-metadata) and answers its name.
    assert await host.request("echo", b"meta:tally") == b"python-component"


async def test_failure_is_an_error_result_not_a_trap(host: aw.Host) -> None:
    await host.send("tally", js({"refuse": "not today"}))
    await eventually(lambda: bool(host.dead_letters), "the refused message")
    [letter] = host.dead_letters
    assert isinstance(letter.error, aw.GuestError)
    assert (letter.error.case, letter.error.detail) == ("internal-error", "not today")


async def test_raised_exception_traps_with_its_text_and_restarts(host: aw.Host) -> None:
    await host.send("tally", js({"add": 7}))
    await host.send("tally", js({"boom": "kaboom"}))
    await eventually(lambda: bool(host.dead_letters), "the trapping message")
    [letter] = host.dead_letters
    assert letter.reason is DeadLetterReason.FAILED
    trap = letter.error
    assert isinstance(trap, aw.TrapError)
    assert "RuntimeError: tally exploded: kaboom" in trap.stderr
    assert any(line.startswith("Traceback") for line in trap.stderr)
    assert "tally exploded: kaboom" in str(trap)
    await eventually(lambda: host.ref("tally").stats.restarts >= 1, "the restart")
    # A fresh instance from the build's snapshot: the state before the trap is gone.
    assert mc.decode_value(await host.request("tally", js("total"))) == {"total": 0, "messages": 0}


async def test_ext_storage_through_the_sdk_wrappers(host: aw.Host) -> None:
    await host.send("tally", js({"add": 5}))
    await host.send("tally", js({"save": "t1"}))
    assert mc.decode_value(await host.request("tally", js({"load": "t1"}))) == {"stored": "5"}
    assert mc.decode_value(await host.request("tally", js({"load": "nope"}))) == {"stored": None}


async def test_a_refused_ext_call_is_a_typed_host_error_in_the_guest(host: aw.Host) -> None:
    await host.send("tally", js({"peek": "someone-else"}))
    await eventually(lambda: bool(host.dead_letters), "the refused message")
    [letter] = host.dead_letters
    assert isinstance(letter.error, aw.GuestError)
    assert letter.error.detail == "storage said permission-denied"


def test_example_driver_runs_against_the_built_guest(tally: BuiltGuest, tmp_path) -> None:
    env = {**os.environ, "TALLY_WASM": str(tally.wasm), "TALLY_CACHE": str(tally.cache_dir)}
    result = subprocess.run([sys.executable, str(GUEST_DIR / "run.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "total 42 after 2 messages" in result.stdout


def test_demo_runs_with_the_python_relay_stage(tally: BuiltGuest) -> None:
    from click.testing import CliRunner

    from airssys_wasm.cli import main

    result = CliRunner().invoke(main, ["demo", "--messages", "20", "--poison", "1", "--rate", "0",
                                       "--python-guest", str(tally.wasm), "--cache-dir",
                                       str(tally.cache_dir)], env={"CI": "true"})
    assert result.exit_code == 0, result.output
    assert "ingest -> relay (Python) -> transform -> sink" in result.output
    # 19 readings pass ingest -> relay -> transform -> sink, the pill stops at transform: 3*19 + 2.
    assert "59 (send-message host calls)" in result.output
