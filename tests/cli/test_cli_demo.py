"""`airssys-wasm demo`: the bundled supervised pipeline, plain and live output, bad options."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console

from airssys_wasm.cli import demo as demo_module
from cli_helpers import invoke


def test_demo_delivers_every_good_message_and_restarts_the_poisoned_stage() -> None:
    result = invoke("demo", "--messages", "20", "--poison", "2", "--rate", "0", "--seed", "3")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("dead letter to transform: raw b'poison pill") == 2
    assert "(trap: unreachable)" in out
    assert "restart transform (attempt 1)" in out and "restart transform (attempt 2)" in out
    assert re.search(r"delivered to sink\s+│ 18 \(expected 18\)", out), out
    assert re.search(r"dead letters\s+│ 2 x transform \(trap: unreachable\)", out), out
    assert re.search(r"restarts\s+│ transform: 2", out), out
    # the final actor table: every stage is running again and the sink handled all 18
    assert re.search(r"│ sink\s+│ running\s+│\s+18 │\s+18 │", out), out
    assert re.search(r"│ transform\s+│ running\s+│\s+20 │\s+18 │\s+0 │\s+2 │\s+2 │\s+2 │ healthy", out), out


def test_demo_seed_picks_the_poison_positions() -> None:
    first = demo_module._frames(30, 3, seed=1)[0]
    again = demo_module._frames(30, 3, seed=1)[0]
    other = demo_module._frames(30, 3, seed=2)[0]
    poison = [i for i, f in enumerate(first) if b"poison" in f]
    assert first == again and len(poison) == 3 and 0 not in poison and 29 not in poison
    assert poison != [i for i, f in enumerate(other) if b"poison" in f]


def test_demo_live_view_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    result = demo_module.run_demo(console, messages=12, poison=1, seed=5, rate=200)
    assert result.ok and result.delivered == 11 and result.restarts["transform"] == 1
    assert result.dead_letters == [("transform", "trap: unreachable")]
    screen = buffer.getvalue()
    assert "\x1b[" in screen  # redrawn in place with terminal control codes
    assert "demo —" in screen and "summary" in screen


@pytest.mark.parametrize("args, message", [
    (["--messages", "1"], "Invalid value for '--messages'"),
    (["--rate", "-1"], "Invalid value for '--rate'"),
    (["--poison", "x"], "Invalid value for '--poison'"),
    (["--bogus"], "No such option"),
])
def test_demo_rejects_bad_options_with_usage_error(args: list[str], message: str) -> None:
    result = invoke("demo", *args)
    assert result.exit_code == 2 and message in result.output


def test_demo_through_the_installed_entry_point_without_a_tty() -> None:
    env = {**os.environ, "CI": "true"}
    proc = subprocess.run([sys.executable, "-m", "airssys_wasm.cli", "demo", "-n", "10",
                           "--rate", "0", "--poison", "1"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "sent 10/10" in proc.stdout and "result" in proc.stdout and "ok" in proc.stdout
    assert "\x1b[" not in proc.stdout  # plain text when piped
    assert "Traceback" not in proc.stderr
