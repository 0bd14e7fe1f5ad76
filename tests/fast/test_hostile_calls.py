"""No crash on any input: the native modules' public callables with hostile arguments, and
their classes' methods on objects made without ``__init__`` (``hostile_calls.py``).

Found this way and fixed: ``configure_store(None)`` dereferenced an empty last-store cache,
and every method of a ``GuestCall.__new__(GuestCall)`` followed NULL fields. Both run in a
child process: a regression then fails these tests instead of killing the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = Path(__file__).with_name("hostile_calls.py")


def _child(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=600)


def test_every_native_callable_survives_hostile_arguments(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    done = _child(str(SCRIPT), str(log))
    last = log.read_text().splitlines()[-1:] if log.exists() else []
    assert done.returncode == 0, f"crashed ({done.returncode}) in {last}: {done.stderr[-800:]}"
    assert int(done.stdout.strip()) > 45_000  # the sweep really ran (50,015 calls today)


def test_the_two_crashes_it_found_are_typed_errors() -> None:
    done = _child("-c", textwrap.dedent("""
        from airssys_wasm._fast._wasmtime import GuestCall, configure_store
        try:
            configure_store(None)
        except TypeError as exc:
            print("configure_store:", exc)
        blank = GuestCall.__new__(GuestCall)
        print("blank:", blank.poll(), blank.finished, blank.waiting, blank.where, blank.cancel(),
              repr(blank))
        try:
            blank.finish()
        except TypeError as exc:
            print("finish:", exc)
        """))
    assert done.returncode == 0, f"crashed ({done.returncode}): {done.stderr[-800:]}"
    store, blank, finish = done.stdout.splitlines()
    assert store == "configure_store: store must be a wasmtime.Store, not NoneType"
    assert blank == "blank: True True None None False <GuestCall None failed>"
    assert finish.startswith("finish: this GuestCall never ran: GuestCall objects come from")
