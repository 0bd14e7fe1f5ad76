"""Progress of the CLI's long steps (componentize, precompile, a first compile).

On a terminal a rich spinner with the elapsed time; otherwise (a pipe, a log file, ``CI=true``)
two plain lines, "step..." and "step: done in N s", because a spinner's carriage returns turn
a CI log into noise while a silent 30-second step looks like a hang.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

__all__ = ["BIG_SOURCE_BYTES", "first_compile", "interactive", "step"]

#: Sources at least this big get a progress line for their first (uncached) compile.
BIG_SOURCE_BYTES = 2 << 20


def interactive(console: Any) -> bool:
    """True when a spinner is wanted: a terminal, and not CI."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return bool(console.is_terminal) and not ci


@contextmanager
def step(console: Any, text: str) -> Iterator[None]:
    """Show ``text`` while the block runs (spinner or plain lines), then how long it took."""
    start = time.monotonic()
    if interactive(console):
        with console.status(f"{text}...", spinner="dots"):
            yield
        console.print(f"{text}: done in {time.monotonic() - start:.1f} s", highlight=False)
        return
    console.print(f"{text}...", highlight=False, soft_wrap=True)
    yield
    console.print(f"{text}: done in {time.monotonic() - start:.1f} s", highlight=False, soft_wrap=True)


def first_compile(console: Any, source: Path) -> AbstractContextManager[None]:
    """A progress step around loading ``source`` when that may take seconds: a big file (a
    componentize-py guest is ~18 MB, ~13 s of CPU to compile; a cached load takes a fraction
    of a second, and the line then says so)."""
    try:
        size = source.stat().st_size
    except OSError:
        return nullcontext()  # the load itself reports the unreadable path
    if size < BIG_SOURCE_BYTES:
        return nullcontext()
    return step(console, f"loading {source.name} ({size / 1e6:.1f} MB: the first load compiles it)")
