"""`airssys-wasm run --metrics HOST:PORT`: a real run scraped over loopback while it works."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from cli_helpers import EXAMPLES, invoke, run_example

PIPELINE = EXAMPLES / "system" / "pipeline.toml"
URL = re.compile(r"metrics: (http://127\.0\.0\.1:\d+/metrics)")


def _lines(proc: subprocess.Popen[str], out: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        out.put(line)


def _values(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _get(values: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
         **labels: str) -> float | None:
    wanted = set(labels.items())
    found = [v for (n, ls), v in values.items() if n == name and wanted <= ls]
    return found[0] if len(found) == 1 else None


def test_run_serves_metrics_while_the_pipeline_runs() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "airssys_wasm.cli", "run", str(PIPELINE), "--metrics",
         "127.0.0.1:0", "--duration", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc, lines), daemon=True).start()
    output: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "".join(output)
                continue
            found = URL.search(output[-1])
            url = found.group(1) if found else None
        assert url is not None, "".join(output)

        expected = {  # what pipeline.toml's messages do once everything settled
            ("airssys_messages_out_total", "sink"): 15,
            ("airssys_messages_in_total", "transform"): 16,
            ("airssys_restarts_total", "transform"): 1,
            ("airssys_restarts_total", "crasher"): 1,
            ("airssys_spawns_total", ""): 4,
        }
        while True:
            values = _values(url)
            seen = {key: _get(values, key[0], **({"component": key[1]} if key[1] else {}))
                    for key in expected}
            if seen == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert seen == expected, (seen, "".join(output))
        assert _get(values, "airssys_traps_total", component="transform", kind="unreachable") == 1
        assert _get(values, "airssys_traps_total", component="crasher", kind="out_of_bounds") == 1
        assert _get(values, "airssys_audit_decisions_total", component="ingest",
                    kind="messaging.send", decision="allow") == 16
        assert _get(values, "airssys_handle_seconds_count", component="sink") == 15
        assert _get(values, "airssys_components", host="sensors") == 4
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    while not lines.empty():
        output.append(lines.get())
    assert proc.returncode == 0, "".join(output)
    assert "stop requested: draining mailboxes" in "".join(output)


def test_a_bad_metrics_address_is_a_usage_error() -> None:
    for bad in ("nonsense", "127.0.0.1:", ":9464", "127.0.0.1:70000", "127.0.0.1:-1"):
        result = invoke("run", PIPELINE, "--metrics", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert "expected HOST:PORT" in result.output


def test_a_port_in_use_is_reported_without_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("run", PIPELINE, "--metrics", f"127.0.0.1:{port}", "--duration", "0.1")
    assert result.exit_code == 1, result.output
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.output


def test_the_metrics_example_runs() -> None:
    found = run_example("metrics")
    assert found["airssys_messages_out_total{component=sink}"] == 20
    assert found["airssys_traps_total{component=crasher,kind=unreachable}"] == 1
    assert found["airssys_guest_errors_total{component=crasher}"] == 1
    assert found["airssys_audit_decisions_total{component=stage,decision=allow,"
                 "kind=messaging.send}"] == 20
    # the refused message was handled (timed) even when the trap ended its batch
    assert found["airssys_handle_seconds_count{component=crasher}"] == \
        found["airssys_messages_out_total{component=crasher}"] == 1


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_an_ipv6_address_in_brackets() -> None:
    result = invoke("run", PIPELINE, "--metrics", "[::1]:0", "--duration", "0.1")
    if _ipv6_loopback():
        assert result.exit_code == 0, result.output
        assert re.search(r"metrics: http://\[::1\]:\d+/metrics", result.output), result.output
    else:  # this machine has no IPv6 loopback: the bind fails with the usual message
        assert result.exit_code == 1 and "cannot serve metrics on ::1:0" in result.output
