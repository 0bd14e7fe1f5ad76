"""`airssys-wasm run SYSTEM.toml`: start a supervision tree from a file, stop, drain, report."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import (
    BROKEN_COMPONENT,
    EXAMPLES,
    broken_component_problem,
    empty_file_message,
    invoke,
)

PIPELINE = EXAMPLES / "system" / "pipeline.toml"


def test_run_example_pipeline_for_a_fixed_duration() -> None:
    result = invoke("run", PIPELINE, "--duration", "0.4")
    assert result.exit_code == 0, result.output
    out = result.output
    for name, supervisor in (("sink", "pipeline"), ("transform", "pipeline"),
                             ("ingest", "pipeline"), ("crasher", "the root supervisor")):
        assert f"started {name} (" in out and f") under {supervisor}" in out
    assert "sent 17 initial message(s)" in out
    assert "dead letter to crasher: raw b'oob' (trap: out_of_bounds)" in out
    assert "dead letter to transform: raw b'poison" in out and "(trap: unreachable)" in out
    assert "duration reached: draining mailboxes" in out
    assert re.search(r"│ sink\s+│ running\s+│\s+15 │\s+15 │", out), out  # 15 good readings
    assert "graceful shutdown: queued messages" in out


def test_run_writes_every_security_decision_to_the_audit_file(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    result = invoke("run", PIPELINE, "--duration", "0.4", "--audit", audit)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    sends = [line for line in lines if line["kind"] == "messaging.send"]
    # ingest forwards the 15 good readings and the poison pills to transform, each one checked
    assert sum(1 for s in sends if (s["component"], s["target"]) == ("ingest", "transform")) >= 15
    assert {s["decision"] for s in sends} == {"allow"}
    assert all({"time", "component", "kind", "target", "decision", "reason"} <= set(s) for s in lines)


def test_run_audit_file_that_cannot_be_opened_exits_1(tmp_path: Path) -> None:
    result = invoke("run", PIPELINE, "--duration", "0.1", "--audit", tmp_path / "missing" / "a.jsonl")
    assert result.exit_code == 1 and "cannot open the audit log" in result.output
    assert "Traceback" not in result.output


def test_run_drains_queued_messages_on_shutdown(tmp_path: Path) -> None:
    system = tmp_path / "burst.toml"
    system.write_text(
        '[host]\nhealth_interval = 0\n'
        '[[component]]\nname = "sink"\nsource = "builtin:counter"\ncapacity = 5000\n'
        '[[message]]\nto = "sink"\ntext = "x"\nrepeat = 3000\n')
    result = invoke("run", system, "--duration", "0.001")
    assert result.exit_code == 0, result.output
    before = re.search(r"│ sink\s+│ \w+\s+│\s+3000 │\s+(\d+) │", result.output)
    drained = re.search(r"│ sink\s+│\s+(\d+) │\s+0 │", result.output)
    assert before and drained, result.output
    # every message was handled: before the stop, or while draining; none dead-lettered
    assert int(before.group(1)) + int(drained.group(1)) == 3000


def test_run_stops_gracefully_on_sigterm() -> None:
    env = {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "airssys_wasm.cli", "run", str(PIPELINE)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            if "running; Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stop requested: draining mailboxes" in out and "graceful shutdown" in out
    assert "Traceback" not in err


def test_run_reports_every_problem_of_a_bad_system_file(tmp_path: Path) -> None:
    system = tmp_path / "bad.toml"
    system.write_text(
        '[host]\nhealth_interval = -1\nbogus = 1\n'
        '[supervisors.p]\nstrategy = "one_for_none"\nbackoff = { initial = -1 }\n'
        '[[component]]\nname = "a"\nsource = "nope.wat"\nsupervisor = "q"\nrestart = "sometimes"\n'
        'limits = { memory = "lots" }\nmanifest = "missing.toml"\n'
        '[[component]]\nsource = "builtin:nothing"\n'
        '[[component]]\nname = "a"\nsource = "builtin:counter"\n'
        '[[message]]\nto = "zz"\n')
    result = invoke("run", system, "--duration", "0.01")
    assert result.exit_code == 1
    expected = [
        "host.bogus: unknown key", "host.health_interval: must be a number >= 0",
        "supervisors.p.strategy: must be one of one_for_one", "supervisors.p.backoff: Backoff.initial",
        "component[0].source: file", "component[0].supervisor: no supervisor 'q'",
        "component[0].limits:", "component[0].restart: must be one of permanent",
        "component[0].manifest: file", "component[1].name: is required",
        "component[1].source: no bundled component 'nothing' (bundled: stage, counter, crasher, echo",
        "component[2].name: 'a' is used by another component",
        "message[0].to: no component named 'zz'", "message[0]: needs exactly one payload",
    ]
    for text in expected:
        assert text in result.output, text
    assert f"{len(expected)} problem(s)" in result.output


def test_run_reports_manifest_problems_of_its_components(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[component]\nname = "c"\nversion = "one"\n')
    system = tmp_path / "s.toml"
    system.write_text('[[component]]\nname = "c"\nsource = "builtin:counter"\nmanifest = "c.toml"\n')
    result = invoke("run", system, "--duration", "0.01")
    assert result.exit_code == 1 and "component[0].manifest (c.toml): component.version" in result.output


@pytest.mark.parametrize("content, message", [
    (None, "No such file or directory"),
    ("[[component]\n", "not valid TOML"),
    ("", "define at least one [[component]]"),
    ("component = 5\n", "define at least one [[component]]"),
    ("supervisors = [1]\n[[component]]\nname = 'a'\nsource = 'builtin:counter'\n",
     "supervisors: must be a table, got list"),
    ("[[component]]\n", "component[0].name: is required"),
    ("component = [1]\n", "component[0]: must be a table, got int"),
    ("host = 3\n[[component]]\nname = 'a'\nsource = 'builtin:counter'\n",
     "host: must be a table"),
    ("[[component]]\nname = 'a'\nsource = 'builtin:counter'\n[[message]]\nto = 'a'\n"
     "json = { t = 2020-01-01T00:00:00Z }\ncodec = 'msgpack'\n", "message[0].json: cannot be encoded"),
    ("[[component]]\nname = 'a'\nsource = 'builtin:counter'\nbackoff = { initial = 'x' }\n",
     "component[0].backoff:"),
])
def test_run_bad_files_exit_1(tmp_path: Path, content: str | None, message: str) -> None:
    system = tmp_path / "system.toml"
    if content is not None:
        system.write_text(content)
    result = invoke("run", system, "--duration", "0.01")  # bounded even if the check regressed
    assert result.exit_code == 1 and message in result.output


def test_run_usage_errors_exit_2() -> None:
    assert invoke("run").exit_code == 2
    result = invoke("run", PIPELINE, "--duration", "-1")
    assert result.exit_code == 2 and "Invalid value for '--duration'" in result.output


def test_run_lists_every_component_that_fails_to_load_before_starting_any(tmp_path: Path) -> None:
    (tmp_path / "broken.wat").write_text(BROKEN_COMPONENT)
    (tmp_path / "empty.wasm").write_bytes(b"")
    system = tmp_path / "s.toml"
    system.write_text('[[component]]\nname = "ok"\nsource = "builtin:counter"\n'
                      '[[component]]\nname = "broken"\nsource = "broken.wat"\n'
                      '[[component]]\nname = "empty"\nsource = "empty.wasm"\n'
                      '[[component]]\nname = "also-empty"\nsource = "empty.wasm"\n')
    result = invoke("run", system, "--duration", "0.01")
    assert result.exit_code == 1
    assert "started ok" not in result.output
    empty = empty_file_message(tmp_path / "empty.wasm")
    assert result.output == "\n".join([
        f"Error: {system}: 3 problem(s):",
        *broken_component_problem("component[1]", tmp_path / "broken.wat"),
        f"  - component[2].source: {empty}",
        f"  - component[3].source: {empty}",
        "nothing was started",
        ""])
