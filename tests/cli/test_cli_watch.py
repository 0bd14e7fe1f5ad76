"""`airssys-wasm run SYSTEM.toml --watch`: a changed source file is hot-upgraded in place."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from rich.console import Console

from airssys_wasm import Host
from airssys_wasm.actor import Event, UpgradeEvent
from airssys_wasm.cli.monitor import Monitor
from airssys_wasm.cli.system import Watcher, load_system

from airssys_wasm.benchmarks import guests

PINGPONG = guests.path("pingpong")


def _system(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "pp.wat"
    shutil.copy(PINGPONG, source)
    system = tmp_path / "system.toml"
    system.write_text('[host]\nhealth_interval = 0\n'
                      '[[component]]\nname = "pp"\nsource = "pp.wat"\n')
    return system, source


async def _until(predicate: object, seconds: float, what: str) -> None:
    """Bounded wait on a condition (a missing reload fails the test instead of hanging)."""
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} within {seconds} s")
        await asyncio.sleep(0.02)


async def test_watcher_upgrades_a_changed_file_and_survives_a_broken_one(tmp_path: Path) -> None:
    system, source = _system(tmp_path)
    spec = load_system(system)
    out = io.StringIO()
    async with Host(spec.host) as host:
        events: list[Event] = []
        host.add_listener(events.append)
        comp = spec.components[0]
        await host.spawn(comp.name, comp.source)
        for _ in range(3):
            await host.send("pp", b"\x55x")
        assert struct.unpack("<I", await host.request("pp", b"cnt?", 5.0))[0] == 3
        watcher = Watcher(host, spec, Monitor(host, Console(file=out), False), interval=0.05)
        task = asyncio.create_task(watcher.run())
        try:
            await asyncio.sleep(0.2)
            assert not [e for e in events if isinstance(e, UpgradeEvent)]  # nothing changed yet
            # A changed file (here only a comment: the same wasm, so the same digest) is enough.
            source.write_text(PINGPONG.read_text() + "\n;; v2\n")
            await _until(lambda: any(isinstance(e, UpgradeEvent) for e in events), 15,
                         "upgrade event")
            upgrade = next(e for e in events if isinstance(e, UpgradeEvent))
            assert upgrade.outcome == "upgraded" and upgrade.actor == "pp"
            # The new instance started from zero and the component keeps its name and mailbox.
            assert struct.unpack("<I", await host.request("pp", b"cnt?", 5.0))[0] == 0
            source.write_text("(component this is not wat")
            await _until(lambda: "reload of pp (pp.wat) failed" in out.getvalue(), 15,
                         "failure note")
            assert "LoadError" in out.getvalue()
            await host.send("pp", b"\x55x")
            assert struct.unpack("<I", await host.request("pp", b"cnt?", 5.0))[0] == 1
        finally:
            task.cancel()


def test_run_watch_reloads_a_changed_file(tmp_path: Path) -> None:
    system, source = _system(tmp_path)
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "airssys_wasm.cli", "run", str(system),
                             "--watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    lines: list[str] = []
    watching, reloaded = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "watching the component files" in line:
                watching.set()
            if "reloaded pp (pp.wat)" in line:
                reloaded.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert watching.wait(30), "".join(lines)
        time.sleep(0.2)
        source.write_text(PINGPONG.read_text() + "\n;; v2\n")
        assert reloaded.wait(30), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    assert proc.returncode == 0, "".join(lines)
